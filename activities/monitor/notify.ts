import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../../infra/config';
import { notifyMonitorStep } from '../../pipelines/steps/monitor';
import { batchScored } from '../../workflows/monitor/drift-monitor';
import { implement } from '../runtime/implement';

let client: Promise<Client> | undefined;

/** One client per worker process, opened on first use. */
function temporalClient(): Promise<Client> {
  client ??= (async () => {
    const config = loadConfig();
    const connection = await Connection.connect({ address: config.temporal.address });
    return new Client({ connection, namespace: config.temporal.namespace });
  })();
  return client;
}

export const notifyMonitor = implement(notifyMonitorStep, async ({ model, batchId, dataset }, ctx) => {
  const monitor = `drift-monitor-${model}`;
  try {
    await (await temporalClient()).workflow.getHandle(monitor).signal(batchScored, { batchId, dataset });
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
