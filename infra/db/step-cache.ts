import { Batcher, perConnection } from './batcher';
import type { Db } from './pool';

export interface CacheEntry {
  output: unknown;
  run_id: string | null;
  node: string | null;
}

export type CacheStore = { key: string; step: string; version: string; fingerprint: string | undefined; output: unknown; runId: string; node: string };

/**
 * Look-ups and stores go through per-pool batchers (./batcher.ts): the items of a fan-out that
 * look up the cache together on one worker (a rerun: all of them) share one query.
 */
const batches = perConnection((db: Db) => ({
  lookups: new Batcher<string, CacheEntry | undefined>(async (keys) => {
    const { rows } = await db.query<CacheEntry & { cache_key: string }>('SELECT cache_key, output, run_id, node FROM step_cache WHERE cache_key = ANY($1::text[])', [keys]);
    const byKey = new Map(rows.map(({ cache_key, ...e }) => [cache_key, e]));
    return keys.map((k) => byKey.get(k));
  }),
  stores: new Batcher<CacheStore>(
    async (rows) => {
      await db.query(
        `INSERT INTO step_cache (cache_key, step, step_version, code_fingerprint, output, run_id, node)
         SELECT k, s, v, f, o::jsonb, r, n FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS t(k, s, v, f, o, r, n)
         ON CONFLICT (cache_key) DO UPDATE SET output = EXCLUDED.output, run_id = EXCLUDED.run_id, node = EXCLUDED.node, created_at = now()`,
        [rows.map((e) => e.key), rows.map((e) => e.step), rows.map((e) => e.version), rows.map((e) => e.fingerprint ?? null), rows.map((e) => JSON.stringify(e.output)), rows.map((e) => e.runId), rows.map((e) => e.node)],
      );
      return rows.map(() => undefined);
    },
    { key: (e) => e.key },
  ),
}));

export async function lookupStepCache(db: Db, key: string): Promise<CacheEntry | undefined> {
  return batches(db).lookups.add(key);
}

export async function storeStepCache(db: Db, e: CacheStore): Promise<void> {
  await batches(db).stores.add(e);
}
