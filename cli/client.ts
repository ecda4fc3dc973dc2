import { Client, Connection } from '@temporalio/client';
import type { SluiceConfig } from '../infra/config';

export async function connectClient(config: SluiceConfig): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporal.address, connectTimeout: '5s' }).catch((e: Error) => {
    throw new Error(`cannot reach Temporal at ${config.temporal.address} (${e.message}); start the stack with \`sluice up\``);
  });
  return new Client({ connection, namespace: config.temporal.namespace });
}
