/**
 * Group commit for small statements: callers `add` one row each and await it; rows added while
 * the previous statement is in flight go together in the next one (one round trip, one commit).
 * A lone caller pays nothing extra (its statement starts at once, on the next turn of the event
 * loop); sixty-four steps of a fan-out finishing together on one worker cost one or two round
 * trips instead of sixty-four. The promise resolves once the row's statement has committed, so
 * what a caller awaited is as durable as a statement of its own.
 */
export class Batcher<T, R = void> {
  private queue: { item: T; resolve: (r: R) => void; reject: (e: unknown) => void }[] = [];
  private inFlight = 0;
  private scheduled = false;

  /**
   * `run` executes one statement for the rows and returns each row's result in order.
   * `key`: rows with the same key in one batch are written once (the last one), as upserts on a
   * natural key must be (ON CONFLICT cannot touch a row twice in one statement).
   */
  constructor(
    private readonly run: (items: T[]) => Promise<R[]>,
    private readonly opts: { maxBatch?: number; maxInFlight?: number; key?: (item: T) => string } = {},
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || !this.queue.length || this.inFlight >= (this.opts.maxInFlight ?? 2)) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (!this.queue.length || this.inFlight >= (this.opts.maxInFlight ?? 2)) return;
    const batch = this.queue.splice(0, this.opts.maxBatch ?? 500);
    this.inFlight++;
    try {
      const { key } = this.opts;
      let rows = batch.map((b) => b.item);
      let slot = rows.map((_, i) => i);
      if (key) {
        const last = new Map<string, number>();
        rows.forEach((r, i) => last.set(key(r), i));
        const kept = [...last.values()].sort((a, b) => a - b);
        const at = new Map(kept.map((i, k) => [i, k]));
        slot = rows.map((r) => at.get(last.get(key(r))!)!);
        rows = kept.map((i) => rows[i]!);
      }
      const results = await this.run(rows);
      batch.forEach((b, i) => b.resolve(results[slot[i]!]!));
    } catch (e) {
      for (const b of batch) b.reject(e);
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }
}

/** One batcher of each kind per pool (or client): created on first use. */
export function perConnection<D extends object, B>(make: (db: D) => B): (db: D) => B {
  const made = new WeakMap<D, B>();
  return (db) => {
    let b = made.get(db);
    if (!b) made.set(db, (b = make(db)));
    return b;
  };
}
