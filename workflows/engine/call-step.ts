import { proxyActivities, proxyLocalActivities, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
import type { CacheProbe, ItemBatch, RunInfo, StepCall, StepResult } from '../../pipelines/dsl/protocol';
import { durationMs } from '../../pipelines/vocab/duration';
import type { NodeStep } from '../../pipelines/dsl/spec';
import { isStep, stepOptions, type AnyStep, type StepInput, type StepOutput } from '../../pipelines/dsl/step';
import { nonRetryableErrorTypes } from '../../pipelines/failures';

/** Where and as what a step call runs: the run and node it belongs to, and the run's choices. */
export interface StepCallRun {
  info: RunInfo;
  /** Task queues of this deployment, as the worker reported them at the run's start (in history). */
  queues: { cpu: string; gpu: string };
  /** The run's cache switches: `enabled: false` turns the step's cache off, `force` re-runs it. */
  cache?: { enabled: boolean; force: boolean };
  /** What the Temporal UI shows for the activity; default `node · step@version (queue)`. */
  summary?: string;
  /** A shard's cache probe instead of a run of the step (StepCall.probe). */
  probe?: CacheProbe;
  /** A batch of fan-out items instead of one run of the step (StepCall.batch). */
  batch?: ItemBatch;
}

/**
 * Without a heartbeat timeout of its own, a batch of several items gets this one: its timeouts
 * grow with its items, and a dead worker must still be noticed in seconds, not after all of them.
 */
const BATCH_HEARTBEAT = '30s';

/** A step's result with its output typed by the step's output schema. */
export type TypedStepResult<O> = Omit<StepResult, 'output'> & { output: O };

/**
 * Calls one step as an activity (type = step name), with the activity options its signature (or
 * its entry in a spec's steps table) declares: queue, timeouts, heartbeat, retry (plus the
 * failure table's non-retryable types) and cache policy. The engine and the drift monitor both
 * call steps through here, so a step runs the same way wherever it is called from.
 */
export function callStep<S extends AnyStep>(step: S, input: StepInput<S>, run: StepCallRun): Promise<TypedStepResult<StepOutput<S>>>;
export function callStep(step: NodeStep, input: unknown, run: StepCallRun): Promise<StepResult>;
export function callStep(step: AnyStep | NodeStep, input: unknown, run: StepCallRun): Promise<StepResult> {
  const st: NodeStep = isStep(step) ? { name: step.name, version: step.version, queue: step.queue, options: stepOptions(step) } : step;
  const { options } = st;
  // A batch of n items may take n items' time; its heartbeat still notices a lost worker.
  const n = run.batch?.indices.length ?? 1;
  const scaled = (d: string) => (n > 1 ? durationMs(d) * n : d);
  const heartbeatTimeout = options.heartbeatTimeout ?? (n > 1 ? BATCH_HEARTBEAT : undefined);
  const activityOptions: ActivityOptions = {
    taskQueue: st.queue === 'gpu' ? run.queues.gpu : run.queues.cpu,
    startToCloseTimeout: scaled(options.startToCloseTimeout),
    ...(heartbeatTimeout ? { heartbeatTimeout } : {}),
    ...(options.scheduleToCloseTimeout ? { scheduleToCloseTimeout: scaled(options.scheduleToCloseTimeout) } : {}),
    retry: { ...options.retry, nonRetryableErrorTypes: nonRetryableErrorTypes(options.retry.nonRetryableErrorTypes) },
    summary: run.summary ?? `${run.info.node} · ${st.name}@${st.version} (${st.queue})`,
  };
  const call: StepCall = {
    run: run.info,
    input,
    cache: { enabled: options.cache.enabled && (run.cache?.enabled ?? true), key: options.cache.key ?? 'code', force: run.cache?.force ?? false },
    stepVersion: st.version,
    ...(st.inputSchemaHash ? { inputSchemaHash: st.inputSchemaHash, outputSchemaHash: st.outputSchemaHash } : {}),
    ...(run.probe ? { probe: run.probe } : {}),
    ...(run.batch ? { batch: run.batch } : {}),
  };
  type StepActivities = Record<string, (c: StepCall) => Promise<StepResult>>;
  if (options.local) {
    // In the workflow worker's own process (workers/cpu.ts registers the CPU steps there too):
    // no task queue, no heartbeat; the result is a marker in this history.
    const { taskQueue: _queue, heartbeatTimeout: _heartbeat, ...local } = activityOptions;
    return proxyLocalActivities<StepActivities>(local as LocalActivityOptions)[st.name]!(call);
  }
  return proxyActivities<StepActivities>(activityOptions)[st.name]!(call);
}
