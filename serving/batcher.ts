/**
 * Dynamic micro-batching under a latency budget: requests for one model version are queued, and
 * a batch leaves when it holds `maxRows` rows or when its first request has waited `maxWaitMs`;
 * at most `maxInFlight` batches run at once (one per inference thread), so under load requests
 * pile up while the threads are busy and the next batch takes them all in one run. A request is
 * never split: one larger than maxRows runs as a batch of its own.
 */

export interface BatcherOptions {
  maxRows: number;
  maxWaitMs: number;
  maxInFlight: number;
  /** Called with each batch's size (metrics). */
  onBatch?: (rows: number) => void;
}

interface Item<R, O> {
  rows: R[];
  resolve: (out: O[]) => void;
  reject: (e: Error) => void;
}

export class MicroBatcher<R, O> {
  private queue: Item<R, O>[] = [];
  private queuedRows = 0;
  private inFlight = 0;
  /** The pending departure of the batch being formed (a timer, or an immediate when there is no wait). */
  private timer: { cancel(): void } | undefined;
  private due = false;

  constructor(
    private readonly runBatch: (rows: R[]) => Promise<O[]>,
    private readonly opts: BatcherOptions,
  ) {}

  submit(rows: R[]): Promise<O[]> {
    return new Promise<O[]>((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      this.queuedRows += rows.length;
      if (this.queuedRows >= this.opts.maxRows) {
        this.due = true;
        this.pump();
      } else if (!this.timer && !this.due) {
        const leave = () => {
          this.timer = undefined;
          this.due = true;
          this.pump();
        };
        // No wait: the batch takes what arrived in this turn of the event loop (requests read from
        // the sockets together) and leaves right after it. Not setTimeout(0), which node makes 1 ms.
        if (this.opts.maxWaitMs > 0) {
          const t = setTimeout(leave, this.opts.maxWaitMs);
          this.timer = { cancel: () => clearTimeout(t) };
        } else {
          const i = setImmediate(leave);
          this.timer = { cancel: () => clearImmediate(i) };
        }
      }
    });
  }

  /** Requests waiting for a batch. */
  get waiting(): number {
    return this.queue.length;
  }

  private pump(): void {
    while (this.due && this.queue.length && this.inFlight < this.opts.maxInFlight) {
      const batch = this.take();
      this.inFlight++;
      void this.execute(batch).finally(() => {
        this.inFlight--;
        // What queued while this batch ran is due already: its requests have waited long enough.
        if (this.queue.length) this.due = true;
        this.pump();
      });
    }
    if (!this.queue.length) {
      this.due = false;
      this.cancelTimer();
    }
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private take(): Item<R, O>[] {
    const batch: Item<R, O>[] = [];
    let rows = 0;
    while (this.queue.length) {
      const next = this.queue[0]!;
      if (batch.length && rows + next.rows.length > this.opts.maxRows) break;
      batch.push(this.queue.shift()!);
      rows += next.rows.length;
    }
    this.queuedRows -= rows;
    return batch;
  }

  private async execute(batch: Item<R, O>[]): Promise<void> {
    const rows = batch.flatMap((b) => b.rows);
    this.opts.onBatch?.(rows.length);
    try {
      const out = await this.runBatch(rows);
      let at = 0;
      for (const b of batch) {
        b.resolve(out.slice(at, at + b.rows.length));
        at += b.rows.length;
      }
    } catch (e) {
      for (const b of batch) b.reject(e as Error);
    }
  }
}
