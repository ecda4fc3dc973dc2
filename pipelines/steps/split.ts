import { z } from 'zod';
import { step } from '../dsl/step';
import { datasetRef } from './dataset';

/**
 * Splits a dataset version into train and holdout versions (registered as `<name>.train` and
 * `<name>.holdout`). Random by a seeded hash of the row position, or by time: the latest
 * `holdoutFraction` of rows by `orderBy` is the holdout, as a forecast would meet them.
 */
export const splitDatasetInput = z.object({
  dataset: datasetRef,
  holdoutFraction: z.number().gt(0).lt(1).default(0.2),
  seed: z.number().int().nonnegative().default(42),
  orderBy: z.string().min(1).optional().describe('a time column: hold out the latest rows instead of random ones'),
});

export const splitDatasetStep = step({
  name: 'dataset.split',
  description: 'split a dataset into train and holdout versions',
  input: splitDatasetInput,
  output: z.object({ train: datasetRef, holdout: datasetRef }),
  timeouts: { startToClose: '30m', heartbeat: '30s' },
});
