import { z } from 'zod';
import { pipeline } from './dsl/pipeline';
import { datasetName, datasetRef } from './steps/dataset';
import { buildTrainingSetStep, datasetSpec, featureViewPick, featureViewSchema } from './steps/features';

/**
 * A training set from entity rows (keys, a time, labels) and materialized feature views: each
 * row gets every view's feature values as they were at its time (point-in-time correct, Feast's
 * rule), from the offline store. The result is a registered dataset version that `train-model`
 * (or anything else) reads.
 *
 *   sluice run build-training-set --input '{"entities": "labels@2", "timestamp": "at",
 *     "views": [{"name": "origin_delays", "version": 1, "features": ["delay_mean_7d"]}],
 *     "keys": {"origin": "airport"}, "name": "delay_training"}'
 */
export const buildTrainingSetParams = z
  .object({
    /** The entity rows: a registered dataset version (`name@3`, `name@latest`, `name`) or a dataset ref. */
    entities: z.union([datasetSpec, datasetRef]),
    /** Materialized views by name and version (optionally some of their features), or full definitions. */
    views: z.array(z.union([featureViewPick, featureViewSchema])).min(1).max(50),
    /** The entity rows' time column. */
    timestamp: z.string().min(1).default('event_timestamp'),
    /** The entity rows' column for a view entity named otherwise there, e.g. `{ "origin": "airport" }`. */
    keys: z.record(z.string().min(1).max(256), z.string().min(1).max(256)).default({}),
    /** Name features `<view>__<feature>` (needed when two views share a feature name). */
    fullFeatureNames: z.boolean().default(false),
    /** Registered name of the training set. */
    name: datasetName.default('training_set'),
  })
  .strict();

export const buildTrainingSet = pipeline(
  {
    name: 'build-training-set',
    description: 'join entity rows point-in-time correctly with materialized feature views into a registered training set',
    params: buildTrainingSetParams,
  },
  (p, b) => {
    const set = b.step('build', buildTrainingSetStep, {
      entities: p.entities,
      views: p.views,
      timestamp: p.timestamp,
      keys: p.keys,
      fullFeatureNames: p.fullFeatureNames,
      name: p.name,
    });
    return { dataset: set.output.dataset, rows: set.output.rows };
  },
);
