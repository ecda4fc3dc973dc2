import { z } from 'zod';
import { step } from '../dsl/step';
import { datasetRef } from './dataset';

/** Tells a model's drift monitor that a batch was scored (sent by batch-scoring when it ends). */
export const notifyMonitorStep = step({
  name: 'monitor.batch-scored',
  description: "send the scored batch to the model's drift monitor (if one runs)",
  input: z.object({ model: z.string().min(1), batchId: z.string().min(1), dataset: datasetRef }),
  output: z.object({ notified: z.boolean(), monitor: z.string(), reason: z.string().optional() }),
  timeouts: { startToClose: '1m', heartbeat: '10s' },
  // A signal is an effect, not a value: send it every time.
  cache: false,
});
