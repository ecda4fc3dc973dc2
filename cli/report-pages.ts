import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { CAS_PREFIX, casKey, type ArtifactLocator, type ArtifactStore } from '../infra/artifacts';

/**
 * Reports (validation, evaluation, drift) are HTML stored as content-addressed artifacts, whose
 * keys have no extension: a browser shows them as plain text. The CLI prints a page instead: a
 * copy of the report at `<SLUICE_HOME>/reports/<sha256>.html` (downloaded first when the store is
 * S3) and its file:// URL, which opens as a page. Content-addressed copies are made once.
 */

/** `cas/<sha256>` for a bare sha256, else the locator as given (a URI, a key or a ref). */
export function reportLocator(idOrUri: string): string {
  return /^[0-9a-f]{64}$/i.test(idOrUri) ? casKey(idOrUri.toLowerCase()) : idOrUri;
}

export async function reportPage(store: ArtifactStore, home: string, at: ArtifactLocator): Promise<string> {
  const key = typeof at === 'string' && !at.includes('://') ? at : store.keyFromUri(typeof at === 'string' ? at : at.uri);
  const dir = path.join(home, 'reports');
  const file = path.join(dir, `${key.startsWith(CAS_PREFIX) ? path.posix.basename(key) : key.replace(/[^A-Za-z0-9_.-]+/g, '_')}.html`);
  // Same key under cas/, same bytes: a copy made before is this report. Other keys may change.
  if (!(key.startsWith(CAS_PREFIX) && fs.existsSync(file))) {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await pipeline(await store.get(key), fs.createWriteStream(tmp));
      fs.renameSync(tmp, file);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }
  return pathToFileURL(file).href;
}

/** Whether an artifact is an HTML page, from its first bytes (refs carry no content type through a run). */
async function isHtml(store: ArtifactStore, at: ArtifactLocator): Promise<boolean> {
  const stream = await store.get(at);
  try {
    for await (const chunk of stream) return /^\s*<(!doctype html|html)[\s>]/i.test(Buffer.from(chunk as Buffer).subarray(0, 512).toString('utf8'));
    return false;
  } finally {
    stream.destroy();
  }
}

/**
 * `report <output>: <page>` for each HTML report among a run's outputs (outputs named like a
 * report whose artifact is an HTML page), so `sluice run --wait` prints pages, not raw keys.
 */
export async function reportPageLines(store: ArtifactStore, home: string, outputs: unknown): Promise<string[]> {
  if (!outputs || typeof outputs !== 'object') return [];
  const lines: string[] = [];
  for (const [name, v] of Object.entries(outputs as Record<string, unknown>)) {
    const ref = v as { uri?: unknown; sha256?: unknown };
    if (!/report|html/i.test(name) || typeof ref?.uri !== 'string' || typeof ref.sha256 !== 'string') continue;
    if (await isHtml(store, ref.uri)) lines.push(`report ${name}: ${await reportPage(store, home, ref.uri)}`);
  }
  return lines;
}
