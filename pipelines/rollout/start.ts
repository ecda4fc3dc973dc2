import type { WorkflowStartOptions } from '@temporalio/client';
import { ModelName } from '../search-attributes';
import { rolloutId, type RolloutStart } from './protocol';

/**
 * How a model's rollout workflow is started, by `sluice rollout start` and by a training run's
 * `rollout.start` step alike: one id per model (`rollout-<model>`), so at most one runs at a time,
 * findable by model in the UI. `memo.decision` says which promotion decision (if any) it settles:
 * a retried start step recognises its own rollout by it.
 */
export function rolloutWorkflowOptions(start: RolloutStart, workflowQueue: string): WorkflowStartOptions<(s: RolloutStart) => Promise<unknown>> {
  return {
    workflowId: rolloutId(start.model),
    taskQueue: workflowQueue,
    args: [start],
    typedSearchAttributes: [{ key: ModelName, value: start.model }],
    staticSummary: `${start.strategy} rollout of ${start.model} v${start.candidate}`,
    memo: { candidate: start.candidate, ...(start.decision !== undefined ? { decision: start.decision } : {}) },
  };
}
