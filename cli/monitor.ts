import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
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

/**
 * Runs `fn` on the monitor of `model`. The workflow id is Sluice's business, not the user's: a
 * model without a running monitor reads "no drift monitor for model X", never Temporal's
 * "workflow not found for ID: drift-monitor-X". Every command that talks to a monitor goes
 * through here.
 */
export async function withMonitor<T>(client: Client, model: string, fn: (monitor: WorkflowHandle) => Promise<T>): Promise<T> {
  try {
    return await fn(client.workflow.getHandle(monitorId(model)));
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) {
      throw new Error(`no drift monitor for model ${model} (start one with \`sluice monitor start ${model} --reference DATASET@VERSION\`)`);
    }
    throw e;
  }
}

export async function requestRetrain(client: Client, model: string, req: RetrainRequest): Promise<void> {
  await withMonitor(client, model, (m) => m.signal(retrain, req));
}

export async function monitorStatus(client: Client, model: string): Promise<MonitorStatus> {
  return withMonitor(client, model, (m) => m.query(monitorStatusQuery));
}
