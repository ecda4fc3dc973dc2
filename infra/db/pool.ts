import pg from 'pg';
import { createLogger, type Logger } from '../log';

// int8 (bigint) as JS number is lossy above 2^53: return counts and sizes as strings only
// when they could overflow. Sizes and counts here stay far below that, so parse them.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
});

export type Db = pg.Pool;

/** `log`: where connection errors go (a worker passes its JSON logger; default: a JSON logger of its own). */
export function createPool(url: string, opts: { max?: number; application?: string; log?: Logger } = {}): Db {
  const log = opts.log ?? createLogger({ component: 'db' });
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 5, application_name: opts.application ?? 'sluice' });
  // An idle client losing its server (PostgreSQL restart) must not crash the worker; the next
  // query reconnects (a step meanwhile retries within its attempt: activities/runtime/infra-retry.ts).
  pool.on('error', (err) => log.warn('idle database connection lost', { error: err.message }));
  // A checked-out client (inside a transaction, between two queries, or even mid-query: pg
  // emits `error` besides failing the active query) has no pool listener, and an `error` event
  // nobody listens to kills the process. Every client gets a listener for its whole life; the
  // query that fails reports the error, and the pool drops the broken client on release.
  pool.on('connect', (client) => {
    client.on('error', (err) => log.warn('database connection lost', { error: err.message }));
  });
  return pool;
}

export async function withTransaction<T>(db: Db, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}
