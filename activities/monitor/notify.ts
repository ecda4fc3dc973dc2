import { notifyMonitorStep } from '../../pipelines/steps/monitor';
import { batchScored } from '../../pipelines/monitor/messages';
import { implement } from '../runtime/implement';

/** Signals the model's drift monitor that a batch was scored, through the worker's Temporal client. */
export const notifyMonitor = implement(notifyMonitorStep, async ({ model, batchId, dataset, window, rows, predictions }, ctx) => {
  const monitor = `drift-monitor-${model}`;
  try {
    await (await ctx.temporal()).workflow.getHandle(monitor).signal(batchScored, { batchId, dataset, ...(window !== undefined ? { window } : {}), ...(rows !== undefined ? { rows } : {}), ...(predictions ? { predictions } : {}) });
    return { notified: true, monitor };
  } catch (e) {
    // No monitor for this model (none started, or it ended): scoring itself succeeded.
    if ((e as Error).name === 'WorkflowNotFoundError') {
      ctx.log.info('no drift monitor running', { model });
      return { notified: false, monitor, reason: 'no drift monitor is running for this model' };
    }
    throw e;
  }
});
