import { Client, Connection } from '@temporalio/client';
import type { ActivityDeps } from '../activities/context';
import { InferencePool, inferenceThreads } from '../activities/scoring/inference-pool';
import { openArtifactStore } from '../infra/artifacts';
import type { SluiceConfig } from '../infra/config';
import { createPool } from '../infra/db/pool';
import type { GpuInfo } from '../infra/gpu-devices';
import { resolveDatabaseUrl } from '../infra/stack/database-url';
import type { Logger } from '../infra/log';

/**
 * The shared resources activities use, opened once per worker process and handed to every step
 * through its context: implementations never read the configuration to open their own.
 */
export async function openActivityDeps(config: SluiceConfig, log: Logger, application: string, device: GpuInfo): Promise<ActivityDeps & { close(): Promise<void> }> {
  const url = await resolveDatabaseUrl(config);
  const db = createPool(url, { application, max: Math.max(4, config.concurrency.cpu + 2), log });
  const store = await openArtifactStore(config.artifacts);
  // Few steps talk to Temporal (notify-monitor): connect on first use, not at every worker start.
  let connection: Promise<Connection> | undefined;
  let client: Promise<Client> | undefined;
  const temporal = (): Promise<Client> => {
    client ??= (async () => {
      connection = Connection.connect({ address: config.temporal.address });
      return new Client({ connection: await connection, namespace: config.temporal.namespace });
    })();
    return client;
  };
  // Threads start on demand, so a worker that never scores pays nothing for its pool.
  const inference = new InferencePool(inferenceThreads(config.inferenceThreads));
  return {
    config,
    db,
    store,
    log,
    device,
    temporal,
    inference,
    close: async () => {
      await inference.close();
      await (await connection?.catch(() => undefined))?.close();
      await db.end();
    },
  };
}
