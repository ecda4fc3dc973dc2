import type { ArtifactStore } from '../../../infra/artifacts';
import type { Db } from '../../../infra/db/pool';
import type { IngestSource } from '../../../pipelines/steps/ingestion';
import { artifactSource } from './artifact';
import { localFileSource } from './file';
import { postgresSource } from './postgres';
import type { LocalSource } from './types';

export type { LocalSource } from './types';

/** Makes any source a local file (reading the user's file in place), with its fingerprint. */
export async function materializeSource(
  source: IngestSource,
  deps: { store: ArtifactStore; db: Db; dir: string; roots: string[]; signal?: AbortSignal; onProgress?: (bytes: number) => void },
): Promise<LocalSource> {
  switch (source.kind) {
    case 'file':
      return localFileSource(source, { signal: deps.signal, roots: deps.roots });
    case 'artifact':
      return artifactSource(deps.store, source, deps.dir, deps.signal);
    case 'postgres':
      return postgresSource(deps.db, source, deps.dir, { signal: deps.signal, onProgress: deps.onProgress });
  }
}
