import { z } from 'zod';
import { step } from '../dsl/step';
import { promoteModelOutput } from '../steps/registry';
import { Strategy, trainingRollout } from './protocol';

/**
 * The training pipeline's hand-off to a rollout: given a promotion recorded as pending (the
 * challenger beat the champion), it starts the model's rollout workflow for the challenger against
 * the champion it was compared with, and the rollout settles the decision when it ends. With no
 * champion to compare with there is nothing to roll out against: the decision is approved at once.
 */
export const startRolloutStep = step({
  name: 'rollout.start',
  description: "start the model's rollout of the challenger (instead of moving the champion alias), or promote it when there is no champion",
  input: z.strictObject({
    /** A promote-model output; only a `pending_approval` one is acted on. */
    proposal: promoteModelOutput,
    rollout: trainingRollout,
  }),
  output: z.object({
    /** true: this step started the rollout (or a retry of it found the one it started). */
    started: z.boolean(),
    /** `rollout-<model>`, or null when nothing was started. */
    workflowId: z.string().nullable(),
    runId: z.string().nullable(),
    strategy: Strategy,
    candidate: z.number().int().positive().nullable(),
    control: z.number().int().positive().nullable(),
    /** true: no champion to roll out against, so the challenger was promoted directly. */
    promoted: z.boolean(),
    reason: z.string(),
  }),
  queue: 'cpu',
  timeouts: { startToClose: '1m', heartbeat: '10s' },
  // Starting a workflow is an effect, not a value.
  cache: false,
});
