import { ActivityFailure, ApplicationFailure, CancellationScope, patched, sleep, TimeoutFailure } from '@temporalio/workflow';
import { BatchSizer } from '../../pipelines/dsl/item-batches';
import type { MapShardTask } from '../../pipelines/dsl/fan-out';
import type { BatchItemFailure } from '../../pipelines/dsl/protocol';
import type { NodeStep } from '../../pipelines/dsl/spec';
import { durationMs } from '../../pipelines/vocab/duration';
import { callStep } from './call-step';

/** Runs recorded before item batches ran one activity per item; a replay of one keeps doing so. */
export const MAP_BATCHES_PATCH = 'sluice-map-batches';
/** Runs recorded before batches stopped splitting below BATCH_SPLIT_FLOOR_MS split to the lanes' fair share. */
export const BATCH_SPLIT_FLOOR_PATCH = 'sluice-batch-split-floor';

/**
 * Fan-out items to run: the shard task's node, step, run, binding and list (MapShardTask), which
 * of its items, how many batches at once, and what the answers bring back.
 */
export type ItemLanes = Pick<MapShardTask, 'node' | 'step' | 'run' | 'inputs' | 'items' | 'itemsPerTask'> & {
  /** Indexes in the run's list to run, ascending. */
  indices: number[];
  /** Batches (and so items) in flight at once. */
  lanes: number;
  /** Whether to bring the outputs back (the run's own execution keeps a small fan-in in history). */
  outputs: boolean;
  /** The items were just probed and missed (ItemBatch.probed): the batches need not ask the cache again. */
  probed?: boolean;
};

export interface ItemLanesResult {
  cached: number;
  /** The outputs in `indices` order, when asked for and every batch brought them (else read them from step_runs). */
  outputs?: unknown[];
}

/** An item that failed: its index in the run's list, and the failure (its batch's, carrying the item's). */
export interface ItemFailed {
  index: number;
  error: unknown;
}

/**
 * Runs fan-out items in batches (StepCall.batch), `lanes` batches at once; the first failure
 * cancels the batches in flight and is thrown as an ItemFailed. `done(n)` reports finished items.
 */
export async function runItemLanes(task: ItemLanes, done?: (items: number, cached: number) => void): Promise<ItemLanesResult> {
  const { indices } = task;
  const lanes = Math.max(1, Math.min(task.lanes, indices.length));
  // Asked only where the size adapts, and before the first batch: a replay decides as the run did.
  const sizer = new BatchSizer(task.itemsPerTask, lanes, task.itemsPerTask === undefined && patched(BATCH_SPLIT_FLOOR_PATCH));
  const outputs: unknown[] | undefined = task.outputs ? new Array(indices.length) : undefined;
  const position = new Map(indices.map((v, k) => [v, k]));
  // Failed tries per item (BatchAnswer.retry): an item has its own attempts, as a lone one would.
  const tries = new Map<number, number>();
  const retry = task.step.options.retry;
  let complete = task.outputs;
  let next = 0;
  let cached = 0;
  let failure: ItemFailed | undefined;
  const scope = new CancellationScope();
  const lane = async () => {
    // What this lane's last batch left after a retryable item failure: run again, in order, first.
    let carry: number[] = [];
    while (failure === undefined && (carry.length || next < indices.length)) {
      let batch = carry;
      if (!carry.length) {
        batch = indices.slice(next, next + sizer.next(indices.length - next));
        next += batch.length;
      }
      carry = [];
      const first = batch[0]!;
      const last = batch[batch.length - 1]!;
      const where = batch.length === 1 ? `${task.node}[${first}]` : `${task.node}[${first}..${last}]`;
      const attempts = Object.fromEntries(batch.filter((i) => tries.has(i)).map((i) => [String(i), tries.get(i)! + 1]));
      try {
        const r = await callStep(task.step, null, {
          info: { ...task.run.info, node: where },
          queues: task.run.queues,
          cache: task.run.cache,
          summary: `${where}${batch.length > 1 ? ` · ${batch.length} items` : ''} · ${task.step.name}@${task.step.version} (${task.step.queue})`,
          batch: {
            node: task.node,
            inputs: task.inputs,
            items: task.items,
            indices: batch,
            outputs: task.outputs,
            ...(task.probed ? { probed: true } : {}),
            ...(Object.keys(attempts).length ? { attempts } : {}),
          },
        });
        const answer = r.batch!;
        const finished = answer.finished ?? batch.length;
        sizer.observe(Math.max(1, finished), answer.ms);
        cached += answer.cached;
        if (outputs && answer.outputs) answer.outputs.forEach((o, k) => (outputs[position.get(batch[k]!)!] = o));
        else complete = false;
        done?.(finished, answer.cached);
        if (answer.retry) {
          const { index, type, message } = answer.retry;
          const failed = (tries.get(index) ?? 0) + 1;
          tries.set(index, failed);
          if (retry.maximumAttempts && failed >= retry.maximumAttempts) {
            throw ApplicationFailure.create({ type, message: `${message} (attempt ${failed} of ${retry.maximumAttempts})`, nonRetryable: true, details: [{ batchItem: index } satisfies BatchItemFailure] });
          }
          await sleep(backoffMs(retry, failed));
          carry = batch.slice(finished);
        }
      } catch (error) {
        if (failure === undefined) {
          failure = { index: failedItem(error) ?? first, error };
          scope.cancel();
        }
        return;
      }
    }
  };
  await scope.run(() => Promise.all(Array.from({ length: lanes }, lane)));
  if (failure) throw failure;
  return { cached, ...(complete && outputs ? { outputs } : {}) };
}

/** The wait before an item's next attempt, as Temporal's retry policy would have it. */
function backoffMs(retry: NodeStep['options']['retry'], failed: number): number {
  const initial = durationMs(retry.initialInterval ?? '1s');
  const max = retry.maximumInterval ? durationMs(retry.maximumInterval) : initial * 100;
  return Math.min(max, initial * (retry.backoffCoefficient ?? 2) ** (failed - 1));
}

export function isItemFailed(e: unknown): e is ItemFailed {
  return typeof e === 'object' && e !== null && 'index' in e && 'error' in e && !(e instanceof Error);
}

/**
 * The item a batch's failure names: its BatchItemFailure detail, or for a timeout the item its
 * last heartbeat said was running; undefined for a cancellation of the whole batch.
 */
function failedItem(e: unknown): number | undefined {
  const cause = e instanceof ActivityFailure ? e.cause : e;
  const d = (cause instanceof ApplicationFailure ? cause.details?.[0] : cause instanceof TimeoutFailure ? cause.lastHeartbeatDetails : undefined) as Partial<BatchItemFailure> | undefined;
  return typeof d?.batchItem === 'number' ? d.batchItem : undefined;
}
