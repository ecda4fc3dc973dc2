import type { ArtifactStore } from '../../infra/artifacts/store';
import { CLAIM, isClaim, jsonSize, type ClaimCheck, type ClaimPart } from '../../pipelines/dsl/claim';

/**
 * The worker's side of claim checks (pipelines/dsl/claim.ts): outputs too large for history go
 * to the artifact store, and claims in a step's input are read back before the step runs.
 */

/**
 * A step's output as it travels through history: itself when small; otherwise, for an object, the
 * same object with its largest fields replaced by claims until the rest fits (so small fields, a
 * condition's flag or a count, stay readable by workflow code); anything else is claimed whole.
 * Content-addressed: the same output always gives the same claim.
 */
export async function claimLargeOutput(store: ArtifactStore, output: unknown, threshold: number): Promise<unknown> {
  const size = jsonSize(output);
  if (size <= threshold) return output;
  if (!isPlainObject(output)) return storeClaim(store, output);
  const fields = Object.entries(output).map(([k, v]) => ({ k, v, size: jsonSize(v) }));
  const out: Record<string, unknown> = { ...output };
  let left = size;
  for (const f of fields.sort((a, b) => b.size - a.size)) {
    if (left <= threshold || f.size < MIN_CLAIMED_FIELD) break;
    const claim = await storeClaim(store, f.v);
    out[f.k] = claim;
    left += jsonSize(claim) - f.size;
  }
  return out;
}

/** Fields smaller than this stay inline: a flag or a count costs less than its claim would. */
const MIN_CLAIMED_FIELD = 64;

/** Stores a value as JSON, content-addressed, and returns its claim (with its length when it is a list). */
export async function storeClaim(store: ArtifactStore, value: unknown): Promise<ClaimCheck> {
  const ref = await store.putContent(JSON.stringify(value), { contentType: 'application/json' });
  return { [CLAIM]: { parts: [{ uri: ref.uri, sha256: ref.sha256, size: ref.size }] }, ...(Array.isArray(value) ? { length: value.length } : {}), path: [] };
}

/** A concatenation of many parts as an index claim: one part (the list of parts) instead of all of them. */
export async function indexClaim(store: ArtifactStore, c: ClaimCheck): Promise<ClaimCheck> {
  const ref = await store.putContent(JSON.stringify(c[CLAIM].parts), { contentType: 'application/json' });
  return { [CLAIM]: { parts: [{ uri: ref.uri, sha256: ref.sha256, size: ref.size }], concat: true, index: true }, ...(c.length === undefined ? {} : { length: c.length }), path: [] };
}

/**
 * The value with every claim in it replaced by what it stands for, claims inside claimed values
 * too (a fan-in of items whose outputs were claimed). Parsed documents are kept in a per-process
 * cache by content hash, so 100,000 items that each read one element of the same claimed list
 * read and parse it once per worker.
 */
export async function resolveClaims(store: ArtifactStore, value: unknown, cache: ClaimCache = defaultCache): Promise<unknown> {
  if (isClaim(value)) {
    const whole = await readClaim(store, value, cache);
    let v: unknown = whole;
    for (const k of value.path) {
      if (v === null || v === undefined) return undefined;
      v = (v as Record<string | number, unknown>)[k];
    }
    return resolveClaims(store, v, cache);
  }
  if (Array.isArray(value)) {
    // Most lists hold no claim at all: leave them as they are (no copy of a 100,000-item list).
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const x = value[i];
      if (typeof x !== 'object' || x === null) continue;
      const r = await resolveClaims(store, x, cache);
      if (r !== x) (out ??= value.slice())[i] = r;
    }
    return out ?? value;
  }
  if (isPlainObject(value)) {
    let out: Record<string, unknown> | undefined;
    for (const [k, x] of Object.entries(value)) {
      if (typeof x !== 'object' || x === null) continue;
      const r = await resolveClaims(store, x, cache);
      if (r !== x) (out ??= { ...value })[k] = r;
    }
    return out ?? value;
  }
  return value;
}

/** Whether a value holds a claim anywhere (stops at the first). */
export function holdsClaim(v: unknown): boolean {
  if (isClaim(v)) return true;
  if (Array.isArray(v)) return v.some((x) => typeof x === 'object' && x !== null && holdsClaim(x));
  if (isPlainObject(v)) return Object.values(v).some((x) => typeof x === 'object' && x !== null && holdsClaim(x));
  return false;
}

async function readClaim(store: ArtifactStore, c: ClaimCheck, cache: ClaimCache): Promise<unknown> {
  const { concat, index } = c[CLAIM];
  const parts = index ? ((await readPart(store, c[CLAIM].parts[0]!, cache)) as ClaimPart[]) : c[CLAIM].parts;
  if (!concat) return readPart(store, parts[0]!, cache);
  const lists = await Promise.all(parts.map((p) => readPart(store, p, cache)));
  return (lists as unknown[][]).flat(1);
}

async function readPart(store: ArtifactStore, p: ClaimPart, cache: ClaimCache): Promise<unknown> {
  const hit = cache.get(p.sha256);
  if (hit !== undefined) return hit;
  let pending = cache.pending.get(p.sha256);
  if (!pending) {
    // Items that start together share one read instead of each fetching the same list.
    pending = store
      .getBuffer(p.uri, { expectSha256: p.sha256, maxBytes: Math.max(p.size, 1) })
      .then((b) => {
        const v = JSON.parse(b.toString('utf8')) as unknown;
        cache.set(p.sha256, v, p.size);
        return v;
      })
      .finally(() => cache.pending.delete(p.sha256));
    cache.pending.set(p.sha256, pending);
  }
  return pending;
}

/** Parsed claimed documents by content hash, least recently used out first, bounded by their JSON size. */
export class ClaimCache {
  private readonly entries = new Map<string, { value: unknown; size: number }>();
  private bytes = 0;
  readonly pending = new Map<string, Promise<unknown>>();
  constructor(private readonly maxBytes: number) {}

  get(key: string): unknown {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.value;
  }

  set(key: string, value: unknown, size: number): void {
    if (size > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) this.bytes -= old.size;
    this.entries.delete(key);
    this.entries.set(key, { value, size });
    this.bytes += size;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= e.size;
    }
  }
}

/** 128 MiB of claimed JSON per worker process (parsed, it takes a few times that). */
const defaultCache = new ClaimCache(128 * 1024 * 1024);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}
