import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { listItemOutputs } from '../../infra/db/runs';
import type { Db } from '../../infra/db/pool';
import { resolveBinding } from '../../pipelines/dsl/bindings';
import { jsonSize } from '../../pipelines/dsl/claim';
import { shardItem } from '../../pipelines/dsl/fan-out';
import type { BatchItemFailure, ItemBatch, StepCall, StepResult } from '../../pipelines/dsl/protocol';
import type { Pulse } from './keep-alive';

/** What a batch item heartbeats: its own details, tagged with the item, so only that item resumes from them. */
interface ItemHeartbeat {
  batchItem: number;
  details: unknown;
}

export interface ItemBatchRun {
  db: Db;
  /** Whether an earlier try of this batch may have finished some of its items (a retry). */
  retry: boolean;
  attempt: number;
  /** The batch's heartbeat details as this try started (an item's checkpoint, tagged). */
  heartbeat: unknown;
  pulse: Pulse;
  signal: AbortSignal;
  claimThreshold: number;
  /** Runs one item as a step run of its own (the runtime's single-item path), with the item's checkpoint, pulse and attempt. */
  runItem(call: StepCall, checkpoint: unknown, pulse: Pulse, attempt: number): Promise<StepResult>;
  /** Whether the step's retry policy retries this failure (its type is not in the non-retryable list). */
  retryable(f: ApplicationFailure): boolean;
  /** The item now running, so a failure the runtime records after giving up lands on its step run. */
  running(node: string): void;
  /** Whether a failure is an infrastructure fault, which the runtime retries as a whole and must see as it is. */
  infrastructure(e: unknown): boolean;
  /** Waits until every item run so far is recorded (items do not wait for their own writes: ./step-book.ts). */
  settle(): Promise<void>;
}

/**
 * Runs a batch of fan-out items (StepCall.batch) one after another, each exactly as a call of
 * its own would run (cache, step_runs row, lineage, output checks), except that an item does not
 * wait for its own bookkeeping writes: the batch waits for all of them before it answers. A retried batch skips the
 * items an earlier try finished: their step runs say so, and their recorded outputs are used.
 */
export async function runItemBatch(call: StepCall, batch: ItemBatch, r: ItemBatchRun): Promise<StepResult> {
  const started = Date.now();
  const finished = r.retry ? await finishedItems(r.db, call.run.runId, batch) : new Map<number, unknown>();
  const outputs: unknown[] = [];
  let cached = 0;
  for (const i of batch.indices) {
    if (finished.has(i)) {
      outputs.push(finished.get(i));
      continue;
    }
    if (r.signal.aborted) {
      await r.settle().catch(() => undefined);
      throw new CancelledFailure('batch cancelled');
    }
    const node = `${batch.node}[${i}]`;
    r.running(node);
    const input = resolveBinding(batch.inputs, { params: {}, outputs: new Map(), item: { node: batch.node, value: shardItem(batch.items, i) } });
    const hb = r.heartbeat as Partial<ItemHeartbeat> | undefined;
    const checkpoint = hb?.batchItem === i ? hb.details : undefined;
    const pulse: Pulse = { beat: (details) => r.pulse.beat({ batchItem: i, details } satisfies ItemHeartbeat), stop: () => undefined };
    // Say which item runs (keeping its own checkpoint, if it is resuming): a batch that times out names it.
    if (batch.indices.length > 1) pulse.beat(checkpoint);
    // An item's own attempt: the engine counts the batches it failed in; a retry of the whole batch (a lost worker) counts too.
    const attempt = Math.max(batch.attempts?.[String(i)] ?? 1, r.attempt);
    try {
      // A probed item missed the cache moments ago: no second look-up (force skips it, the store still happens).
      const cache = batch.probed ? { ...call.cache, force: true } : call.cache;
      const result = await r.runItem({ run: { ...call.run, node }, input, cache, stepVersion: call.stepVersion, ...hashes(call) }, checkpoint, pulse, attempt);
      if (result.cached) cached++;
      outputs.push(result.output);
    } catch (e) {
      // What finished before this is recorded first, so a retry of the batch skips it.
      if (r.infrastructure(e) || e instanceof CancelledFailure) {
        await r.settle().catch(() => undefined);
        throw e;
      }
      const f = batchItemFailure(i, e);
      await r.settle();
      // Retryable: stop here and answer what finished; the engine retries this item with its own attempts.
      if (!f.nonRetryable && r.retryable(f)) return answer(outputs, { index: i, type: f.type ?? 'Error', message: f.message });
      throw f;
    }
  }
  await r.settle();
  return answer(outputs);

  function answer(done: unknown[], retry?: { index: number; type: string; message: string }): StepResult {
    const keep = batch.outputs && jsonSize(done) <= r.claimThreshold;
    return {
      output: null,
      cached: !retry && cached === batch.indices.length,
      attempt: r.attempt,
      batch: { ms: Date.now() - started, cached, finished: done.length, ...(keep ? { outputs: done } : {}), ...(retry ? { retry } : {}) },
    };
  }
}

function hashes(call: StepCall): Pick<StepCall, 'inputSchemaHash' | 'outputSchemaHash'> {
  return call.inputSchemaHash ? { inputSchemaHash: call.inputSchemaHash, outputSchemaHash: call.outputSchemaHash } : {};
}

/** The batch's items an earlier try finished, with the outputs they recorded. */
async function finishedItems(db: Db, runId: string, batch: ItemBatch): Promise<Map<number, unknown>> {
  const wanted = new Set(batch.indices);
  const rows = await listItemOutputs(db, runId, batch.node, batch.indices[0]!, batch.indices[batch.indices.length - 1]! + 1);
  return new Map(rows.filter((row) => wanted.has(row.index)).map((row) => [row.index, row.outputs]));
}

/**
 * An item's failure as its batch's: the item's type, message and retryability (so the step's
 * retry policy and the failure table treat it as they would the item's own), the item first in
 * the details.
 */
function batchItemFailure(index: number, e: unknown): ApplicationFailure {
  const item =
    e instanceof ApplicationFailure
      ? e
      : ApplicationFailure.create({ type: e instanceof Error ? e.name : 'Error', message: e instanceof Error ? e.message : String(e), nonRetryable: false, cause: e instanceof Error ? e : undefined });
  const detail: BatchItemFailure = { batchItem: index };
  return ApplicationFailure.create({ type: item.type ?? 'Error', message: item.message, nonRetryable: item.nonRetryable === true, details: [detail, ...(item.details ?? [])], cause: item });
}
