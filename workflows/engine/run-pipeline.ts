import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { approvalRequest, type ApprovalRequest } from '../../pipelines/dsl/approval';
import { boundedRunState } from '../../pipelines/dsl/bounded-state';
import { approveUpdate, runStateQuery, runStepSpecQuery, stepSpecQueryArg } from '../../pipelines/dsl/messages';
import type { ApprovalDecision } from '../../pipelines/dsl/pipeline';
import type { NodeState, PipelineRunResult, ResolveResult, RunOptions, RunState, StepResult } from '../../pipelines/dsl/protocol';
import { nodeStep, type NodeSpec, type PipelineSpec } from '../../pipelines/dsl/spec';
import type { EngineLimits, EngineLocalActivities, FanInActivities, RunBookkeepingActivities, TaskQueues } from '../../pipelines/dsl/engine-activities';
import { isClaim, itemAt, jsonSize, listLength, type ClaimCheck } from '../../pipelines/dsl/claim';
import type { MapShardTask } from '../../pipelines/dsl/fan-out';
import { handOverState, type RunContinuation } from '../../pipelines/dsl/run-continuation';
import { paramsDigest, runCurrentDetails } from '../../pipelines/dsl/run-summary';
import { PipelineName, PipelineVersion, TemporalScheduledById, TemporalScheduledStartTime } from '../../pipelines/search-attributes';
import { onQuery, onUnknownSignal, onUpdate, withRejection } from '../shared/safe-handlers';
import { bindAllButItem, evaluateCondition, resolveBinding, type Scope } from './bindings';
import { describeFailure, itemFailed, runInline, runShards } from './fan-out';
import { callStep } from './call-step';
import { MAP_BATCHES_PATCH } from './item-lanes';
import { HistoryBudget, nodeEventCost } from './history-budget';

const local = proxyLocalActivities<EngineLocalActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 5 } });

/**
 * The engine: runs any PipelineSpec. The spec and the validated params come from a local
 * activity at start, so they are fixed in this run's history: a later change to the pipeline's
 * definition never changes what a running (or replayed) run does.
 *
 * A run whose history reaches its budget (a pipeline of thousands of nodes) continues as new:
 * `continued` is what the previous execution handed over (run-continuation.ts), and this
 * execution goes on from there under the run's first run id.
 */
export async function runPipeline(pipelineName: string, input: unknown, continued?: RunContinuation): Promise<PipelineRunResult> {
  const { workflowId } = workflowInfo();
  const runId = continued?.runId ?? workflowInfo().runId;
  const state: RunState = continued
    ? { ...continued.state, status: 'running', execution: continued.execution }
    : { pipeline: pipelineName, version: '', status: 'starting', nodes: {} };
  // The run's current details (what the Temporal UI shows on its page): refreshed as nodes change.
  // Digest of the params as given (as the client's static summary shows it), defaults not applied.
  const digest = paramsDigest(input);
  const show = () => setCurrentDetails(runCurrentDetails(state, digest, Date.now()));
  show();
  // Bounded: a run of thousands of nodes answers in under STATE_MAX_CHARS (bounded-state.ts).
  setHandler(runStateQuery, () => boundedRunState(state));
  // A pipeline run takes no signals: one sent to it is recorded as rejected rather than buffered.
  onUnknownSignal((r) => {
    state.rejected = withRejection(state.rejected, r);
    show();
  });
  const decisions = new Map<string, ApprovalRequest>();
  onUpdate(
    approveUpdate,
    approvalRequest,
    async (req) => {
      decisions.set(req.node, req);
      await condition(() => state.nodes[req.node]?.status !== 'running');
      return state.nodes[req.node]!.output as ApprovalDecision;
    },
    (req) => {
      const node = Object.hasOwn(state.nodes, req.node) ? state.nodes[req.node] : undefined;
      if (!node) throw new Error(`run has no node "${req.node}"`);
      if (node.awaiting !== 'approval') throw new Error(`node "${req.node}" is not waiting for approval (it is ${node.status})`);
      if (decisions.has(req.node)) throw new Error(`node "${req.node}" already has a decision`);
    },
  );

  const { spec, params, options, context, queues } = continued ?? (await startRun(pipelineName, input, state, show));
  // Steps-table entries for workers whose schema differs from the run's (see runStepSpecQuery).
  onQuery(runStepSpecQuery, stepSpecQueryArg, (name) => {
    const steps = spec.steps as PipelineSpec['steps'] | undefined;
    return steps && Object.hasOwn(steps, name) ? steps[name]! : null;
  });
  const book = proxyActivities<RunBookkeepingActivities>({ taskQueue: queues.cpu, startToCloseTimeout: '1m', retry: { initialInterval: '1s', maximumInterval: '30s' } });
  if (!continued) {
    for (const n of spec.nodes) {
      const { name, queue } = nodeStep(spec, n);
      state.nodes[n.id] = { status: 'pending', step: name, queue };
    }
    show();
    await book.recordRunStarted({ runId, workflowId, pipelineName: spec.name, pipelineVersion: spec.version, params });
    state.status = 'running';
  }
  show();

  let outputs: Map<string, unknown> | 'continue';
  try {
    outputs = await execute({ spec, params, context, options, queues, state, show, ids: { runId, workflowId }, decisions, book });
  } catch (e) {
    throw await ended(e);
  }
  if (outputs === 'continue') {
    // Nothing is in flight; an approval's update handler may still be answering.
    await condition(allHandlersFinished);
    const next: RunContinuation = { spec, params, options, context, queues, runId, state: handOverState(spec, state), execution: (continued?.execution ?? 1) + 1 };
    return continueAsNew<(input: unknown, c: RunContinuation) => Promise<PipelineRunResult>>(input, next);
  }
  try {
    const scope: Scope = { params, context, outputs };
    const result: PipelineRunResult = {
      runId,
      pipeline: spec.name,
      version: spec.version,
      outputs: Object.fromEntries(Object.entries(spec.outputs).map(([k, e]) => [k, resolveBinding(e, scope)])),
    };
    await book.recordRunFinished({ runId, status: 'succeeded' });
    state.status = 'succeeded';
    show();
    return result;
  } catch (e) {
    throw await ended(e);
  }

  /** A run that failed or was cancelled: recorded so, and the error to throw. */
  async function ended(e: unknown): Promise<unknown> {
    const cancelled = isCancellation(e);
    state.status = cancelled ? 'cancelled' : 'failed';
    show();
    // Recorded even when cancelled: a non-cancellable scope still reaches the worker.
    await CancellationScope.nonCancellable(() => book.recordRunFinished({ runId, status: cancelled ? 'cancelled' : 'failed', error: (e as Error).message }));
    return e;
  }
}

/**
 * A run's first execution: its spec and validated params (a local activity, recorded in history),
 * the deployment's task queues and limits, and the search attributes that find it. Continued
 * executions get all of it from their continuation instead.
 */
async function startRun(pipelineName: string, input: unknown, state: RunState, show: () => void): Promise<Omit<RunContinuation, 'runId' | 'state' | 'execution'>> {
  const resolved: ResolveResult = await local.resolvePipeline({ pipeline: pipelineName, input });
  if (!resolved.ok) {
    state.status = 'failed';
    show();
    throw ApplicationFailure.create({ type: resolved.type, message: resolved.message, nonRetryable: true, details: resolved.issues ? [resolved.issues] : [] });
  }
  const { spec, params, options } = resolved;
  const context = runContext();
  const queues = await local.sluiceTaskQueues();
  state.version = spec.version;
  upsertSearchAttributes([
    { key: PipelineName, value: spec.name },
    { key: PipelineVersion, value: spec.version },
  ]);
  return { spec, params, options, context, queues };
}

/** One run in progress: what it was started with (from history) and what it keeps while it runs. */
interface EngineRun {
  spec: PipelineSpec;
  params: Record<string, unknown>;
  context: Record<string, unknown>;
  options: RunOptions;
  queues: TaskQueues;
  /** What the `state` query reports; updated in place as nodes run. */
  state: RunState;
  /** Publishes `state` as the run's current details (call after changing it). */
  show: () => void;
  ids: { runId: string; workflowId: string };
  /** Approval decisions received by update, per node. */
  decisions: Map<string, ApprovalRequest>;
  book: RunBookkeepingActivities;
}

/**
 * Runs the spec's nodes in dependency order, as many at once as are ready; returns each node's
 * output, or 'continue' when this execution's history budget is spent with nodes still to run
 * (nothing is in flight then: the caller continues as new).
 */
async function execute(run: EngineRun): Promise<Map<string, unknown> | 'continue'> {
  const { spec, params, context, options, queues, state, show, ids, decisions, book } = run;
  const { limits } = queues;
  // A continued run starts with what its earlier executions finished (their outputs are in the state).
  const outputs = new Map<string, unknown>();
  for (const [id, s] of Object.entries(state.nodes)) if ((s.status === 'succeeded' || s.status === 'cached') && 'output' in s) outputs.set(id, s.output);
  const pending = new Set(spec.nodes.filter((n) => state.nodes[n.id]!.status === 'pending').map((n) => n.id));
  const running = new Map<string, Promise<void>>();
  let failure: { node: NodeSpec; error: unknown } | undefined;
  // Runs recorded before the history budget (none in their limits) never continue as new.
  const budget = limits?.historyBudget === undefined ? undefined : new HistoryBudget(limits.historyBudget);
  let draining = false;

  const forced = (n: NodeSpec) => options.force === true || (Array.isArray(options.force) && (options.force.includes(n.id) || options.force.includes(nodeStep(spec, n).name)));
  const call = (n: NodeSpec, nodeRunId: string, input: unknown): Promise<StepResult> =>
    callStep(nodeStep(spec, n), input, {
      info: { ...ids, pipeline: spec.name, pipelineVersion: spec.version, node: nodeRunId },
      queues,
      cache: { enabled: options.cache !== false, force: forced(n) },
      // A fan-out item's summary is derived from its node run id (callStep's default).
      ...(nodeRunId === n.id ? { summary: n.summary } : {}),
    });

  const runNode = async (n: NodeSpec): Promise<void> => {
    const s: NodeState = state.nodes[n.id]!;
    s.status = 'running';
    s.startedAt = Date.now();
    const scope: Scope = { params, context, outputs };
    if (n.approval) {
      s.awaiting = 'approval';
      const decided = await condition(() => decisions.has(n.id), n.approval.timeout);
      const req = decisions.get(n.id);
      const decision: ApprovalDecision =
        decided && req
          ? { approved: req.decision === 'approve', by: req.by, reason: req.reason, decidedAt: new Date().toISOString(), timedOut: false }
          : { approved: n.approval.onTimeout === 'approve', by: 'timeout', reason: `no decision within ${n.approval.timeout}`, decidedAt: new Date().toISOString(), timedOut: true };
      await book.recordApproval({ runId: ids.runId, node: n.id, decision });
      outputs.set(n.id, decision);
      delete s.awaiting;
      Object.assign(s, { status: 'succeeded', output: decision, endedAt: Date.now(), attempts: 1 });
      return;
    }
    if (!n.map) {
      const r = await call(n, n.id, resolveBinding(n.inputs, scope));
      outputs.set(n.id, r.output);
      Object.assign(s, { status: r.cached ? 'cached' : 'succeeded', attempts: r.attempt, output: r.output, endedAt: Date.now() });
      return;
    }
    const list = resolveBinding(n.map.over, scope);
    const count = listLength(list);
    if (count === undefined) {
      const what = list === null ? 'null' : isClaim(list) ? 'a value inside an output passed by reference; map over the output field itself' : typeof list;
      throw ApplicationFailure.nonRetryable(`node ${n.id}: the fan-out list is not a list (got ${what})`, 'InvalidFanOut');
    }
    /** The fan-out as a shard task over all its items: what the sharded and the in-run paths run. */
    const mapTask = (taskLimits: EngineLimits): MapShardTask => ({
      node: n.id,
      step: nodeStep(spec, n),
      run: { info: { ...ids, pipeline: spec.name, pipelineVersion: spec.version }, queues: { cpu: queues.cpu, gpu: queues.gpu }, cache: { enabled: options.cache !== false, force: forced(n) } },
      inputs: bindAllButItem(n.inputs, scope),
      items: isClaim(list) ? { claim: list } : { inline: list as unknown[], offset: 0 },
      from: 0,
      to: count,
      parallelism: n.map!.parallelism,
      ...(n.map!.itemsPerTask === undefined ? {} : { itemsPerTask: n.map!.itemsPerTask }),
      limits: taskLimits,
    });
    // Runs recorded before the engine's limits (none in their history) keep the unsharded path.
    if (limits && count > limits.shardSize) {
      s.items = { total: count, done: 0, running: 0 };
      const items = progressOf(s.items);
      const r = await runShards(mapTask(limits), {
        started: (k) => (items.running += k, show()),
        finished: (k) => (items.running -= k, items.done += k, show()),
        stopped: (k) => (items.running -= k, show()),
      });
      outputs.set(n.id, r.results);
      Object.assign(s, { status: r.cached === count && count > 0 ? 'cached' : 'succeeded', output: r.results, endedAt: Date.now() });
      return;
    }
    let results: unknown[] | ClaimCheck = new Array(count);
    s.items = { total: count, done: 0 };
    if (patched(MAP_BATCHES_PATCH)) {
      // Runs with batches were all started with limits (runs before them replay the path below).
      const r = await runInline(mapTask(limits ?? { claimThreshold: Infinity, shardSize: count, shardWindow: 1 }), (k) => ((s.items!.done += k), show()));
      outputs.set(n.id, r.results);
      Object.assign(s, { status: r.cached === count && count > 0 ? 'cached' : 'succeeded', output: r.results, endedAt: Date.now() });
      return;
    }
    // Runs recorded before item batches: one activity per item.
    let cachedAll = true;
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const i = next++;
        const r = await call(n, `${n.id}[${i}]`, resolveBinding(n.inputs, { ...scope, item: { node: n.id, value: itemAt(list, i) } })).catch((e: unknown) => {
          throw itemFailed(n.id, i, e);
        });
        (results as unknown[])[i] = r.output;
        cachedAll &&= r.cached;
        s.items!.done++;
        show();
      }
    };
    await Promise.all(Array.from({ length: Math.min(n.map.parallelism, count) }, worker));
    // A fan-in too large for history goes by reference: read back from what the items recorded.
    if (limits && jsonSize(results) > limits.claimThreshold) results = await fanIn(queues).collectFanIn({ runId: ids.runId, node: n.id, from: 0, to: count });
    outputs.set(n.id, results);
    Object.assign(s, { status: cachedAll && count > 0 ? 'cached' : 'succeeded', output: results, endedAt: Date.now() });
  };

  const finished = (id: string) => {
    const st = state.nodes[id]!.status;
    return st === 'succeeded' || st === 'cached' || st === 'skipped';
  };
  while (pending.size || running.size) {
    if (!failure && !draining) {
      for (const n of spec.nodes) {
        if (!pending.has(n.id) || !n.dependsOn.every(finished)) continue;
        const s = state.nodes[n.id]!;
        // A node that needs a skipped node's output, or whose condition is false, is skipped.
        const skip = n.dependsOn.some((d) => state.nodes[d]!.status === 'skipped') || (n.when && !evaluateCondition(n.when, { params, context, outputs }));
        // A node that could take the history past its budget waits for the next execution.
        const cost = !skip && budget && limits ? nodeEventCost(n, { params, context, outputs }, limits) : 0;
        if (cost && !budget!.take(cost)) {
          draining = true;
          break;
        }
        pending.delete(n.id);
        if (skip) {
          s.status = 'skipped';
          continue;
        }
        running.set(
          n.id,
          runNode(n).then(
            () => {
              running.delete(n.id);
              budget?.release(cost);
            },
            (error) => {
              running.delete(n.id);
              budget?.release(cost);
              Object.assign(s, { status: 'failed', endedAt: Date.now(), error: describe(error) });
              failure ??= { node: n, error };
            },
          ),
        );
      }
    }
    show();
    if (!running.size) break;
    await Promise.race(running.values());
  }
  if (draining && !failure && pending.size) return 'continue';

  if (failure) {
    for (const id of pending) state.nodes[id]!.status = 'skipped';
    show();
    if (isCancellation(failure.error)) throw failure.error;
    const { node, error } = failure;
    throw ApplicationFailure.create({
      type: 'StepFailed',
      message: `step "${node.id}" (${nodeStep(spec, node).name}) failed: ${describe(error)}`,
      nonRetryable: true,
      cause: error instanceof Error ? error : undefined,
    });
  }
  for (const id of pending) state.nodes[id]!.status = 'skipped';
  return outputs;
}

/**
 * Facts about this run for `b.context` refs. A run started by a schedule (or a backfill) carries
 * the time it was meant for in TemporalScheduledStartTime: that, not the wall clock, is the
 * interval it should process. All of it comes from history, so it is deterministic.
 */
function runContext(): Record<string, unknown> {
  const info = workflowInfo();
  const scheduled = info.typedSearchAttributes.get(TemporalScheduledStartTime);
  const scheduleId = info.typedSearchAttributes.get(TemporalScheduledById);
  return {
    runId: info.runId,
    workflowId: info.workflowId,
    startTime: info.startTime.toISOString(),
    scheduledTime: (scheduled ?? info.startTime).toISOString(),
    ...(scheduleId ? { scheduleId } : {}),
  };
}

function describe(e: unknown): string {
  if (e instanceof ActivityFailure && e.cause) return e.cause.message;
  return describeFailure(e);
}

/** The fan-in activity, on the cpu queue like the run's bookkeeping. */
function fanIn(queues: TaskQueues): FanInActivities {
  return proxyActivities<FanInActivities>({ taskQueue: queues.cpu, startToCloseTimeout: '5m', retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 10 } });
}

/** A sharded node's item counts, with `running` (always set for one). */
function progressOf(items: NonNullable<NodeState['items']>): { total: number; done: number; running: number } {
  items.running ??= 0;
  return items as { total: number; done: number; running: number };
}
