import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  isCancellation,
  patched,
  proxyActivities,
  startChild,
} from '@temporalio/workflow';
import { CLAIM, concatClaims, jsonSize, type ClaimCheck } from '../../pipelines/dsl/claim';
import type { FanInActivities } from '../../pipelines/dsl/engine-activities';
import { MAP_SHARD_WORKFLOW, shardItem, type MapShardResult, type MapShardTask } from '../../pipelines/dsl/fan-out';
import { resolveBinding } from './bindings';
import { callStep } from './call-step';
import { isItemFailed, MAP_BATCHES_PATCH, runItemLanes, type ItemLanes } from './item-lanes';

/**
 * Sharded fan-outs. A fanning execution (the pipeline run, or a shard over a range too wide to run
 * itself) splits its range into at most `shardSize` child workflows, `shardWindow` of them in
 * flight at once; a leaf shard runs at most `shardSize` items as activities. Every execution's
 * history is thus bounded by shardSize (children or items), whatever the width: shardSize items
 * per leaf, shardSize² items under one fanning execution, shardSize³ with one more level.
 *
 * Results never come back through history: a leaf stores its items' outputs as one JSON list
 * (collectFanIn) and returns the claim; a fanning execution returns the concatenation of its
 * children's claims (a list of parts, not of results).
 */

/** How a fanning execution reports progress to its `state` (the pipeline run's node). */
export interface ShardProgress {
  started(items: number): void;
  finished(items: number, cached: number): void;
  /** A shard that failed or was cancelled: its items are no longer running. */
  stopped(items: number): void;
}

export async function runMapShard(task: MapShardTask): Promise<MapShardResult> {
  return task.to - task.from <= task.limits.shardSize ? runLeaf(task) : runShards(task);
}

/** Runs `[from, to)` as child workflows, a window at a time; the first failure cancels the rest. */
export async function runShards(task: MapShardTask, progress?: ShardProgress): Promise<MapShardResult> {
  const { from, to, limits } = task;
  const size = to - from;
  const span = shardSpan(size, limits.shardSize);
  const ranges: [number, number][] = [];
  for (let a = from; a < to; a += span) ranges.push([a, Math.min(a + span, to)]);
  const window = Math.min(limits.shardWindow, ranges.length);
  // The node's parallelism is shared by the shards in flight.
  const parallelism = Math.max(1, Math.floor(task.parallelism / window));

  const results: MapShardResult[] = new Array(ranges.length);
  // Leaf ranges are probed from here (a few activities more in this history, no child for a
  // fully cached range), unless there are so many that this history would pass its bound.
  const probeHere = ranges.length <= PARENT_PROBES_MAX && cacheOn(task) && patched(SHARD_PROBES_PATCH);
  let next = 0;
  let failure: unknown;
  const scope = new CancellationScope();
  const lane = async () => {
    while (failure === undefined && next < ranges.length) {
      const k = next++;
      const [a, b] = ranges[k]!;
      const sub: MapShardTask = { ...task, from: a, to: b, parallelism, items: sliceItems(task.items, a, b) };
      progress?.started(b - a);
      try {
        if (probeHere && b - a <= limits.shardSize) {
          // The leaf's cache probe, made here: a range whose every item hits needs no child at all.
          const probe = await probeRange(sub, { collect: true });
          if (probe.results) {
            results[k] = { results: probe.results, cached: b - a };
            progress?.finished(b - a, b - a);
            continue;
          }
          sub.probed = probe.hits;
        }
        const child = await startChild<(t: MapShardTask) => Promise<MapShardResult>>(MAP_SHARD_WORKFLOW, {
          workflowId: `${task.run.info.workflowId}/${task.node}/${a}-${b}`,
          args: [sub],
          staticSummary: `${task.node}[${a}..${b - 1}] · ${task.step.name}@${task.step.version}`,
        });
        results[k] = await child.result();
        progress?.finished(b - a, results[k]!.cached);
      } catch (e) {
        progress?.stopped(b - a);
        if (failure === undefined) {
          failure = e;
          scope.cancel();
        }
        return;
      }
    }
  };
  await scope.run(() => Promise.all(Array.from({ length: window }, lane)));
  if (failure !== undefined) throw itemFailure(failure);
  const lists = results.map((r) => r.results);
  const cached = results.reduce((n, r) => n + r.cached, 0);
  // A few shards' parts ride in history as they are; more go into an index (one part), so the
  // next step's input stays a few hundred bytes at any width.
  if (lists.length <= INLINE_PARTS && !lists.some((l) => l[CLAIM].index)) return { results: concatClaims(lists), cached };
  return { results: await fanInActivities(task).indexFanIn({ lists }), cached };
}

/** The smallest span (shardSize × shardSize^k) that cuts `size` items into at most shardSize children. */
export function shardSpan(size: number, shardSize: number): number {
  let span = shardSize;
  while (Math.ceil(size / span) > shardSize) span *= shardSize;
  return span;
}

/** Runs items `[from, to)` as activities, `parallelism` at a time, and stores their outputs as one list. */
async function runLeaf(task: MapShardTask): Promise<MapShardResult> {
  const { node, step, run, from, to } = task;
  // One activity asks the cache about every item of the shard (a rerun: all of them hit) and
  // records the hits; only the misses are scheduled.
  let hits = new Set<number>(task.probed ?? []);
  if (!task.probed && cacheOn(task)) hits = new Set((await probeRange(task, {})).hits);
  const misses = Array.from({ length: to - from }, (_, k) => from + k).filter((i) => !hits.has(i));
  let cached = hits.size;
  if (patched(MAP_BATCHES_PATCH)) {
    const r = await runMisses(task, misses, { outputs: false, probed: cacheOn(task) });
    cached += r.cached;
    return { results: await fanInActivities(task).collectFanIn({ runId: run.info.runId, node, from, to }), cached };
  }
  // Runs recorded before batches: one activity per item.
  let next = 0;
  let failure: { index: number; error: unknown } | undefined;
  const scope = new CancellationScope();
  const lane = async () => {
    while (failure === undefined && next < misses.length) {
      const i = misses[next++]!;
      try {
        const input = resolveBinding(task.inputs, { params: {}, outputs: new Map(), item: { node, value: shardItem(task.items, i) } });
        const r = await callStep(step, input, { info: { ...run.info, node: `${node}[${i}]` }, queues: run.queues, cache: run.cache });
        if (r.cached) cached++;
      } catch (error) {
        if (failure === undefined) {
          failure = { index: i, error };
          scope.cancel();
        }
        return;
      }
    }
  };
  await scope.run(() => Promise.all(Array.from({ length: Math.min(task.parallelism, misses.length) }, lane)));
  if (failure) throw itemFailed(node, failure.index, failure.error);
  return { results: await fanInActivities(task).collectFanIn({ runId: run.info.runId, node, from, to }), cached };
}

/** Runs recorded before parent probes had each leaf probe its own items. */
export const SHARD_PROBES_PATCH = 'sluice-shard-probes';
/**
 * The most leaf ranges a fanning execution probes itself: each adds an activity (~6 events) to its
 * history beside the child's ~9, so 400 keep it near 6,000; wider fan-outs leave it to the leaves.
 */
export const PARENT_PROBES_MAX = 400;

function cacheOn(task: MapShardTask): boolean {
  return task.run.cache.enabled && !task.run.cache.force && task.step.options.cache.enabled;
}

/** One activity asks the cache about every item of a range and records the hits (StepCall.probe). */
async function probeRange(task: MapShardTask, answer: { collect?: boolean; inline?: boolean }): Promise<{ hits: number[]; results?: ClaimCheck; outputs?: unknown[] }> {
  const { node, step, run, from, to } = task;
  const r = await callStep(step, null, {
    info: { ...run.info, node: `${node}[${from}..${to - 1}]` },
    queues: run.queues,
    cache: run.cache,
    summary: `${node}[${from}..${to - 1}] · cache probe · ${step.name}@${step.version}`,
    probe: { node, inputs: task.inputs, items: task.items, from, to, ...answer },
  });
  return { hits: r.probe?.hits ?? [], ...(r.probe?.results ? { results: r.probe.results } : {}), ...(r.probe?.outputs ? { outputs: r.probe.outputs } : {}) };
}

/** Runs recorded before the run's own fan-outs probed the cache first ran every item through a batch. */
export const INLINE_PROBES_PATCH = 'sluice-inline-probes';

/**
 * A fan-out within the shard size, run by the pipeline's own execution: one probe of every item
 * first (a rerun is answered by it alone), then the misses in batches. The results come back in
 * history when they fit the claim threshold, else by reference (collectFanIn).
 */
export async function runInline(task: MapShardTask, done: (items: number) => void): Promise<{ results: unknown[] | ClaimCheck; cached: number }> {
  const { node, from, to } = task;
  const results: unknown[] = new Array(to - from);
  let complete = true;
  let cached = 0;
  let misses = Array.from({ length: to - from }, (_, k) => from + k);
  const probed = cacheOn(task) && to > from && patched(INLINE_PROBES_PATCH);
  if (probed) {
    const p = await probeRange(task, { collect: true, inline: true });
    if (p.results) return { results: p.results, cached: to - from };
    if (p.outputs) p.hits.forEach((i, k) => (results[i - from] = p.outputs![k]));
    else if (p.hits.length) complete = false;
    cached = p.hits.length;
    const hit = new Set(p.hits);
    misses = misses.filter((i) => !hit.has(i));
    if (cached) done(cached);
  }
  const r = await runMisses(task, misses, { outputs: true, probed }, done);
  cached += r.cached;
  if (r.outputs) r.outputs.forEach((o, k) => (results[misses[k]! - from] = o));
  else complete = false;
  // Outputs too large for one answer, or for history together, are read back by reference.
  if (!complete || jsonSize(results) > task.limits.claimThreshold) return { results: await fanInActivities(task).collectFanIn({ runId: task.run.info.runId, node, from, to }), cached };
  return { results, cached };
}

/** The items a probe missed (or all), in batches; an item's failure becomes the node's, naming the item. */
function runMisses(task: MapShardTask, indices: number[], how: Pick<ItemLanes, 'outputs' | 'probed'>, done?: (items: number) => void) {
  const { node, step, run, inputs, items, itemsPerTask } = task;
  const lanes: ItemLanes = { node, step, run, inputs, items, ...(itemsPerTask === undefined ? {} : { itemsPerTask }), indices, lanes: task.parallelism, ...how };
  return runItemLanes(lanes, done).catch((e: unknown) => {
    throw isItemFailed(e) ? itemFailed(task.node, e.index, e.error) : e;
  });
}

/** Shards whose fan-ins a fanning execution concatenates in history; beyond, it stores an index. */
const INLINE_PARTS = 4;

function fanInActivities(task: MapShardTask): FanInActivities {
  return proxyActivities<FanInActivities>({ taskQueue: task.run.queues.cpu, startToCloseTimeout: '5m', retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 10 } });
}

function sliceItems(items: MapShardTask['items'], a: number, b: number): MapShardTask['items'] {
  return 'claim' in items ? items : { inline: items.inline.slice(a - items.offset, b - items.offset), offset: a };
}

/** An item's failure as the node's: its index and cause (a cancellation stays one). */
export function itemFailed(node: string, index: number, error: unknown): unknown {
  if (isCancellation(error)) return error;
  return ApplicationFailure.create({
    type: 'StepFailed',
    message: `item ${index} failed: ${describeFailure(error)}`,
    nonRetryable: true,
    details: [{ node, index }],
    cause: error instanceof Error ? error : undefined,
  });
}

/** A shard's failure as the item failure it carries (a child's failure wraps its cause). */
function itemFailure(e: unknown): unknown {
  if (isCancellation(e)) return e;
  let f: unknown = e;
  while (f instanceof ChildWorkflowFailure && f.cause) f = f.cause;
  if (f instanceof ApplicationFailure) return ApplicationFailure.create({ type: f.type ?? 'StepFailed', message: f.message, nonRetryable: true, details: f.details ?? [], cause: f });
  return e;
}

/** A failure's message, through the activity or child workflow that wraps it. */
export function describeFailure(e: unknown): string {
  let f: unknown = e;
  while ((f instanceof ActivityFailure || f instanceof ChildWorkflowFailure) && f.cause) f = f.cause;
  return f instanceof Error ? f.message : String(f);
}
