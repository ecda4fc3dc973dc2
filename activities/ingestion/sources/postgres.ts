import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Db } from '../../../infra/db/pool';
import type { ColumnType } from '../../../pipelines/steps/dataset';
import { parsePgTableName } from '../../../pipelines/steps/ingestion';
import { CopyToStdout } from './pg-copy';
import type { LocalSource } from './types';
import { invalidInput } from '../../../pipelines/failures';

/**
 * A PostgreSQL table or query, streamed with `COPY (…) TO STDOUT (FORMAT csv)` into a local CSV
 * file: the server sends rows as text, nothing is held in memory or turned into JS objects, and
 * polars parses the file. One READ ONLY, REPEATABLE READ transaction covers the column description
 * and the copy, so both see the same snapshot and the query cannot write.
 *
 * Identifiers from users never reach SQL unquoted: a table name is checked part by part (as a
 * dataset name) and quoted with escapeIdentifier. A query is the pipeline author's own SQL: it runs
 * as written, read-only. The connection URL comes from an environment variable of the worker,
 * named in the input, so it never appears in workflow history, logs or lineage.
 */

export interface PostgresSourceSpec {
  table?: string;
  query?: string;
  connectionEnv?: string;
}

/** PostgreSQL type OIDs -> dataset column types; anything else is kept as its text form. */
const PG_TYPES: Record<number, ColumnType> = {
  16: 'bool',
  20: 'int64',
  21: 'int64',
  23: 'int64',
  26: 'int64',
  700: 'float64',
  701: 'float64',
  1700: 'float64',
  1082: 'date',
  1114: 'timestamp',
  1184: 'timestamp',
};

export function columnTypeOfPgType(oid: number): ColumnType {
  return PG_TYPES[oid] ?? 'string';
}

/** The SELECT to copy, and how to name the source in messages. */
export function sourceSelect(src: PostgresSourceSpec): { select: string; label: string } {
  if (src.table !== undefined) {
    const t = parsePgTableName(src.table);
    if ('error' in t) throw invalidInput(`invalid PostgreSQL table name: ${t.error}`);
    const quoted = (t.schema === undefined ? [] : [pg.escapeIdentifier(t.schema)]).concat(pg.escapeIdentifier(t.table)).join('.');
    return { select: `SELECT * FROM ${quoted}`, label: `PostgreSQL table ${quoted}` };
  }
  if (src.query !== undefined) {
    const q = src.query.trim().replace(/;+\s*$/, '').trim();
    if (!q) throw invalidInput('the PostgreSQL source query is empty');
    return { select: q, label: `PostgreSQL query ${JSON.stringify(q.length > 120 ? `${q.slice(0, 119)}…` : q)}` };
  }
  throw invalidInput('a PostgreSQL source needs "table" or "query"');
}

interface Conn {
  client: pg.ClientBase;
  close(broken: boolean): Promise<void>;
}

async function connect(db: Db, connectionEnv: string | undefined): Promise<Conn> {
  if (connectionEnv === undefined) {
    const client = await db.connect();
    return { client, close: async (broken) => client.release(broken) };
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(connectionEnv)) throw invalidInput(`invalid environment variable name ${JSON.stringify(connectionEnv)}`);
  const url = process.env[connectionEnv];
  if (!url) throw invalidInput(`environment variable ${connectionEnv} (the source database URL) is not set on this worker`);
  const client = new pg.Client({ connectionString: url, application_name: 'sluice-ingest' });
  client.on('error', () => undefined); // reported by the query that fails
  await client.connect();
  return { client, close: async () => void (await client.end().catch(() => undefined)) };
}

/** Errors about the request (unknown table or column, syntax, permissions, a write): not worth retrying. */
function isRequestError(e: unknown): e is Error & { code: string } {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && /^(42|22|25006|0A|21)/.test(code);
}

export async function postgresSource(db: Db, src: PostgresSourceSpec, dir: string, opts: { signal?: AbortSignal; onProgress?: (bytes: number) => void } = {}): Promise<LocalSource> {
  const { select, label } = sourceSelect(src);
  const file = path.join(dir, 'source-pg.csv');
  const conn = await connect(db, src.connectionEnv);
  const { client } = conn;
  let broken = false;
  const onAbort = () => {
    broken = true;
    // Closing the socket is the one way to stop a running COPY from this side.
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // Text forms polars parses exactly: UTC timestamps with offsets, ISO dates, shortest exact floats.
    await client.query(`SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'iso_8601'; SET LOCAL extra_float_digits = 3; SET LOCAL bytea_output = 'hex'`);
    const described = await client.query({ text: `SELECT * FROM (${select}) AS sluice_source LIMIT 0`, rowMode: 'array' });
    const names = described.fields.map((f) => f.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup !== undefined) throw invalidInput(`${label} returns two columns named "${dup}": give them distinct names (AS …)`);
    if (!names.length) throw invalidInput(`${label} returns no columns`);

    const out = fs.createWriteStream(file);
    const hash = createHash('sha256');
    let bytes = 0;
    let lastReport = 0;
    const copy = new CopyToStdout(`COPY (${select}) TO STDOUT WITH (FORMAT csv, HEADER true)`, (chunk) => {
      hash.update(chunk);
      bytes += chunk.length;
      if (opts.onProgress && bytes - lastReport > 8 << 20) {
        lastReport = bytes;
        opts.onProgress(bytes);
      }
      if (!out.write(chunk)) return new Promise<void>((resolve) => out.once('drain', resolve));
    });
    client.query(copy);
    let rows: number;
    try {
      rows = await copy.done;
    } finally {
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    }
    await client.query('COMMIT');
    return {
      file,
      format: 'pg-csv',
      fingerprint: hash.digest('hex'),
      label,
      rows,
      record: {
        kind: 'postgres',
        ...(src.table !== undefined ? { table: src.table } : { query: select }),
        connectionEnv: src.connectionEnv ?? null,
        rows,
        columns: described.fields.map((f) => ({ name: f.name, pgType: f.dataTypeID })),
      },
      columnTypes: described.fields.map((f) => ({ name: f.name, type: columnTypeOfPgType(f.dataTypeID), pgType: f.dataTypeID })),
    };
  } catch (e) {
    if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
    if (opts.signal?.aborted) throw opts.signal.reason ?? e;
    if (isRequestError(e)) throw invalidInput(`${label}: ${e.message}`);
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await conn.close(broken);
  }
}
