import type { Client } from '@temporalio/client';
import type { SluiceConfig } from '../infra/config';
import { batchScored, monitorStatusQuery, retrain } from '../pipelines/monitor/messages';
import type { BatchScored, MonitorStart, MonitorStatus, RetrainRequest } from '../pipelines/monitor/protocol';
import { ModelName } from '../pipelines/search-attributes';

/** The monitor of a model has a fixed id, so starting it again (or signalling it) is idempotent. */
export const monitorId = (model: string) => `drift-monitor-${model}`;

function startOptions(config: SluiceConfig, start: MonitorStart) {
  return {
    workflowId: monitorId(start.model),
    taskQueue: config.queues.workflow,
    args: [start] as [MonitorStart],
    typedSearchAttributes: [{ key: ModelName, value: start.model }],
    staticSummary: `drift monitor for ${start.model}`,
  };
}

/** Signal-with-start: starts the monitor if it is not running, and delivers the signal either way. */
export async function sendBatchScored(client: Client, config: SluiceConfig, start: MonitorStart, batch: BatchScored): Promise<void> {
  await client.workflow.signalWithStart('drift-monitor', { ...startOptions(config, start), signal: batchScored, signalArgs: [batch] });
}

export async function ensureMonitor(client: Client, config: SluiceConfig, start: MonitorStart): Promise<void> {
  await client.workflow.start('drift-monitor', startOptions(config, start)).catch((e: Error) => {
    if (e.name !== 'WorkflowExecutionAlreadyStartedError') throw e;
  });
}

export async function requestRetrain(client: Client, model: string, req: RetrainRequest): Promise<void> {
  await client.workflow.getHandle(monitorId(model)).signal(retrain, req);
}

export async function monitorStatus(client: Client, model: string): Promise<MonitorStatus> {
  return client.workflow.getHandle(monitorId(model)).query(monitorStatusQuery);
}
