import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { IngestFormat } from '../../../pipelines/steps/ingestion';
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

export async function localFileSource(src: { path: string; format?: IngestFormat }, signal?: AbortSignal): Promise<LocalSource> {
  const file = path.resolve(src.path);
  let st: fs.Stats;
  try {
    st = await fs.promises.stat(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw invalidInput(code === 'ENOENT' ? `file not found: ${file}` : `cannot read ${file}: ${(e as Error).message}`);
  }
  if (!st.isFile()) throw invalidInput(`${file} is not a regular file`);
  const format = src.format ?? formatFromPath(file);
  if (!format) throw invalidInput(`cannot tell the format of ${file} from its extension: set source.format (csv, tsv, json, jsonl or parquet)`);
  const fingerprint = await sha256File(file, signal);
  return {
    file,
    format,
    fingerprint,
    label: file,
    record: { kind: 'file', path: file, format, sizeBytes: st.size, modifiedAt: st.mtime.toISOString() },
  };
}
