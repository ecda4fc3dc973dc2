import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ArtifactRef, ArtifactStore } from '../../infra/artifacts';
import { copyToFile } from './frames';

/**
 * Local copies of artifacts shared by the activities of one worker process: the parallel chunks of
 * a batch-scoring run read the same input dataset, and copying (and hash checking) it once per
 * process instead of once per chunk saves a download, a disk write and a hash of the whole input
 * per chunk. A copy is keyed by content hash, verified by the store as it is written, read-only to
 * its users, and deleted once no activity has used it for LINGER_MS.
 */

const LINGER_MS = 15_000;

interface Entry {
  file: Promise<string>;
  users: number;
  timer?: NodeJS.Timeout;
  dir: string;
}

const entries = new Map<string, Entry>();

/** Calls `fn` with a local file holding `ref`'s bytes, shared with concurrent and later callers for the same content. */
export async function withSharedLocalCopy<T>(store: ArtifactStore, ref: ArtifactRef, fn: (file: string) => Promise<T>, opts: { extension?: string } = {}): Promise<T> {
  const key = `${ref.sha256}${opts.extension ?? ''}`;
  let e = entries.get(key);
  if (!e) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-shared-'));
    const file = path.join(dir, `data${opts.extension ?? ''}`);
    const created: Entry = {
      dir,
      users: 0,
      file: copyToFile(store, ref, file).then(() => file),
    };
    e = created;
    entries.set(key, created);
    created.file.catch(() => drop(key, created)); // a failed copy is not reused
  }
  const entry = e;
  clearTimeout(entry.timer);
  entry.users++;
  try {
    return await fn(await entry.file);
  } finally {
    entry.users--;
    if (entry.users === 0 && entries.get(key) === entry) {
      entry.timer = setTimeout(() => drop(key, entry), LINGER_MS);
      entry.timer.unref();
    }
  }
}

function drop(key: string, entry: Entry): void {
  if (entries.get(key) === entry) entries.delete(key);
  fs.rmSync(entry.dir, { recursive: true, force: true });
}

/** Deletes every copy no activity is using (worker shutdown, tests). */
export function clearSharedLocalCopies(): void {
  for (const [key, e] of [...entries]) {
    if (e.users > 0) continue;
    clearTimeout(e.timer);
    drop(key, e);
  }
}
