import { CLAIM, isClaim, type ClaimCheck, type ClaimPart } from './claim';

/**
 * Reading claim checks back (claim.ts): the step runtime resolves a step's input with it
 * (activities/runtime/claims.ts), and a client resolves a run's outputs (start.ts), so callers
 * get the values a pipeline declares, never references. Needs only a way to read a stored
 * document: the artifact store (infra/artifacts) is one.
 */

/** What resolving needs of an artifact store: a document's bytes by URI, checked against its hash. */
export interface ClaimStore {
  getBuffer(uri: string, opts: { expectSha256: string; maxBytes: number }): Promise<Uint8Array>;
}

/**
 * The value with every claim in it replaced by what it stands for, claims inside claimed values
 * too (a fan-in of items whose outputs were claimed). Parsed documents are kept in a per-process
 * cache by content hash, so 100,000 items that each read one element of the same claimed list
 * read and parse it once per worker.
 */
export async function resolveClaims(store: ClaimStore, value: unknown, cache: ClaimCache = defaultCache): Promise<unknown> {
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

async function readClaim(store: ClaimStore, c: ClaimCheck, cache: ClaimCache): Promise<unknown> {
  const { concat, index } = c[CLAIM];
  const parts = index ? ((await readPart(store, c[CLAIM].parts[0]!, cache)) as ClaimPart[]) : c[CLAIM].parts;
  if (!concat) return readPart(store, parts[0]!, cache);
  const lists = await Promise.all(parts.map((p) => readPart(store, p, cache)));
  return (lists as unknown[][]).flat(1);
}

async function readPart(store: ClaimStore, p: ClaimPart, cache: ClaimCache): Promise<unknown> {
  const hit = cache.get(p.sha256);
  if (hit !== undefined) return hit;
  let pending = cache.pending.get(p.sha256);
  if (!pending) {
    // Items that start together share one read instead of each fetching the same list.
    pending = store
      .getBuffer(p.uri, { expectSha256: p.sha256, maxBytes: Math.max(p.size, 1) })
      .then((b) => {
        const v = JSON.parse(new TextDecoder().decode(b)) as unknown;
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

/** A JSON object (not an array, null, or a class instance): what claims split into fields. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}
