/**
 * Workflow code served on queue `sluice`: deterministic only.
 *
 * Every registered pipeline is a workflow type of its own name (start `hello` from the Temporal
 * UI with one JSON object). No per-pipeline export is needed: the SDK hands any workflow type
 * without an export of its name to the default export, which runs the pipeline of that name.
 * `drift-monitor` and `rollout` are the built-in workflows that are not pipelines.
 */
import { workflowInfo } from '@temporalio/workflow';
import type { PipelineRunResult } from '../pipelines/dsl/protocol';
import { isRunContinuation } from '../pipelines/dsl/run-continuation';
import type { MonitorStart } from '../pipelines/monitor/protocol';
import { mapShard } from './engine/map-shard';
import { runPipeline } from './engine/run-pipeline';
import { driftMonitor } from './monitor/drift-monitor';
import { rollout } from './rollout/rollout';

export { runStateQuery, approveUpdate } from '../pipelines/dsl/messages';
export { driftMonitor, rollout };

/** Workflow types with dashes, which cannot be export names. */
const BUILTIN: Record<string, (...args: never[]) => Promise<unknown>> = {
  'drift-monitor': driftMonitor as (...args: never[]) => Promise<unknown>,
  // MAP_SHARD_WORKFLOW: a shard of a fan-out wider than SLUICE_MAP_SHARD_SIZE.
  'sluice-map-shard': mapShard as (...args: never[]) => Promise<unknown>,
};

export default async function pipelineWorkflow(input: unknown = {}, ...rest: unknown[]): Promise<PipelineRunResult | unknown> {
  const type = workflowInfo().workflowType;
  const builtin = BUILTIN[type];
  if (builtin) return (builtin as (a: MonitorStart, ...r: unknown[]) => Promise<unknown>)(input as MonitorStart, ...rest);
  // A run that continued as new gets its continuation as the second argument.
  return runPipeline(type, input, isRunContinuation(rest[0]) ? rest[0] : undefined);
}
