import { recordFinishedStepRun, recordStepEnd, recordStepInput, recordStepOutput, recordStepStart, type ArtifactRecord, type StepEnd, type StepStart } from '../../infra/db/runs';
import { storeStepCache, type CacheStore } from '../../infra/db/step-cache';
import type { Db } from '../../infra/db/pool';

/** How a step run ends, as its step_runs row says. */
export type StepOutcome = Omit<StepEnd, 'runId' | 'node'>;

/**
 * What one step run writes to PostgreSQL as it goes: its step_runs row, the lineage edges of its
 * inputs and outputs, and its cache entry.
 */
export interface StepBook {
  start(): Promise<void>;
  input(uri: string): Promise<void>;
  output(ref: ArtifactRecord, relation?: 'produced' | 'reused'): Promise<void>;
  cache(entry: CacheStore): Promise<void>;
  end(outcome: StepOutcome): Promise<void>;
}

/**
 * A step of its own waits for each write: its row says `running` while it runs, so a run's
 * page and `closeRunningSteps` see it.
 */
export function liveBook(db: Db, row: StepStart): StepBook {
  return {
    start: () => recordStepStart(db, row),
    input: (uri) => recordStepInput(db, row.runId, row.node, uri),
    output: (ref, relation) => recordStepOutput(db, row.runId, row.node, ref, relation),
    cache: (entry) => storeStepCache(db, entry),
    end: (outcome) => recordStepEnd(db, { runId: row.runId, node: row.node, ...outcome }),
  };
}

/**
 * The items of a batch (StepCall.batch) write without waiting: each item's row is written once,
 * already ended, with its start time, and its edges and cache entry go with it. The writes of
 * items finishing one after another share statements (infra/db/batcher.ts), so a batch of 256
 * no-op items costs a few round trips, not three per item, and no item waits for the database
 * before the next starts. The batch waits for all of them (`settle`) before it answers or fails,
 * so whatever a batch reports finished is recorded, and a retried batch skips exactly those.
 * The cost: an item's row appears when it ends, not while it runs.
 */
export class DeferredBooks {
  private pending: Promise<unknown>[] = [];

  constructor(private readonly db: Db) {}

  /** The book of one item run; its writes start at once and are awaited by `settle`. */
  item(row: StepStart): StepBook {
    const startedAt = new Date();
    const later = (write: () => Promise<unknown>): Promise<void> => {
      const p = write();
      // Observed by settle; this keeps a failure from being an unhandled rejection meanwhile.
      p.catch(() => undefined);
      this.pending.push(p);
      return Promise.resolve();
    };
    return {
      start: () => Promise.resolve(),
      input: (uri) => later(() => recordStepInput(this.db, row.runId, row.node, uri)),
      output: (ref, relation) => later(() => recordStepOutput(this.db, row.runId, row.node, ref, relation)),
      cache: (entry) => later(() => storeStepCache(this.db, entry)),
      end: (outcome) => later(() => recordFinishedStepRun(this.db, { ...row, ...outcome, startedAt })),
    };
  }

  /** Waits for every write made so far; throws the first that failed (the batch is then retried and skips what was recorded). */
  async settle(): Promise<void> {
    const writes = this.pending;
    this.pending = [];
    const results = await Promise.allSettled(writes);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
