import { Client, Connection } from '@temporalio/client';
import type { SluiceConfig } from '../infra/config';
import { startTracing } from '../infra/tracing';

export async function connectClient(config: SluiceConfig): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporal.address, connectTimeout: '5s' }).catch((e: Error) => {
    throw new Error(`cannot reach Temporal at ${config.temporal.address} (${e.message}); start the stack with \`sluice up\``);
  });
  // SLUICE_TRACES: StartWorkflow/Signal/Query spans, and the trace carried into the run.
  const tracing = await startTracing(config, 'sluice-cli');
  return new Client({ connection, namespace: config.temporal.namespace, ...(tracing && { interceptors: { workflow: tracing.clientInterceptors() } }) });
}
