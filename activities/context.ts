import type { Client } from '@temporalio/client';
import type { SluiceConfig } from '../infra/config';
import type { ArtifactStore } from '../infra/artifacts/store';
import type { Db } from '../infra/db/pool';
import type { Logger } from '../infra/log';
import type { GpuInfo } from '../infra/gpu-devices';
import type { InferencePool } from './scoring/inference-pool';

/** What every step implementation receives: built once per worker process, shared by activities. */
export interface ActivityDeps {
  config: SluiceConfig;
  store: ArtifactStore;
  db: Db;
  log: Logger;
  device: GpuInfo;
  /** A Temporal client, connected on first use. */
  temporal(): Promise<Client>;
  /** The process's inference threads (started on demand, up to the configured count). */
  inference: InferencePool;
}
