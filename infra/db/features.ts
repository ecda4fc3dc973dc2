import type { Db } from './pool';
import { withTransaction } from './pool';

/**
 * Feature store bookkeeping (migration 0005): view versions, offline datasets and training sets,
 * materialization intervals. Every write is keyed by a natural key so a retried step records
 * the same rows again instead of new ones.
 */

export interface ResolvedFeatureColumn {
  name: string;
  /** Sluice column type: int64 | float64 | bool | string | timestamp. */
  type: string;
  role: 'entity' | 'feature';
}

export interface FeatureViewVersionRow {
  name: string;
  version: number;
  definition_sha256: string;
  schema: ResolvedFeatureColumn[] | null;
  online_table: string;
}

/**
 * Registers a view version (first caller wins) and returns what is registered, so the caller
 * can refuse a definition that changed without a new version. The stored definition follows the
 * latest caller whose definition hashes the same (descriptions and tags do not count).
 */
export async function registerFeatureViewVersion(
  db: Db,
  v: { name: string; version: number; definition: unknown; definitionSha256: string; onlineTable: string },
): Promise<FeatureViewVersionRow> {
  const { rows } = await db.query<FeatureViewVersionRow>(
    `INSERT INTO feature_view_versions (name, version, definition, definition_sha256, online_table)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (name, version) DO UPDATE
       SET definition = CASE WHEN feature_view_versions.definition_sha256 = EXCLUDED.definition_sha256
                             THEN EXCLUDED.definition ELSE feature_view_versions.definition END
     RETURNING name, version, definition_sha256, schema, online_table`,
    [v.name, v.version, JSON.stringify(v.definition), v.definitionSha256, v.onlineTable],
  );
  return rows[0]!;
}

export async function getFeatureViewVersion(db: Db, name: string, version: number): Promise<FeatureViewVersionRow | undefined> {
  const { rows } = await db.query<FeatureViewVersionRow>(
    'SELECT name, version, definition_sha256, schema, online_table FROM feature_view_versions WHERE name = $1 AND version = $2',
    [name, version],
  );
  return rows[0];
}

/** Which of these view versions are not registered, in one query (view versions are never removed). */
export async function unregisteredFeatureViews(db: Db, views: readonly { name: string; version: number }[]): Promise<{ name: string; version: number }[]> {
  if (!views.length) return [];
  const { rows } = await db.query<{ name: string; version: number }>(
    `SELECT v.name, v.version FROM unnest($1::text[], $2::int[]) AS v(name, version)
     WHERE NOT EXISTS (SELECT 1 FROM feature_view_versions f WHERE f.name = v.name AND f.version = v.version)`,
    [views.map((v) => v.name), views.map((v) => v.version)],
  );
  return rows;
}

/** The definition a view version was registered with (JSON as given), or undefined when it never was. */
export async function getFeatureViewDefinition(db: Db, name: string, version: number): Promise<unknown> {
  const { rows } = await db.query<{ definition: unknown }>('SELECT definition FROM feature_view_versions WHERE name = $1 AND version = $2', [name, version]);
  return rows[0]?.definition;
}

/** Records the resolved column types unless some are recorded already; returns the recorded ones. */
export async function settleFeatureViewSchema(db: Db, name: string, version: number, schema: ResolvedFeatureColumn[]): Promise<ResolvedFeatureColumn[]> {
  const { rows } = await db.query<{ schema: ResolvedFeatureColumn[] }>(
    `UPDATE feature_view_versions SET schema = COALESCE(schema, $3::jsonb)
     WHERE name = $1 AND version = $2 RETURNING schema`,
    [name, version, JSON.stringify(schema)],
  );
  if (!rows[0]) throw new Error(`feature view ${name} v${version} is not registered`);
  return rows[0].schema;
}

// ---------------------------------------------------------------------------------------------
// Offline parts and training sets

export interface FeatureDatasetRow {
  name: string;
  version: number;
  uri: string;
  sha256: string;
  size_bytes: number;
  rows: number;
  schema: unknown;
  inputs: unknown;
  created_at: Date;
}

/**
 * Registers a Parquet dataset under `name`: identical content keeps the version it has, new
 * content gets the next one. Serialised per name by a transaction-scoped advisory lock.
 */
export async function registerFeatureDataset(
  db: Db,
  d: {
    name: string;
    kind: 'offline' | 'training';
    view?: { name: string; version: number };
    uri: string;
    sha256: string;
    size: number;
    rows: number;
    schema: unknown;
    inputs: unknown;
    runId?: string;
  },
): Promise<{ version: number; created: boolean }> {
  return withTransaction(db, async (c) => {
    await c.query("SELECT pg_advisory_xact_lock(hashtext('sluice.feature_datasets'), hashtext($1))", [d.name]);
    const existing = await c.query<{ version: number }>('SELECT version FROM feature_datasets WHERE name = $1 AND sha256 = $2', [d.name, d.sha256]);
    if (existing.rows[0]) return { version: existing.rows[0].version, created: false };
    const { rows } = await c.query<{ version: number }>(
      `INSERT INTO feature_datasets (name, version, kind, view_name, view_version, uri, sha256, size_bytes, rows, schema, inputs, run_id)
       SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM feature_datasets WHERE name = $1
       RETURNING version`,
      [d.name, d.kind, d.view?.name ?? null, d.view?.version ?? null, d.uri, d.sha256, d.size, d.rows, JSON.stringify(d.schema), JSON.stringify(d.inputs), d.runId ?? null],
    );
    return { version: rows[0]!.version, created: true };
  });
}

/** A view version's offline parts, oldest first. */
export async function listOfflineParts(db: Db, view: { name: string; version: number }): Promise<FeatureDatasetRow[]> {
  const { rows } = await db.query<FeatureDatasetRow>(
    `SELECT name, version, uri, sha256, size_bytes, rows, schema, inputs, created_at FROM feature_datasets
     WHERE kind = 'offline' AND view_name = $1 AND view_version = $2 ORDER BY version`,
    [view.name, view.version],
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Materializations

export interface MaterializationRow {
  id: number;
  start_ts: Date;
  end_ts: Date;
  online: boolean;
  status: 'running' | 'succeeded';
  created_at: Date;
  /**
   * Rows the online write inserted or updated, set in the same transaction as that write: an
   * attempt that failed after it committed leaves it here, so its retry reports the rows written
   * instead of the 0 a second (skipped, not newer) write would count. Null until written.
   */
  online_rows: number | null;
  result: unknown;
}

const MATERIALIZATION_COLUMNS = 'id, start_ts, end_ts, online, status, created_at, online_rows, result';

export async function findMaterialization(
  db: Db,
  k: { runId: string; node: string; view: { name: string; version: number } },
): Promise<MaterializationRow | undefined> {
  const { rows } = await db.query<MaterializationRow>(
    `SELECT ${MATERIALIZATION_COLUMNS} FROM feature_materializations WHERE run_id = $1 AND node = $2 AND view_name = $3 AND view_version = $4`,
    [k.runId, k.node, k.view.name, k.view.version],
  );
  return rows[0];
}

/**
 * Where the next incremental materialization starts: the latest end among finished ones. An
 * online materialization continues from online ones only (an offline-only run wrote nothing
 * online); an offline-only one continues from any.
 */
export async function lastMaterializedEnd(db: Db, view: { name: string; version: number }, online: boolean): Promise<Date | undefined> {
  const { rows } = await db.query<{ end_ts: Date | null }>(
    `SELECT MAX(end_ts) AS end_ts FROM feature_materializations
     WHERE view_name = $1 AND view_version = $2 AND status = 'succeeded' AND (online OR NOT $3::boolean)`,
    [view.name, view.version, online],
  );
  return rows[0]?.end_ts ?? undefined;
}

/**
 * Records a materialization's interval, or returns the one this (run, node) recorded before:
 * a retry keeps its first interval and created_at.
 */
export async function beginMaterialization(
  db: Db,
  m: { runId: string; node: string; view: { name: string; version: number }; start: Date; end: Date; online: boolean; source: { uri: string; sha256: string } },
): Promise<MaterializationRow> {
  const { rows } = await db.query<MaterializationRow>(
    `INSERT INTO feature_materializations (view_name, view_version, run_id, node, start_ts, end_ts, online, source_uri, source_sha256)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (run_id, node, view_name, view_version) DO UPDATE SET run_id = EXCLUDED.run_id
     RETURNING ${MATERIALIZATION_COLUMNS}`,
    [m.view.name, m.view.version, m.runId, m.node, m.start, m.end, m.online, m.source.uri, m.source.sha256],
  );
  return rows[0]!;
}

/** Records the online write's row count, on the client of the transaction that writes the rows. */
export async function recordOnlineWrite(client: Pick<Db, 'query'>, id: number, rows: number): Promise<void> {
  await client.query('UPDATE feature_materializations SET online_rows = $2 WHERE id = $1', [id, rows]);
}

export async function finishMaterialization(
  db: Db,
  id: number,
  r: { offline: { name: string; version: number }; rowsWritten: number; onlineRows: number; result: unknown },
): Promise<void> {
  await db.query(
    `UPDATE feature_materializations
     SET status = 'succeeded', finished_at = now(), offline_name = $2, offline_version = $3, rows_written = $4, online_rows = $5, result = $6
     WHERE id = $1`,
    [id, r.offline.name, r.offline.version, r.rowsWritten, r.onlineRows, JSON.stringify(r.result)],
  );
}

export interface MaterializationSummary {
  start: Date;
  end: Date;
  online: boolean;
  rowsWritten: number;
  onlineRows: number;
  finishedAt: Date;
}

/** Finished materializations of a view version, in the order they ran. */
export async function listMaterializations(db: Db, view: { name: string; version: number }): Promise<MaterializationSummary[]> {
  const { rows } = await db.query<{ start_ts: Date; end_ts: Date; online: boolean; rows_written: number; online_rows: number; finished_at: Date }>(
    `SELECT start_ts, end_ts, online, rows_written, online_rows, finished_at FROM feature_materializations
     WHERE view_name = $1 AND view_version = $2 AND status = 'succeeded' ORDER BY finished_at, id`,
    [view.name, view.version],
  );
  return rows.map((r) => ({ start: r.start_ts, end: r.end_ts, online: r.online, rowsWritten: r.rows_written, onlineRows: r.online_rows, finishedAt: r.finished_at }));
}
