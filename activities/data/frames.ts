import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pl from 'nodejs-polars';
import type { ArtifactRef, ArtifactStore } from '../../infra/artifacts';

/**
 * Parquet artifacts <-> polars DataFrames, through temporary files: the store streams (and
 * verifies) bytes, polars reads and writes files. Polars writes the same bytes for the same
 * frame, so equal data gets equal content hashes.
 */

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-frame-'));
  try {
    return await fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Copies an artifact to a local file (hash verified on the way) and hands its path to `fn`. */
export async function withLocalCopy<T>(
  store: ArtifactStore,
  ref: ArtifactRef | string,
  fn: (file: string) => Promise<T>,
  opts: { extension?: string } = {},
): Promise<T> {
  return withTempDir(async (dir) => {
    const file = path.join(dir, `data${opts.extension ?? ''}`);
    await copyToFile(store, ref, file);
    return fn(file);
  });
}

/** Copies an artifact into `file` (hash verified on the way). */
export async function copyToFile(store: ArtifactStore, ref: ArtifactRef | string, file: string): Promise<void> {
  await pipeline(await store.get(ref), fs.createWriteStream(file));
}

export async function readFrame(store: ArtifactStore, ref: ArtifactRef | string): Promise<pl.DataFrame> {
  // polars takes a path without the .parquet extension for file content, so keep the extension.
  return withLocalCopy(store, ref, async (file) => pl.readParquet(file), { extension: '.parquet' });
}

/** Writes a frame as Parquet into the content-addressed store. */
export async function writeFrame(store: ArtifactStore, df: pl.DataFrame): Promise<ArtifactRef> {
  return withTempDir(async (dir) => {
    const file = path.join(dir, 'data.parquet');
    df.writeParquet(file, { compression: 'zstd' });
    return store.putContent(fs.createReadStream(file), { contentType: 'application/vnd.apache.parquet' });
  });
}

/** Publishes a Parquet file already on disk (e.g. written by a streaming sink). */
export async function putParquetFile(store: ArtifactStore, file: string): Promise<ArtifactRef> {
  return store.putContent(fs.createReadStream(file), { contentType: 'application/vnd.apache.parquet' });
}
