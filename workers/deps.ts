import type { ActivityDeps } from '../activities/context';
import { openArtifactStore } from '../infra/artifacts';
import type { SluiceConfig } from '../infra/config';
import { createPool } from '../infra/db/pool';
import { resolveDatabaseUrl } from '../infra/stack/database-url';
import type { Logger } from '../infra/log';
import type { GpuInfo } from './gpu-devices';

/** The shared resources activities use, opened once per worker process. */
export async function openActivityDeps(config: SluiceConfig, log: Logger, application: string, device: GpuInfo): Promise<ActivityDeps & { close(): Promise<void> }> {
  const url = await resolveDatabaseUrl(config);
  const db = createPool(url, { application, max: Math.max(4, config.concurrency.cpu + 2) });
  const store = await openArtifactStore(config.artifacts);
  return { config, db, store, log, device, close: () => db.end() };
}
