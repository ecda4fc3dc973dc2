import { datasetName, type DatasetSchema } from '../../pipelines/steps/dataset';
import { withTransaction, type Db } from './pool';

/**
 * Dataset versions in PostgreSQL (migration 0003). Versions are integers per name, from 1, and
 * immutable; the same content (sha256) under the same name is always the same version.
 *
 * Registration is race-safe: the name's row in `datasets` is locked (SELECT … FOR UPDATE) for the
 * transaction, so concurrent registrations of one name run one after the other: the second sees
 * the first's version (same sha256: returned as is) or takes the next number. `UNIQUE (name,
 * sha256)` and the primary key back this up.
 */

export interface NewDatasetVersion {
  name: string;
  uri: string;
  sha256: string;
  sizeBytes: number;
  rows: number;
  schema: DatasetSchema;
  profile?: unknown;
  profileUri?: string;
  /** What was read: never a secret (an env var's name, not the URL it holds). */
  source: unknown;
  sourceFingerprint?: string;
  badRows?: number;
  quarantineUri?: string;
  runId?: string;
}

export interface DatasetVersion {
  name: string;
  version: number;
  uri: string;
  sha256: string;
  sizeBytes: number;
  rows: number;
  schema: DatasetSchema;
  profile: unknown;
  profileUri: string | null;
  source: unknown;
  sourceFingerprint: string | null;
  badRows: number;
  quarantineUri: string | null;
  runId: string | null;
  createdAt: Date;
}

export interface DatasetSummary {
  name: string;
  createdAt: Date;
  versions: number;
  latestVersion: number | null;
  latestCreatedAt: Date | null;
}

interface VersionRow {
  name: string;
  version: number;
  uri: string;
  sha256: string;
  size_bytes: number | string;
  rows: number | string;
  schema: DatasetSchema;
  profile: unknown;
  profile_uri: string | null;
  source: unknown;
  source_fingerprint: string | null;
  bad_rows: number | string;
  quarantine_uri: string | null;
  run_id: string | null;
  created_at: Date;
}

const COLUMNS = `name, version, uri, sha256, size_bytes, rows, schema, profile, profile_uri, source, source_fingerprint,
  bad_rows, quarantine_uri, run_id, created_at`;

function toVersion(r: VersionRow): DatasetVersion {
  return {
    name: r.name,
    version: r.version,
    uri: r.uri,
    sha256: r.sha256,
    sizeBytes: Number(r.size_bytes),
    rows: Number(r.rows),
    schema: r.schema,
    profile: r.profile,
    profileUri: r.profile_uri,
    source: r.source,
    sourceFingerprint: r.source_fingerprint,
    badRows: Number(r.bad_rows),
    quarantineUri: r.quarantine_uri,
    runId: r.run_id,
    createdAt: r.created_at,
  };
}

export class InvalidDatasetNameError extends Error {
  override name = 'InvalidDatasetNameError';
  constructor(readonly datasetName: string) {
    super(`invalid dataset name ${JSON.stringify(datasetName)}: letters, digits, "_", "." and "-", starting with a letter (max 128)`);
  }
}

/** Dataset names reach SQL only as bind parameters, but are still checked: they also name paths and show in UIs. */
export function checkDatasetName(name: string): string {
  if (!datasetName.safeParse(name).success) throw new InvalidDatasetNameError(name);
  return name;
}

/**
 * Registers a version, or returns the existing one with the same content. `created` tells which.
 */
export async function registerDatasetVersion(db: Db, v: NewDatasetVersion): Promise<{ version: DatasetVersion; created: boolean }> {
  checkDatasetName(v.name);
  return withTransaction(db, async (c) => {
    await c.query('INSERT INTO datasets (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [v.name]);
    await c.query('SELECT 1 FROM datasets WHERE name = $1 FOR UPDATE', [v.name]);
    const same = await c.query<VersionRow>(`SELECT ${COLUMNS} FROM dataset_versions WHERE name = $1 AND sha256 = $2`, [v.name, v.sha256]);
    if (same.rows[0]) return { version: toVersion(same.rows[0]), created: false };
    const { rows } = await c.query<VersionRow>(
      `INSERT INTO dataset_versions (name, version, uri, sha256, size_bytes, rows, schema, profile, profile_uri, source,
                                     source_fingerprint, bad_rows, quarantine_uri, run_id)
       SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
         FROM dataset_versions WHERE name = $1
       RETURNING ${COLUMNS}`,
      [
        v.name,
        v.uri,
        v.sha256,
        v.sizeBytes,
        v.rows,
        JSON.stringify(v.schema),
        v.profile === undefined ? null : JSON.stringify(v.profile),
        v.profileUri ?? null,
        JSON.stringify(v.source ?? null),
        v.sourceFingerprint ?? null,
        v.badRows ?? 0,
        v.quarantineUri ?? null,
        v.runId ?? null,
      ],
    );
    return { version: toVersion(rows[0]!), created: true };
  });
}

/** `name@version`, or the latest version when `version` is omitted or 'latest'. */
export async function getDatasetVersion(db: Db, name: string, version: number | 'latest' = 'latest'): Promise<DatasetVersion | undefined> {
  checkDatasetName(name);
  const { rows } =
    version === 'latest'
      ? await db.query<VersionRow>(`SELECT ${COLUMNS} FROM dataset_versions WHERE name = $1 ORDER BY version DESC LIMIT 1`, [name])
      : await db.query<VersionRow>(`SELECT ${COLUMNS} FROM dataset_versions WHERE name = $1 AND version = $2`, [name, version]);
  return rows[0] ? toVersion(rows[0]) : undefined;
}

/** Parses `name`, `name@3` or `name@latest`. */
export function parseDatasetSpec(spec: string): { name: string; version: number | 'latest' } {
  const at = spec.lastIndexOf('@');
  const name = at < 0 ? spec : spec.slice(0, at);
  const v = at < 0 ? 'latest' : spec.slice(at + 1);
  checkDatasetName(name);
  if (v === 'latest') return { name, version: 'latest' };
  if (!/^[1-9][0-9]{0,8}$/.test(v)) throw new Error(`invalid dataset version in ${JSON.stringify(spec)}: a positive integer or "latest"`);
  return { name, version: Number(v) };
}

export async function findDatasetVersionBySha(db: Db, name: string, sha256: string): Promise<DatasetVersion | undefined> {
  checkDatasetName(name);
  const { rows } = await db.query<VersionRow>(`SELECT ${COLUMNS} FROM dataset_versions WHERE name = $1 AND sha256 = $2`, [name, sha256]);
  return rows[0] ? toVersion(rows[0]) : undefined;
}

/** Versions of one dataset, newest first. */
export async function listDatasetVersions(db: Db, name: string, opts: { limit?: number } = {}): Promise<DatasetVersion[]> {
  checkDatasetName(name);
  const { rows } = await db.query<VersionRow>(`SELECT ${COLUMNS} FROM dataset_versions WHERE name = $1 ORDER BY version DESC LIMIT $2`, [
    name,
    opts.limit ?? 100,
  ]);
  return rows.map(toVersion);
}

/** All datasets with their version count and latest version, by name. */
export async function listDatasets(db: Db, opts: { limit?: number; prefix?: string } = {}): Promise<DatasetSummary[]> {
  const { rows } = await db.query<{ name: string; created_at: Date; versions: number | string; latest_version: number | null; latest_created_at: Date | null }>(
    `SELECT d.name, d.created_at, COUNT(v.version) AS versions, MAX(v.version) AS latest_version, MAX(v.created_at) AS latest_created_at
       FROM datasets d LEFT JOIN dataset_versions v ON v.name = d.name
      WHERE ($1::text IS NULL OR starts_with(d.name, $1))
      GROUP BY d.name, d.created_at ORDER BY d.name LIMIT $2`,
    [opts.prefix ?? null, opts.limit ?? 1000],
  );
  return rows.map((r) => ({
    name: r.name,
    createdAt: r.created_at,
    versions: Number(r.versions),
    latestVersion: r.latest_version,
    latestCreatedAt: r.latest_created_at,
  }));
}
