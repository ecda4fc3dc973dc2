import type { Db } from '../infra/db/pool';
import { copyPredictionLines, predictionLogLine, type OnlinePrediction } from '../infra/db/serving';
import type { Logger } from '../infra/log';

/**
 * The prediction log's writer: predictions are buffered and written with one COPY when
 * `flushRows` are waiting or every `flushMs`, never one round trip per request. One COPY at a
 * time; a failed one (database down) keeps its rows for the next try, up to `maxBuffered` rows,
 * beyond which the oldest are dropped and counted: the log must not take the server's memory
 * down with the database. A prediction is buffered as its COPY line, made when it is appended:
 * the work is spread over the requests instead of stalling the event loop at every flush, and the
 * buffer holds one string per row, not the objects the request built (less for GC to copy).
 */
export interface PredictionLogOptions {
  flushRows: number;
  flushMs: number;
  maxBuffered: number;
  /** Rows dropped because the buffer was full (metrics). */
  onDropped?: (rows: number) => void;
}

export const DEFAULT_LOG_OPTIONS: PredictionLogOptions = { flushRows: 1000, flushMs: 500, maxBuffered: 200_000 };

export class PredictionLog {
  private buffer: string[] = [];
  private writing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly opts: PredictionLogOptions = DEFAULT_LOG_OPTIONS,
  ) {
    this.timer = setInterval(() => void this.flush(), opts.flushMs);
    this.timer.unref();
  }

  append(p: OnlinePrediction): void {
    this.buffer.push(predictionLogLine(p));
    if (this.buffer.length > this.opts.maxBuffered) {
      const drop = this.buffer.length - this.opts.maxBuffered;
      this.buffer.splice(0, drop);
      this.opts.onDropped?.(drop);
    }
    if (this.buffer.length >= this.opts.flushRows && !this.writing) void this.flush();
  }

  /** Writes what is buffered (waits for a COPY in progress first). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (!this.buffer.length) return;
    const rows = this.buffer;
    this.buffer = [];
    this.writing = copyPredictionLines(this.db, rows)
      .catch((e: Error) => {
        this.log.warn('prediction log write failed; keeping the rows for the next try', { rows: rows.length, error: e.message });
        this.buffer = rows.concat(this.buffer);
        if (this.buffer.length > this.opts.maxBuffered) {
          const drop = this.buffer.length - this.opts.maxBuffered;
          this.buffer.splice(0, drop);
          this.opts.onDropped?.(drop);
        }
      })
      .finally(() => (this.writing = undefined));
    await this.writing;
  }

  /** Flushes and stops the timer (one last try; what still fails is logged as lost). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
    if (this.buffer.length) this.log.error('prediction log rows lost at shutdown', { rows: this.buffer.length });
  }
}
