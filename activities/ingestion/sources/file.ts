import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { IngestFormat, TextEncoding } from '../../../pipelines/steps/ingestion';
import type { LocalSource } from './types';
import { invalidInput } from '../../../pipelines/failures';

const BY_EXTENSION: Record<string, IngestFormat> = {
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.tab': 'tsv',
  '.json': 'json',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
  '.pq': 'parquet',
};

export function formatFromPath(p: string): IngestFormat | undefined {
  return BY_EXTENSION[path.extname(p).toLowerCase()];
}

/** sha256 of a file, streamed. */
export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), async function* (src) {
    for await (const chunk of src) h.update(chunk as Buffer);
  }, { signal });
  return h.digest('hex');
}

/**
 * A file on the worker, read in place. Relative paths are resolved against the worker's directory
 * (the project's, for `sluice up`); the result, after symlinks, must lie under one of the data
 * roots (SLUICE_DATA_ROOTS), so a step input cannot read whatever the worker process can.
 */
export async function localFileSource(
  src: { path: string; format?: IngestFormat; encoding?: TextEncoding },
  opts: { roots: string[]; signal?: AbortSignal },
): Promise<LocalSource> {
  const file = await confinedPath(src.path, opts.roots);
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch (e) {
    throw invalidInput(`cannot read ${file}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw invalidInput(`${file} is not a regular file`);
  const format = src.format ?? formatFromPath(file);
  if (!format) throw invalidInput(`cannot tell the format of ${file} from its extension: set source.format (csv, tsv, json, jsonl or parquet)`);
  const fingerprint = await sha256File(file, opts.signal);
  return {
    file,
    format,
    fingerprint,
    label: file,
    ...(src.encoding ? { encoding: src.encoding } : {}),
    record: { kind: 'file', path: file, format, ...(src.encoding ? { encoding: src.encoding } : {}), sizeBytes: st.size, modifiedAt: st.mtime.toISOString() },
  };
}

/**
 * The real path of `p` (symlinks resolved), if it lies under a data root (itself resolved);
 * otherwise a non-retryable failure naming the roots. A missing file is reported as such only
 * when its directory is inside a root, so probing paths outside the roots tells nothing.
 */
export async function confinedPath(p: string, roots: string[]): Promise<string> {
  const asked = path.resolve(p);
  const real = await realpathOrNull(asked);
  const realRoots = (await Promise.all(roots.map((r) => realpathOrNull(path.resolve(r))))).filter((r): r is string => r !== null);
  const inside = (f: string) => realRoots.some((r) => f === r || f.startsWith(r.endsWith(path.sep) ? r : r + path.sep));
  const named = roots.length ? roots.join(', ') : '(none)';
  if (real === null) {
    const dir = await realpathOrNull(path.dirname(asked));
    if (dir !== null && inside(dir)) throw invalidInput(`file not found: ${asked}`);
    throw invalidInput(`file not found or outside the data roots: ${asked} (file sources may read only under ${named}; set SLUICE_DATA_ROOTS to allow more)`);
  }
  if (!inside(real)) {
    const via = real === asked ? '' : ` (it resolves to ${real})`;
    throw invalidInput(`${asked}${via} is outside the data roots: file sources may read only under ${named} (set SLUICE_DATA_ROOTS to allow more)`);
  }
  return real;
}

async function realpathOrNull(p: string): Promise<string | null> {
  try {
    return await fs.promises.realpath(p);
  } catch {
    return null;
  }
}
