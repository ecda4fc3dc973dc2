import type { SluiceConfig } from '../infra/config';
import type { ArtifactStore } from '../infra/artifacts/store';
import type { Db } from '../infra/db/pool';
import type { Logger } from '../infra/log';
import type { GpuInfo } from '../workers/gpu-devices';

/** What every step implementation receives: built once per worker process, shared by activities. */
export interface ActivityDeps {
  config: SluiceConfig;
  store: ArtifactStore;
  db: Db;
  log: Logger;
  device: GpuInfo;
}
