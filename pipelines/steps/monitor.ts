import { z } from 'zod';
import { step } from '../dsl/step';
import { datasetRef } from './dataset';
import { scoringWindow } from './scoring';

/** Tells a model's drift monitor that a batch was scored (sent by batch-scoring when it ends). */
export const notifyMonitorStep = step({
  name: 'monitor.batch-scored',
  description: "send the scored batch to the model's drift monitor (if one runs)",
  input: z.strictObject({
    model: z.string().min(1),
    batchId: z.string().min(1),
    dataset: datasetRef,
    /** The rows the run scored (null: the whole dataset), their count and predictions: what the monitor compares and joins labels with. */
    window: scoringWindow.nullable().optional(),
    rows: z.number().int().nonnegative().optional(),
    predictions: datasetRef.optional(),
  }),
  output: z.object({ notified: z.boolean(), monitor: z.string(), reason: z.string().optional() }),
  timeouts: { startToClose: '1m', heartbeat: '10s' },
  // A signal is an effect, not a value: send it every time.
  cache: false,
});
