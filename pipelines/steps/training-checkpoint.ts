import { z } from 'zod';
import { artifactRef } from './artifact-ref';

/**
 * Resumable training checkpoints (written and restored by activities/training/checkpoint.ts), as
 * the training steps declare them: what a retried attempt reads from its previous attempt's
 * heartbeat. A checkpoint rides inline on each heartbeat; one whose JSON is too large for a
 * heartbeat is stored as an artifact and the heartbeat carries its ref instead (so the large
 * states, trees and L-BFGS memory, reach Temporal as references, not data).
 *
 * `format` changes whenever what a trainer's state means changes, so a checkpoint written by
 * older code fails the schema and the step starts over instead of resuming from it.
 */

export function trainingCheckpoint<F extends string, T extends string, S extends z.ZodType>(o: { format: F; trainer: T; state: S }) {
  const checkpoint = z.object({
    format: z.literal(o.format),
    trainer: z.literal(o.trainer),
    /** Hash of trainer, params, data and columns: a retry with other input does not resume. */
    key: z.string(),
    iteration: z.number().int().nonnegative(),
    state: o.state,
  });
  return {
    format: o.format,
    trainer: o.trainer,
    /** The checkpoint itself (inline, or the JSON of the artifact a ref names). */
    checkpoint,
    /**
     * The step's checkpoint: the resumable part of a training heartbeat (its progress fields,
     * iteration of, losses, are not needed to resume and are not checked). No checkpoint yet
     * (before the first is due) is none of either.
     */
    heartbeat: z.object({ checkpoint: checkpoint.optional(), checkpointRef: artifactRef.optional() }),
  };
}

export type TrainingCheckpointSpec<S extends z.ZodType = z.ZodType> = ReturnType<typeof trainingCheckpoint<string, string, S>>;

/** L-BFGS after iteration t: weights, the curvature pairs kept (at most 10), and whether it converged. */
export const logisticState = z.object({
  iteration: z.number().int().nonnegative(),
  w: z.array(z.number()),
  s: z.array(z.array(z.number())),
  y: z.array(z.array(z.number())),
  done: z.boolean(),
});

export const logisticCheckpoint = trainingCheckpoint({ format: 'sluice.training-checkpoint/1', trainer: 'logistic', state: logisticState });

/** Boosting after round t; the trees packed (activities/training/gbdt/model.ts packTrees). */
export const gbdtState = z.object({
  iteration: z.number().int().nonnegative(),
  /** The PRNG's state: four uint32 words. */
  rng: z.array(z.number().int().nonnegative()).length(4),
  /** base64 of the packed trees, category sets of categorical splits included. */
  trees: z.base64(),
  bestIteration: z.number().int().nonnegative(),
  bestLoss: z.number().nullable(),
  /** Per round: train and validation loss (at most nEstimators each). */
  history: z.object({ train: z.array(z.number()), validation: z.array(z.number()) }),
  stopped: z.boolean(),
});

/**
 * Format 2: trees split categorical features per node by category sets (bins are category codes).
 * Format 1 trees split them by a threshold over a global target-mean order: resuming from them
 * would read their bins wrongly, so they fail the schema and training starts over.
 */
export const gbdtCheckpoint = trainingCheckpoint({ format: 'sluice.training-checkpoint/2', trainer: 'gbdt', state: gbdtState });
