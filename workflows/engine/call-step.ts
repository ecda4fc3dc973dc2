import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { CacheProbe, RunInfo, StepCall, StepResult } from '../../pipelines/dsl/protocol';
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
}

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
  const activityOptions: ActivityOptions = {
    taskQueue: st.queue === 'gpu' ? run.queues.gpu : run.queues.cpu,
    startToCloseTimeout: options.startToCloseTimeout,
    ...(options.heartbeatTimeout ? { heartbeatTimeout: options.heartbeatTimeout } : {}),
    ...(options.scheduleToCloseTimeout ? { scheduleToCloseTimeout: options.scheduleToCloseTimeout } : {}),
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
  };
  const acts = proxyActivities<Record<string, (c: StepCall) => Promise<StepResult>>>(activityOptions);
  return acts[st.name]!(call);
}
