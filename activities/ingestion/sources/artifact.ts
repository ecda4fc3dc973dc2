import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ArtifactError, ArtifactNotFoundError, type ArtifactStore } from '../../../infra/artifacts';
import type { IngestFormat, TextEncoding } from '../../../pipelines/steps/ingestion';
import type { LocalSource } from './types';
import { invalidInput } from '../../../pipelines/failures';

/**
 * An object of the configured artifact store (local or S3/MinIO), copied into the step's temporary
 * directory (polars reads files; the store streams and verifies). Its sha256 is the fingerprint.
 */
export async function artifactSource(store: ArtifactStore, src: { uri: string; format: IngestFormat; encoding?: TextEncoding }, dir: string, signal?: AbortSignal): Promise<LocalSource> {
  let key: string;
  try {
    key = store.keyFromUri(src.uri);
  } catch (e) {
    throw invalidInput(`cannot ingest ${src.uri}: ${(e as Error).message}`);
  }
  const file = path.join(dir, `source.${src.format}`);
  const h = createHash('sha256');
  let size = 0;
  try {
    await pipeline(
      await store.get(src.uri),
      async function* (s) {
        for await (const chunk of s) {
          h.update(chunk as Buffer);
          size += (chunk as Buffer).length;
          yield chunk as Buffer;
        }
      },
      fs.createWriteStream(file),
      { signal },
    );
  } catch (e) {
    if (e instanceof ArtifactNotFoundError) throw invalidInput(`artifact not found: ${src.uri}`);
    if (e instanceof ArtifactError && !e.retryable) throw invalidInput(`cannot read ${src.uri}: ${e.message}`);
    throw e;
  }
  return {
    file,
    format: src.format,
    fingerprint: h.digest('hex'),
    label: src.uri,
    ...(src.encoding ? { encoding: src.encoding } : {}),
    record: { kind: 'artifact', uri: src.uri, key, format: src.format, ...(src.encoding ? { encoding: src.encoding } : {}), sizeBytes: size },
  };
}
