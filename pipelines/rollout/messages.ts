import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ReasonSignal, RolloutStatus, SetWeightsRequest, Variant } from './protocol';

/**
 * The rollout workflow's signals, query and update (schemas in protocol.ts), shared by the
 * workflow, the CLI and tests. Plain names: the Temporal UI's forms reach them too.
 */

/** Freezes the weights: no step, re-weighting or promotion until `resume` (guardrails still roll back). */
export const pauseSignal = defineSignal<[ReasonSignal]>('pause');
export const resumeSignal = defineSignal<[ReasonSignal]>('resume');
/** Rolls back: the model's routes are removed (traffic returns to its champion) and the rollout ends. */
export const abortSignal = defineSignal<[ReasonSignal]>('abort');
/** Sets the live weights by hand (validated before it reaches history) and pauses automatic changes. */
export const setWeightsUpdate = defineUpdate<Record<Variant, number>, [SetWeightsRequest]>('setWeights');
export const rolloutStatusQuery = defineQuery<RolloutStatus>('status');
