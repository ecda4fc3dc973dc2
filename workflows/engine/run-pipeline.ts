import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { approvalRequest, type ApprovalRequest } from '../../pipelines/dsl/approval';
import { approveUpdate, runStateQuery, runStepSpecQuery, stepSpecQueryArg } from '../../pipelines/dsl/messages';
import type { ApprovalDecision } from '../../pipelines/dsl/pipeline';
import type { NodeState, PipelineRunResult, ResolveResult, RunOptions, RunState, StepResult } from '../../pipelines/dsl/protocol';
import { nodeStep, type NodeSpec, type PipelineSpec } from '../../pipelines/dsl/spec';
import type { EngineLocalActivities, FanInActivities, RunBookkeepingActivities, TaskQueues } from '../../pipelines/dsl/engine-activities';
import { isClaim, itemAt, jsonSize, listLength, type ClaimCheck } from '../../pipelines/dsl/claim';
import type { MapShardTask } from '../../pipelines/dsl/fan-out';
import { paramsDigest, runCurrentDetails } from '../../pipelines/dsl/run-summary';
import { PipelineName, PipelineVersion, TemporalScheduledById, TemporalScheduledStartTime } from '../../pipelines/search-attributes';
import { onQuery, onUnknownSignal, onUpdate, withRejection } from '../shared/safe-handlers';
import { bindAllButItem, evaluateCondition, resolveBinding, type Scope } from './bindings';
import { describeFailure, itemFailed, runShards } from './fan-out';
import { callStep } from './call-step';

const local = proxyLocalActivities<EngineLocalActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 5 } });

/**
 * The engine: runs any PipelineSpec. The spec and the validated params come from a local
 * activity at start, so they are fixed in this run's history: a later change to the pipeline's
 * definition never changes what a running (or replayed) run does.
 */
export async function runPipeline(pipelineName: string, input: unknown): Promise<PipelineRunResult> {
  const { workflowId, runId } = workflowInfo();
  const state: RunState = { pipeline: pipelineName, version: '', status: 'starting', nodes: {} };
  // The run's current details (what the Temporal UI shows on its page): refreshed as nodes change.
  // Digest of the params as given (as the client's static summary shows it), defaults not applied.
  const digest = paramsDigest(input);
  const show = () => setCurrentDetails(runCurrentDetails(state, digest, Date.now()));
  show();
  setHandler(runStateQuery, () => state);
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
  // Steps-table entries for workers whose schema differs from the run's (see runStepSpecQuery).
  onQuery(runStepSpecQuery, stepSpecQueryArg, (name) => {
    const steps = spec.steps as PipelineSpec['steps'] | undefined;
    return steps && Object.hasOwn(steps, name) ? steps[name]! : null;
  });
  for (const n of spec.nodes) {
    const { name, queue } = nodeStep(spec, n);
    state.nodes[n.id] = { status: 'pending', step: name, queue };
  }
  show();

  const book = proxyActivities<RunBookkeepingActivities>({ taskQueue: queues.cpu, startToCloseTimeout: '1m', retry: { initialInterval: '1s', maximumInterval: '30s' } });
  await book.recordRunStarted({ runId, workflowId, pipelineName: spec.name, pipelineVersion: spec.version, params });
  state.status = 'running';

  try {
    const outputs = await execute({ spec, params, context, options, queues, state, show, ids: { runId, workflowId }, decisions, book });
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
    const cancelled = isCancellation(e);
    state.status = cancelled ? 'cancelled' : 'failed';
    show();
    // Recorded even when cancelled: a non-cancellable scope still reaches the worker.
    await CancellationScope.nonCancellable(() => book.recordRunFinished({ runId, status: cancelled ? 'cancelled' : 'failed', error: (e as Error).message }));
    throw e;
  }
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

/** Runs the spec's nodes in dependency order, as many at once as are ready; returns each node's output. */
async function execute(run: EngineRun): Promise<Map<string, unknown>> {
  const { spec, params, context, options, queues, state, show, ids, decisions, book } = run;
  const { limits } = queues;
  const outputs = new Map<string, unknown>();
  const pending = new Set(spec.nodes.map((n) => n.id));
  const running = new Map<string, Promise<void>>();
  let failure: { node: NodeSpec; error: unknown } | undefined;

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
    // Runs recorded before the engine's limits (none in their history) keep the unsharded path.
    if (limits && count > limits.shardSize) {
      s.items = { total: count, done: 0, running: 0 };
      const items = progressOf(s.items);
      const task: MapShardTask = {
        node: n.id,
        step: nodeStep(spec, n),
        run: { info: { ...ids, pipeline: spec.name, pipelineVersion: spec.version }, queues: { cpu: queues.cpu, gpu: queues.gpu }, cache: { enabled: options.cache !== false, force: forced(n) } },
        inputs: bindAllButItem(n.inputs, scope),
        items: isClaim(list) ? { claim: list } : { inline: list as unknown[], offset: 0 },
        from: 0,
        to: count,
        parallelism: n.map.parallelism,
        limits,
      };
      const r = await runShards(task, {
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
    if (!failure) {
      for (const n of spec.nodes) {
        if (!pending.has(n.id) || !n.dependsOn.every(finished)) continue;
        pending.delete(n.id);
        const s = state.nodes[n.id]!;
        // A node that needs a skipped node's output, or whose condition is false, is skipped.
        if (n.dependsOn.some((d) => state.nodes[d]!.status === 'skipped') || (n.when && !evaluateCondition(n.when, { params, context, outputs }))) {
          s.status = 'skipped';
          continue;
        }
        running.set(
          n.id,
          runNode(n).then(
            () => void running.delete(n.id),
            (error) => {
              running.delete(n.id);
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
