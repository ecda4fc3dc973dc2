import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from './pool';
import { migrationsDir } from '../paths';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** Files named `NNNN_description.sql`, in version order. */
export function loadMigrations(dir = migrationsDir): Migration[] {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const seen = new Set<number>();
  return files.map((file) => {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new Error(`migration file ${file} in ${dir} is not named NNNN_description.sql`);
    const version = Number(m[1]);
    if (seen.has(version)) throw new Error(`two migrations share version ${m[1]} in ${dir}`);
    seen.add(version);
    const sql = fs.readFileSync(path.join(dir, file), 'utf8');
    return { version, name: m[2]!, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') };
  });
}

// Any fixed 64-bit key: every Sluice process that migrates takes this lock first.
const MIGRATION_LOCK_KEY = 0x51_75_1c_e0;

/**
 * Applies pending migrations, each in its own transaction, recorded in `schema_migrations`.
 * A session-level advisory lock serialises concurrent callers (two workers starting at once):
 * the second waits, then finds nothing left to do. An applied migration whose file changed is an
 * error, since the database no longer matches the code's idea of it.
 */
export async function migrate(db: Db, migrations = loadMigrations()): Promise<{ applied: number[] }> {
  const client = await db.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version     integer PRIMARY KEY,
      name        text NOT NULL,
      checksum    text NOT NULL,
      applied_at  timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number; checksum: string; name: string }>(
      'SELECT version, checksum, name FROM schema_migrations',
    );
    const done = new Map(rows.map((r) => [r.version, r]));
    for (const m of migrations) {
      const prior = done.get(m.version);
      if (prior) {
        if (prior.checksum !== m.checksum) {
          throw new Error(
            `migration ${m.version} (${m.name}) was changed after it was applied; add a new migration instead of editing it`,
          );
        }
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          m.version,
          m.name,
          m.checksum,
        ]);
        await client.query('COMMIT');
        applied.push(m.version);
      } catch (e) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`migration ${m.version} (${m.name}) failed and was rolled back: ${(e as Error).message}`);
      }
    }
    return { applied };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}
