import { z } from 'zod';
import { passedOnValue } from '../dsl/passed-on';
import { step } from '../dsl/step';
import { modelRef } from './model';
import { gbdtParams, trainingMetrics } from './training';

/**
 * Hyperparameter search for the GBDT trainer: expand a grid (or draw random trials from it), fan
 * the trials out with `b.map`, keep every trial's result, pick the best by a validation metric.
 */
const tunable = gbdtParams.partial();
type TunableKey = keyof z.infer<typeof gbdtParams>;

export const searchSpace = z
  .record(z.string(), z.array(z.union([z.number(), z.boolean()])).min(1))
  .superRefine((grid, ctx) => {
    for (const k of Object.keys(grid)) {
      if (!(k in gbdtParams.shape)) ctx.addIssue({ code: 'custom', path: [k], message: `"${k}" is not a gbdt parameter` });
    }
  });

export const gbdtTrialsStep = step({
  name: 'hpo.gbdt-trials',
  description: 'expand a search space into trials (grid, or seeded random draws)',
  input: z.strictObject({
    base: tunable.default({}),
    space: searchSpace.default({}),
    strategy: z.enum(['grid', 'random']).default('grid'),
    maxTrials: z.number().int().min(1).max(200).default(8),
    seed: z.number().int().nonnegative().default(0),
  }),
  output: z.object({ trials: z.array(tunable) }),
  timeouts: { startToClose: '30s', heartbeat: '10s' },
});

/** Hyperparameters as the registry records them. */
const paramValues = z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]));
/** One trial as the training fan-out returns it. */
const trainingResult = passedOnValue(z.object({ model: modelRef, metrics: trainingMetrics, params: paramValues }));

export const selectBestStep = step({
  name: 'hpo.select-best',
  description: 'pick the best trial by a validation metric; every trial is kept in the ranking',
  input: z.strictObject({
    trials: z.array(trainingResult).min(1),
    metric: z.enum(['validation_loss', 'validation_accuracy', 'validation_r2', 'train_loss']).default('validation_loss'),
  }),
  output: z.object({
    model: modelRef,
    index: z.number().int().nonnegative(),
    value: z.number(),
    params: paramValues,
    ranking: z.array(z.object({ index: z.number().int(), value: z.number().nullable(), params: paramValues })),
  }),
  timeouts: { startToClose: '30s', heartbeat: '10s' },
});

export type { TunableKey };
