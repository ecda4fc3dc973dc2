import { z } from 'zod';
import { step } from '../dsl/step';
import { datasetRef } from './dataset';
import { evaluationSpec } from './evaluation-data';

/**
 * Splits a dataset version into train and holdout versions (registered as `<name>.train` and
 * `<name>.holdout`). Random by a seeded hash of the row position, or by time: the latest
 * `holdoutFraction` of rows by `orderBy` is the holdout, as a forecast would meet them.
 *
 * With an explicit `evaluation` (evaluation-data.ts) the fraction is not used: a time range
 * splits the dataset by value of a column, or an evaluation dataset (registered or ingested,
 * resolved by `dataset.resolve-evaluation` and passed as `evaluationData`) is the holdout as it
 * is and the whole dataset trains. Either way the holdout must hold the columns training uses
 * (`target` and `features`; default: every column of the dataset but dates and timestamps),
 * named when missing.
 */
export const splitDatasetInput = z.strictObject({
  dataset: datasetRef,
  holdoutFraction: z.number().gt(0).lt(1).default(0.2),
  seed: z.number().int().nonnegative().default(42),
  orderBy: z.string().min(1).optional().describe('a time column: hold out the latest rows instead of random ones'),
  evaluation: evaluationSpec.optional().describe('explicit evaluation rows instead of a fraction: a registered dataset or a time range'),
  evaluationData: datasetRef.optional().describe('the evaluation dataset, resolved (with evaluation: { dataset } or { source })'),
  target: z.string().min(1).optional().describe('a column the holdout must have'),
  features: z.array(z.string().min(1)).optional().describe('columns the holdout must have (default: the dataset\'s, dates and timestamps left out)'),
});

export const splitDatasetStep = step({
  name: 'dataset.split',
  description: 'split a dataset into train and holdout versions',
  input: splitDatasetInput,
  output: z.object({ train: datasetRef, holdout: datasetRef }),
  timeouts: { startToClose: '30m', heartbeat: '30s' },
});
