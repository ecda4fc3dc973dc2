/**
 * How many fan-out items go into one activity. Every activity costs a few history events and a
 * round trip through the Temporal server (scheduled, dispatched, started, completed, plus a
 * workflow task), about 100 ms on a busy machine; an item that takes a few milliseconds would
 * spend almost all its time on that. So the engine runs items in batches: one item per activity
 * until it has measured some, then as many as take about BATCH_TARGET_MS, never more than the
 * items left divided among the lanes (every lane keeps working to the end) unless that share would
 * take less than BATCH_SPLIT_FLOOR_MS. Long items stay one
 * per activity, each with its own retries, timeouts and line in the Temporal UI.
 *
 * The sizes depend only on the durations the batches reported, which are in history, so a replay
 * makes the same batches.
 */

/** The most items one activity runs (a `b.map`'s `itemsPerTask` and the adaptive size alike). */
export const MAX_ITEMS_PER_TASK = 256;
/** Work per batch the adaptive size aims at. */
export const BATCH_TARGET_MS = 1_000;
/**
 * Work below which a batch is not split further to keep every lane busy: a batch of less than
 * this costs more in its round trip through the server than its lanes save. Without it, a leaf
 * of 1,000 no-op items over 64 lanes ran ~70 batches of 15 items, each a full round trip.
 */
export const BATCH_SPLIT_FLOOR_MS = 250;

export class BatchSizer {
  private items = 0;
  private ms = 0;

  /**
   * `fixed`: the node's itemsPerTask, if it set one; `lanes`: batches in flight at once;
   * `splitFloor`: whether the fair share stops at BATCH_SPLIT_FLOOR_MS of work (runs recorded
   * before it split down to the fair share alone).
   */
  constructor(
    private readonly fixed: number | undefined,
    private readonly lanes: number,
    private readonly splitFloor = true,
  ) {}

  /** A finished batch: `items` ran (cache hits included) in `ms`. */
  observe(items: number, ms: number): void {
    this.items += items;
    this.ms += ms;
  }

  /** The size of the next batch, with `remaining` items not yet given out. */
  next(remaining: number): number {
    if (remaining <= 0) return 0;
    if (this.fixed !== undefined) return Math.min(this.fixed, remaining);
    if (this.items === 0) return 1;
    // A floor on the per-item time: a batch of cache hits measures next to nothing.
    const perItem = Math.max(this.ms / this.items, 0.25);
    const share = Math.ceil(remaining / this.lanes);
    const fair = this.splitFloor ? Math.max(share, Math.floor(BATCH_SPLIT_FLOOR_MS / perItem)) : share;
    return Math.max(1, Math.min(MAX_ITEMS_PER_TASK, Math.floor(BATCH_TARGET_MS / perItem), fair, remaining));
  }
}
