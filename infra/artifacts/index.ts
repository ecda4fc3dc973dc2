import type { SluiceConfig } from '../config';
import { LocalArtifactStore } from './local';
import { S3ArtifactStore } from './s3';
import type { ArtifactStore } from './store';

export * from './store';
export { CAS_PREFIX, casKey, shaOfCasKey, validateKey, validatePrefix, validateWritableKey } from './keys';
export { LocalArtifactStore } from './local';
export { S3ArtifactStore, type S3StoreConfig } from './s3';

/**
 * The artifact store the configuration names: a local directory (created if missing) or an S3
 * bucket (created if missing, so a fresh MinIO works without a manual step).
 */
export async function openArtifactStore(cfg: SluiceConfig['artifacts']): Promise<ArtifactStore> {
  switch (cfg.kind) {
    case 'local':
      return LocalArtifactStore.open(cfg.root);
    case 's3':
      return S3ArtifactStore.open(cfg);
  }
}
