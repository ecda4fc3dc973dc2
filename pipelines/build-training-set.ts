import { z } from 'zod';
import { pipeline } from './dsl/pipeline';
import { datasetRefParam } from './steps/dataset';
import { buildTrainingSetInput, buildTrainingSetStep, datasetSpec } from './steps/features';

/**
 * A training set from entity rows (keys, a time, labels) and materialized feature views: each
 * row gets every view's feature values as they were at its time (point-in-time correct, Feast's
 * rule), from the offline store. The result is a registered dataset version that `train-model`
 * (or anything else) reads.
 *
 *   sluice run build-training-set --input '{"entities": "labels@2", "timestamp": "at",
 *     "views": [{"name": "origin_delays", "version": 1, "features": ["delay_mean_7d"]}],
 *     "keys": {"origin": "airport"}, "name": "delay_training"}'
 *
 * Its params are the step's own input: the entity rows, the views, the time column, the key
 * mapping, the training set's name.
 */
export const buildTrainingSetParams = buildTrainingSetInput.extend({ entities: z.union([datasetRefParam, datasetSpec]) }).strict();

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
