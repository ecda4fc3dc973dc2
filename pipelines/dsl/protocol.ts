import type { FailureType } from '../failures';
import type { Queue } from '../vocab/queue';
import type { ClaimCheck } from './claim';
import type { BindingExpr, PipelineSpec } from './spec';

/**
 * What the engine workflow and the workers exchange. Plain JSON, small: references to artifacts,
 * never their bytes.
 */

export interface RunInfo {
  runId: string;
  workflowId: string;
  pipeline: string;
  pipelineVersion: string;
  /** Node id; items of a fan-out are "node[i]". */
  node: string;
}

export interface StepCall {
  run: RunInfo;
  input: unknown;
  cache: { enabled: boolean; key: 'code' | 'version'; force: boolean };
  /** Declared step version in the spec: a worker with another version refuses the call. */
  stepVersion: string;
  /**
   * Hashes of the step's input and output JSON Schemas in the run's spec (its steps table): a
   * worker whose implementation's schemas hash otherwise refuses the call, naming the fields that
   * changed. Only hashes travel with each call (a fan-out makes many); the worker asks the run for
   * the schemas themselves when they differ. Absent in calls of runs started before the steps table.
   */
  inputSchemaHash?: string;
  outputSchemaHash?: string;
  /**
   * Set on a shard's cache probe (workflows/engine/fan-out.ts): instead of running the step, the
   * worker builds the input of items `[from, to)` of fan-out `node`, looks all their cache keys up
   * at once, records every hit as a `cached` step run `node[i]`, and answers which items hit
   * (StepResult.probe). `input` is unused. The shard then runs only the misses.
   */
  probe?: CacheProbe;
  /**
   * Set on a batch of fan-out items (workflows/engine/item-lanes.ts): instead of one item, the
   * worker runs the step once per listed item, in order, each as its own step run `node[i]`
   * (own cache key, own step_runs row and lineage), and answers with StepResult.batch. `input`
   * is unused. An item's failure fails the batch with the item's failure and its index
   * (BatchItemFailure); a retried batch skips the items an earlier try finished.
   */
  batch?: ItemBatch;
}

/** Items of a fan-out, run in one activity: the node's input binding (item refs only left), the list, and which items. */
export interface ItemBatch {
  node: string;
  inputs: BindingExpr;
  items: CacheProbe['items'];
  /** Indexes in the run's list, ascending. */
  indices: number[];
  /** Whether the answer carries the items' outputs (a fan-out the run's own execution runs; a shard reads them from step_runs). */
  outputs: boolean;
  /**
   * The items were asked about by a cache probe moments ago and missed: each runs without a
   * look-up of its own (one round trip per item saved), and still stores its output in the cache.
   */
  probed?: boolean;
  /** Items that failed before, by index: the attempt this is for each (1 for the others). */
  attempts?: Record<string, number>;
}

/** The first detail of a batch's failure: which of its items failed (the rest of the details are the item's own). */
export interface BatchItemFailure {
  batchItem: number;
}

/** The items of a shard, as a probe reads them: the node's input binding (item refs only left) and the list. */
export interface CacheProbe {
  node: string;
  inputs: BindingExpr;
  items: { inline: unknown[]; offset: number } | { claim: ClaimCheck };
  from: number;
  to: number;
  /**
   * When every item hits, also store the range's fan-in (the list of their outputs, as
   * collectFanIn would) and answer its claim, so a fully cached shard needs no child workflow.
   */
  collect?: boolean;
  /**
   * Answer the hits' outputs themselves (StepResult.probe.outputs) when their JSON is within the
   * claim threshold: a fan-out the run's own execution runs keeps a small fan-in in history.
   */
  inline?: boolean;
}

export interface StepResult {
  output: unknown;
  cached: boolean;
  cacheKey?: string;
  attempt: number;
  /** A probe's answer: the items (indexes in the run's list) answered from the cache, ascending. */
  probe?: { hits: number[]; results?: ClaimCheck; outputs?: unknown[] };
  /** A batch's answer (StepCall.batch). */
  batch?: BatchAnswer;
}

export interface BatchAnswer {
  /** Wall time of the batch in the worker, to size the next batches (the engine aims at about a second each). */
  ms: number;
  /** Items answered from the cache. */
  cached: number;
  /**
   * The items' outputs in `indices` order (each as a step's result carries it: large parts claimed),
   * when asked for and their JSON is within the claim threshold; absent otherwise (read them
   * from step_runs by a fan-in).
   */
  outputs?: unknown[];
  /**
   * An item failed in a way its step's retry policy retries: the batch stopped there and answers
   * what it finished (`finished` items, in order; `outputs` holds theirs), and the engine retries
   * the item (and the rest) with the item's own attempts and backoff, so one flaky item does not
   * spend the attempts of the others.
   */
  retry?: { index: number; type: string; message: string };
  /** Items finished, in order, before the one in `retry` (all of them without it). */
  finished?: number;
}

/** Run-level options callers may add to the params object under this key (the UI form takes one object). */
export const RUN_OPTIONS_KEY = '_sluice';
export interface RunOptions {
  /** Re-run every step (true) or the named nodes/steps instead of reusing cached outputs. */
  force?: boolean | string[];
  /** Turn caching off for this run. */
  cache?: boolean;
}

export type ResolveResult =
  | { ok: true; spec: PipelineSpec; params: Record<string, unknown>; options: RunOptions }
  | { ok: false; type: Extract<FailureType, 'UnknownPipeline' | 'InvalidParams'>; message: string; issues?: { path: string[]; message: string }[] };

/**
 * One word per state, for runs, nodes and step_runs rows alike: a finished step, node or run
 * `succeeded` (nodes said 'done' before; see `nodeStatusOf`).
 */
export const NODE_STATUSES = ['pending', 'running', 'cached', 'succeeded', 'failed', 'skipped'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];
/** What a step_runs row records (infra/db/runs.ts): every node status but `pending`. */
export type StepRunStatus = Exclude<NodeStatus, 'pending'>;
export type RunStatus = 'starting' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** The word node states of older workers used for `succeeded`. */
const LEGACY_NODE_STATUS: Record<string, NodeStatus> = { done: 'succeeded' };

/** A node status as a run's state query answers it, old words read as today's. */
export function nodeStatusOf(s: string): NodeStatus {
  return LEGACY_NODE_STATUS[s] ?? (s as NodeStatus);
}

/** A run state query's answer with today's words (a run on an older worker answers 'done'). */
export function readRunState(state: RunState): RunState {
  const nodes = Object.fromEntries(Object.entries(state.nodes).map(([id, n]) => [id, { ...n, status: nodeStatusOf(n.status) }]));
  return { ...state, nodes };
}

export interface NodeState {
  status: NodeStatus;
  step: string;
  queue: Queue;
  attempts?: number;
  startedAt?: number;
  endedAt?: number;
  output?: unknown;
  error?: string;
  /** Fan-out progress; `running`: items in shards in flight (sharded fan-outs, counted per shard). */
  items?: { total: number; done: number; running?: number };
  /** Set while an approval node waits for a person. */
  awaiting?: 'approval';
}

export interface RunState {
  pipeline: string;
  version: string;
  status: RunStatus;
  nodes: Record<string, NodeState>;
  /** Signals this run ignored because it has no handler for them (newest last, bounded). */
  rejected?: RejectedMessage[];
  /**
   * The execution answering, counting from 1, once the run has continued as new (a long pipeline
   * hands over to a fresh execution when its history reaches its budget; run-continuation.ts).
   */
  execution?: number;
}

/**
 * A signal a workflow ignored because its payload did not fit (or it had no such signal): kept in
 * the workflow's state for its status query instead of failing the workflow task.
 */
export interface RejectedMessage {
  /** The signal's name. */
  handler: string;
  /** Workflow time of the rejection (ISO). */
  at: string;
  reason: string;
}

/** What a run returns; `O` is the pipeline's output type where the caller knows the pipeline (see start.ts). */
export interface PipelineRunResult<O = Record<string, unknown>> {
  runId: string;
  pipeline: string;
  version: string;
  outputs: O;
}
