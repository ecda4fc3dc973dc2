import type pg from 'pg';

/**
 * `COPY … TO STDOUT` for node-postgres without pg-copy-streams (not a dependency of Sluice): a
 * Submittable that hands each CopyData message's bytes to `onChunk` as they arrive. When
 * `onChunk` returns a promise (a full write buffer), the socket is paused until it resolves, so a
 * slow consumer holds the server back instead of buffering the table in memory.
 *
 * It relies on the client calling, on its active query, `handleCopyData(msg)` for CopyData,
 * `handleCommandComplete(msg)` for CommandComplete ("COPY n"), `handleReadyForQuery()` at the end
 * and `handleError(err)` on failure: the interface pg-copy-streams also builds on (pg 8).
 */

interface PgConnection {
  query(text: string): void;
  stream: { pause(): void; resume(): void };
}

export class CopyToStdout implements pg.Submittable {
  /** Rows copied, from the server's CommandComplete tag. */
  rowCount = 0;
  readonly done: Promise<number>;
  private resolveDone!: (rows: number) => void;
  private rejectDone!: (e: Error) => void;
  private failed: Error | undefined;
  private connection: PgConnection | undefined;
  private pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly text: string,
    private readonly onChunk: (chunk: Buffer) => void | Promise<void>,
  ) {
    this.done = new Promise<number>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Rejections are delivered through `done`; keep an unobserved one from crashing the process.
    this.done.catch(() => undefined);
  }

  submit(connection: unknown): void {
    this.connection = connection as PgConnection;
    this.connection.query(this.text);
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    if (this.failed) return;
    let r: void | Promise<void>;
    try {
      r = this.onChunk(msg.chunk);
    } catch (e) {
      this.failed = e as Error;
      return;
    }
    if (r && typeof (r as Promise<void>).then === 'function') {
      const stream = this.connection?.stream;
      stream?.pause();
      this.pending = (r as Promise<void>).then(
        () => stream?.resume(),
        (e: Error) => {
          this.failed ??= e;
          stream?.resume();
        },
      );
    }
  }

  handleCommandComplete(msg: { text?: string }): void {
    const m = /^COPY (\d+)/.exec(msg.text ?? '');
    if (m) this.rowCount = Number(m[1]);
  }

  handleReadyForQuery(): void {
    void this.pending.then(() => (this.failed ? this.rejectDone(this.failed) : this.resolveDone(this.rowCount)));
  }

  handleError(err: Error): void {
    this.failed ??= err;
    void this.pending.then(() => this.rejectDone(this.failed ?? err));
  }

  // A COPY produces none of these; they are here so an unexpected reply cannot crash the client.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: { sendCopyFail(msg: string): void }): void {
    connection.sendCopyFail('COPY FROM is not supported here');
  }
}
