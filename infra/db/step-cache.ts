import type { Db } from './pool';

export interface CacheEntry {
  output: unknown;
  run_id: string | null;
  node: string | null;
}

export async function lookupStepCache(db: Db, key: string): Promise<CacheEntry | undefined> {
  const { rows } = await db.query<CacheEntry>('SELECT output, run_id, node FROM step_cache WHERE cache_key = $1', [key]);
  return rows[0];
}

export async function storeStepCache(
  db: Db,
  e: { key: string; step: string; version: string; fingerprint: string | undefined; output: unknown; runId: string; node: string },
): Promise<void> {
  await db.query(
    `INSERT INTO step_cache (cache_key, step, step_version, code_fingerprint, output, run_id, node)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (cache_key) DO UPDATE SET output = EXCLUDED.output, run_id = EXCLUDED.run_id, node = EXCLUDED.node, created_at = now()`,
    [e.key, e.step, e.version, e.fingerprint ?? null, JSON.stringify(e.output), e.runId, e.node],
  );
}
