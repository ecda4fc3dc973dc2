import pg from 'pg';
import type pl from 'nodejs-polars';
import type { DataType } from 'nodejs-polars';
import { withTransaction, type Db } from '../../infra/db/pool';
import { PREDICTION_TABLE_RE } from '../../pipelines/steps/scoring';
import { ROW_ID } from './common';
import { invalidInput } from '../../pipelines/failures';

/**
 * Predictions into a PostgreSQL table of Sluice's database. The table name comes from users: it
 * must match `^[a-z_][a-z0-9_]{0,62}$` and reaches SQL only through pg.escapeIdentifier (column
 * names too). The table is created on first use (under an advisory lock, so parallel chunks do
 * not race), keyed by `(input_dataset, row_id)`: a chunk's rows are upserted in one transaction,
 * so re-running a chunk, or the whole pipeline on the same dataset version, replaces predictions
 * instead of adding rows.
 */

export function checkTableName(table: string): string {
  if (!PREDICTION_TABLE_RE.test(table)) throw invalidInput(`invalid prediction table name ${JSON.stringify(table)}: lowercase letters, digits and "_", starting with a letter or "_" (max 63)`);
  return table;
}

const q = (name: string) => pg.escapeIdentifier(name);

function pgType(d: DataType): { sql: string; array: string; kind: 'int' | 'float' | 'bool' | 'text' | 'time' } {
  const v = d.variant;
  if (['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64'].includes(v)) return { sql: 'bigint', array: 'bigint[]', kind: 'int' };
  if (v === 'Float32' || v === 'Float64' || v === 'Decimal') return { sql: 'double precision', array: 'float8[]', kind: 'float' };
  if (v === 'Bool') return { sql: 'boolean', array: 'boolean[]', kind: 'bool' };
  if (v === 'Date' || v === 'Datetime') return { sql: 'timestamptz', array: 'timestamptz[]', kind: 'time' };
  return { sql: 'text', array: 'text[]', kind: 'text' };
}

const ROWS_PER_STATEMENT = 10_000;

/**
 * Upserts prediction frames (the chunk's batches, read one at a time as they are iterated) in one
 * transaction. `inputDataset` (`name@version`) and `chunk` are stored with every row. Returns the
 * number of rows written.
 */
export async function upsertPredictions(db: Db, table: string, frames: Iterable<pl.DataFrame> | AsyncIterable<pl.DataFrame>, meta: { inputDataset: string; chunk: number }): Promise<number> {
  checkTableName(table);
  let written = 0;
  try {
    await withTransaction(db, async (c) => {
      let ready = false;
      for await (const frame of frames) {
        const cols = frame.getColumns().map((s) => ({ name: s.name, type: pgType(s.dtype) }));
        if (!ready) {
          await ensureTable(c, table, cols);
          ready = true;
        }
        for (let off = 0; off < frame.height; off += ROWS_PER_STATEMENT) {
          const part = frame.slice(off, Math.min(ROWS_PER_STATEMENT, frame.height - off));
          const values = cols.map((col) => toPgArray(part.getColumn(col.name), col.type.kind));
          const names = ['input_dataset', 'chunk', ...cols.map((c2) => c2.name)];
          const sql = `INSERT INTO ${q(table)} (${names.map(q).join(', ')})
            SELECT $1::text, $2::integer, u.* FROM unnest(${cols.map((col, i) => `$${i + 3}::${col.type.array}`).join(', ')}) AS u
            ON CONFLICT (input_dataset, ${q(ROW_ID)}) DO UPDATE SET ${['chunk', ...cols.map((c2) => c2.name)]
              .filter((x) => x !== ROW_ID)
              .map((x) => `${q(x)} = EXCLUDED.${q(x)}`)
              .join(', ')}`;
          const r = await c.query(sql, [meta.inputDataset, meta.chunk, ...values]);
          written += r.rowCount ?? part.height;
        }
      }
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    // undefined column / datatype mismatch: the table was made for other predictions.
    if (code === '42703' || code === '42804' || code === '22P02') {
      throw invalidInput(`prediction table ${table} does not fit these predictions (${(e as Error).message}); use another table or drop it`);
    }
    throw e;
  }
  return written;
}

async function ensureTable(c: pg.PoolClient, table: string, cols: { name: string; type: { sql: string } }[]): Promise<void> {
  await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sluice.scoring.table:${table}`]);
  const defs = cols.map((col) => `${q(col.name)} ${col.type.sql}${col.name === ROW_ID ? ' NOT NULL' : ''}`);
  await c.query(
    `CREATE TABLE IF NOT EXISTS ${q(table)} (
       input_dataset text NOT NULL,
       chunk integer NOT NULL,
       ${defs.join(',\n       ')},
       scored_at timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (input_dataset, ${q(ROW_ID)})
     )`,
  );
}

function toPgArray(s: pl.Series, kind: 'int' | 'float' | 'bool' | 'text' | 'time'): unknown[] {
  const values = s.toArray() as unknown[];
  switch (kind) {
    case 'int':
      return values.map((v) => (v === null || v === undefined ? null : typeof v === 'bigint' ? v.toString() : v));
    case 'float':
      return values.map((v) => (v === null || v === undefined ? null : Number.isNaN(v as number) ? 'NaN' : v));
    case 'time':
      return values.map((v) => (v instanceof Date ? v.toISOString() : v ?? null));
    default:
      return values.map((v) => (v === null || v === undefined ? null : typeof v === 'string' ? v : String(v)));
  }
}

/** Rows of a prediction table for one input dataset version (tests, the CLI). */
export async function countPredictionRows(db: Db, table: string, inputDataset?: string): Promise<number> {
  checkTableName(table);
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${q(table)} WHERE ($1::text IS NULL OR input_dataset = $1)`, [inputDataset ?? null]);
  return Number(rows[0]!.n);
}
