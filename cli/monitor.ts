import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { SluiceConfig } from '../infra/config';
import { batchScored, labelsArrived, monitorStatusQuery, retrain, setPolicyUpdate } from '../pipelines/monitor/messages';
import type { BatchScored, LabelsArrived, MonitorPolicy, MonitorStart, MonitorStatus, RetrainRequest } from '../pipelines/monitor/protocol';
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

/** Starts the monitor unless it is running; true when this call started it. */
export async function ensureMonitor(client: Client, config: SluiceConfig, start: MonitorStart): Promise<boolean> {
  return client.workflow.start('drift-monitor', startOptions(config, start)).then(
    () => true,
    (e: Error) => {
      if (e.name !== 'WorkflowExecutionAlreadyStartedError') throw e;
      return false;
    },
  );
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

export async function sendLabels(client: Client, model: string, labels: LabelsArrived): Promise<void> {
  await client.workflow.getHandle(monitorId(model)).signal(labelsArrived, labels);
}

/** Changes the policy through the validated update: the monitor refuses an invalid one, naming the key. */
export async function setPolicy(client: Client, model: string, patch: Partial<MonitorPolicy>): Promise<MonitorPolicy> {
  return client.workflow.getHandle(monitorId(model)).executeUpdate(setPolicyUpdate, { args: [patch] });
}

/**
 * `key=value` pairs as a policy patch: values parsed as JSON when they parse (numbers, booleans,
 * arrays), else kept as strings; dotted keys set nested fields on top of the current policy's
 * (performance.minValue=0.7 keeps performance.metric).
 */
export function policyPatch(current: MonitorPolicy, sets: string[]): Partial<MonitorPolicy> {
  const patch: Record<string, unknown> = {};
  for (const set of sets) {
    const eq = set.indexOf('=');
    if (eq <= 0) throw new Error(`--set ${JSON.stringify(set)}: expected key=value (e.g. consecutive=3, performance.minValue=0.7)`);
    const key = set.slice(0, eq).trim();
    const text = set.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    const path = key.split('.');
    if (path.some((p) => !p)) throw new Error(`--set ${key}: empty part in the key`);
    let at = patch;
    let base: unknown = current;
    for (const p of path.slice(0, -1)) {
      base = base && typeof base === 'object' ? (base as Record<string, unknown>)[p] : undefined;
      const existing = at[p];
      if (existing !== undefined && (typeof existing !== 'object' || existing === null || Array.isArray(existing))) throw new Error(`--set ${key}: ${p} is set to a value, not an object`);
      at = (at[p] ??= base && typeof base === 'object' && !Array.isArray(base) ? { ...(base as object) } : {}) as Record<string, unknown>;
    }
    at[path.at(-1)!] = value;
  }
  return patch as Partial<MonitorPolicy>;
}
