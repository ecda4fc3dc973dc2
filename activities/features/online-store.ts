import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import pl from 'nodejs-polars';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Db } from '../../infra/db/pool';
import type { ResolvedFeatureColumn } from '../../infra/db/features';
import { featureViewSchema, onlineTableName, type FeatureView } from '../../pipelines/steps/features';
import { withTempDir } from '../data/frames';
import { CREATED_TS, EVENT_TS } from './columns';
import { invalidInput } from '../../pipelines/failures';

/**
 * The online store: one PostgreSQL table per view version, `fv_<view>_v<version>`, holding the
 * latest value per entity: [...entities (primary key), event_ts, created_ts, ...features, updated_at].
 *
 * Writes are bulk and monotonic: the frame goes to a temporary staging table through COPY (CSV
 * written by polars), then one `INSERT … ON CONFLICT (keys) DO UPDATE … WHERE target.event_ts <
 * EXCLUDED.event_ts`, so a value is never replaced by one that is not newer (Feast's rule),
 * whatever order materializations run in, and concurrent writers cannot interleave wrongly.
 */

const PG_TYPES: Record<string, string> = {
  int64: 'bigint',
  float64: 'double precision',
  bool: 'boolean',
  string: 'text',
  timestamp: 'timestamp with time zone',
};

const SAFE_IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,62}$/;

/**
 * Validates a view before any SQL is built from it. Views normally arrive validated (step input
 * schema, featureView()), but the online store is also called directly, e.g. by scoring.
 */
export function assertSafeView(view: unknown): FeatureView {
  const r = featureViewSchema.safeParse(view);
  if (!r.success) {
    const name = typeof (view as { name?: unknown })?.name === 'string' ? ` ${JSON.stringify((view as { name: string }).name)}` : '';
    throw invalidInput(`invalid feature view${name}: ${r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}

/** A quoted identifier, refused unless it is plain (letters, digits, "_"): quoting is the second line of defence. */
export function ident(name: string): string {
  if (!SAFE_IDENTIFIER.test(name)) throw invalidInput(`${JSON.stringify(name)} cannot be a PostgreSQL identifier here: use letters, digits and "_", starting with a letter (max 63)`);
  return pg.escapeIdentifier(name);
}

export function onlineTableIdent(view: Pick<FeatureView, 'name' | 'version'>): string {
  return ident(onlineTableName(view));
}

function columnDefs(schema: ResolvedFeatureColumn[]): { name: string; pgType: string }[] {
  const col = (name: string, type: string) => {
    const pgType = PG_TYPES[type];
    if (!pgType) throw invalidInput(`column "${name}" has type ${type}, which the online store cannot hold`);
    return { name, pgType };
  };
  const keys = schema.filter((c) => c.role === 'entity').map((c) => col(c.name, c.type));
  const feats = schema.filter((c) => c.role === 'feature').map((c) => col(c.name, c.type));
  return [...keys, col(EVENT_TS, 'timestamp'), col(CREATED_TS, 'timestamp'), ...feats];
}

/** Creates the view's online table if missing; refuses an existing one whose columns differ. */
export async function ensureOnlineTable(db: Db, view: FeatureView, schema: ResolvedFeatureColumn[]): Promise<void> {
  assertSafeView(view);
  const table = onlineTableIdent(view);
  const cols = columnDefs(schema);
  const keys = schema.filter((c) => c.role === 'entity').map((c) => ident(c.name));
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT pg_advisory_xact_lock(hashtext('sluice.online_table'), hashtext($1))", [onlineTableName(view)]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${table} (
        ${cols.map((c) => `${ident(c.name)} ${c.pgType}${c.name === EVENT_TS || keys.includes(ident(c.name)) ? ' NOT NULL' : ''}`).join(',\n        ')},
        updated_at timestamp with time zone NOT NULL DEFAULT now(),
        PRIMARY KEY (${keys.join(', ')})
      )`,
    );
    const { rows } = await client.query<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
      [onlineTableName(view)],
    );
    const want = [...cols.map((c) => `${c.name} ${c.pgType}`), 'updated_at timestamp with time zone'];
    const have = rows.map((r) => `${r.column_name} ${r.data_type}`);
    if (want.join(',') !== have.join(',')) {
      throw invalidInput(`online table ${onlineTableName(view)} exists with columns (${have.join(', ')}), expected (${want.join(', ')}); bump the view version to change its columns`);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

/**
 * The latest row per entity (Feast's materialization rule): the largest event_ts, ties broken
 * by the largest created_ts, then by the later row.
 */
export function latestPerEntity(frame: pl.DataFrame, entities: string[]): pl.DataFrame {
  // Sorting by the two times only (integers; string keys sort slowly): `unique` keeps each key's last row in that order.
  return frame.sort({ by: [EVENT_TS, CREATED_TS], nullsLast: false, maintainOrder: true }).unique({ subset: entities, keep: 'last' });
}

/**
 * Upserts one row per entity (`frame` must hold at most one per key: see latestPerEntity) and
 * returns how many rows were inserted or updated; rows not newer than what is stored are skipped.
 * `record` runs in the write's transaction with that count (a materialization records it there,
 * so the count commits exactly when the rows do; an empty frame writes and records nothing).
 */
export async function writeOnline(
  db: Db,
  view: FeatureView,
  schema: ResolvedFeatureColumn[],
  frame: pl.DataFrame,
  record?: (client: pg.PoolClient, rows: number) => Promise<void>,
): Promise<number> {
  assertSafeView(view);
  if (frame.height === 0) return 0; // nothing to write, nothing to record: a retry counts 0 again
  const table = onlineTableIdent(view);
  const cols = columnDefs(schema);
  const names = cols.map((c) => ident(c.name));
  const keys = schema.filter((c) => c.role === 'entity').map((c) => ident(c.name));
  const updatable = names.filter((n) => !keys.includes(n));
  const stage = ident('sluice_fv_stage');

  return withTempDir(async (dir) => {
    const csv = path.join(dir, 'rows.csv');
    frame.select(...cols.map((c) => pl.col(c.name))).writeCSV(csv, { includeHeader: true, datetimeFormat: '%Y-%m-%dT%H:%M:%S%.3fZ' });
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      await client.query("SET LOCAL TIME ZONE 'UTC'");
      await client.query(`CREATE TEMPORARY TABLE ${stage} (${cols.map((c) => `${ident(c.name)} ${c.pgType}`).join(', ')}) ON COMMIT DROP`);
      await pipeline(fs.createReadStream(csv), client.query(copyFrom(`COPY ${stage} (${names.join(', ')}) FROM STDIN WITH (FORMAT csv, HEADER true)`)));
      const result = await client.query(
        `INSERT INTO ${table} AS target (${names.join(', ')})
         SELECT ${names.join(', ')} FROM ${stage}
         ON CONFLICT (${keys.join(', ')}) DO UPDATE
           SET ${[...updatable.map((n) => `${n} = EXCLUDED.${n}`), 'updated_at = now()'].join(', ')}
           WHERE target.${ident(EVENT_TS)} < EXCLUDED.${ident(EVENT_TS)}`,
      );
      await record?.(client, result.rowCount ?? 0);
      await client.query('COMMIT');
      return result.rowCount ?? 0;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  });
}
