import type pg from 'pg';
import type { ModelRef, ModelSignature } from '../../pipelines/steps/model';
import { SluiceFailure, type FailureType } from '../../pipelines/failures';
import { isModelName, isReservedAlias, MAX_MODEL_NAME_LENGTH, RESERVED_ALIASES } from '../../pipelines/vocab/model-name';
import { modelVersionUri, parseModelUri as parseUri, type ModelUri, type ModelUriOptions } from '../../pipelines/vocab/model-uri';
import { withTransaction, type Db } from './pool';
import { recordEdge } from './runs';

/**
 * The model registry (tables from migration 0006), with MLflow's semantics:
 *
 * - A registered model has a unique name (`^[\w-]+$`, ASCII, at most 255), a description, tags.
 * - Its versions are numbered 1, 2, 3… and immutable (a trigger refuses any change but status,
 *   description and tags). Numbers come from `registered_models.last_version`, bumped under the
 *   model row's lock, so concurrent registrations get distinct, consecutive numbers. Registering
 *   the same artifact (sha256) for a model from the same run (or again without a run) returns
 *   the version it already has.
 * - An alias (`champion`, `challenger`, any name; `latest` and `v<digits>` are reserved) points at
 *   one version; setting it again moves it. Every move, and every removal, is a row of
 *   `alias_events`: who, when, why, from which version to which.
 * - `models:/<name>/<version>`, `models:/<name>@<alias>` and `models:/<name>/latest` resolve.
 * - Promotion decisions (automatic or by a person) are rows of `model_decisions`; an approved
 *   one moves the alias in the same transaction (`applyDecision`).
 */

export type RegistryErrorCode = 'INVALID' | 'NOT_FOUND' | 'CONFLICT';

/** The failure type (pipelines/failures.ts) a registry error becomes in a step: all are about the request, none retryable. */
const FAILURE_OF: Record<RegistryErrorCode, FailureType> = { INVALID: 'InvalidInput', NOT_FOUND: 'RegistryNotFound', CONFLICT: 'RegistryConflict' };

export class RegistryError extends SluiceFailure {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
  ) {
    super(FAILURE_OF[code], message);
    this.name = 'RegistryError';
  }
}

// ---------------------------------------------------------------------------------------------
// Names and URIs

// The rules are Sluice's one vocabulary (pipelines/vocab/model-name.ts, model-uri.ts); here they
// become RegistryErrors with messages that say what is allowed.
export { isReservedAlias, RESERVED_ALIASES } from '../../pipelines/vocab/model-name';
export { type ModelUri } from '../../pipelines/vocab/model-uri';
export const MAX_NAME_LENGTH = MAX_MODEL_NAME_LENGTH;

export function checkModelName(name: unknown): string {
  if (!isModelName(name)) {
    throw new RegistryError('INVALID', `invalid model name ${JSON.stringify(name)}: use letters, digits, "_" and "-" (1 to ${MAX_NAME_LENGTH} characters)`);
  }
  return name;
}

export function checkAlias(alias: unknown): string {
  if (!isModelName(alias)) {
    throw new RegistryError('INVALID', `invalid alias ${JSON.stringify(alias)}: use letters, digits, "_" and "-" (1 to ${MAX_NAME_LENGTH} characters)`);
  }
  if (isReservedAlias(alias)) throw new RegistryError('INVALID', `alias "${alias}" is reserved (${RESERVED_ALIASES} have a meaning in model URIs)`);
  return alias;
}

function checkVersion(v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new RegistryError('INVALID', `invalid version ${JSON.stringify(v)}: a positive integer`);
  return v;
}

function checkText(what: string, v: unknown, max = 10_000): string {
  if (typeof v !== 'string' || !v.trim()) throw new RegistryError('INVALID', `${what} is required (non-empty text)`);
  if (v.length > max) throw new RegistryError('INVALID', `${what} is longer than ${max} characters`);
  return v.trim();
}

/** `models:/<name>/<version>`, `models:/<name>@<alias>`, `models:/<name>/latest`. */
export function parseModelUri(uri: string): ModelUri {
  return checkModelUri(uri, {}, () => `invalid model URI ${JSON.stringify(uri)}: expected models:/<name>/<version> or models:/<name>@<alias>`);
}

/** The one model URI parser (pipelines/vocab/model-uri.ts), its problems as RegistryErrors; `syntax` words a malformed one. */
export function checkModelUri(s: string, opts: ModelUriOptions, syntax: () => string): ModelUri {
  const r = parseUri(s, opts);
  if (r.ok) return r.uri;
  const p = r.problem;
  if (p.kind === 'name') checkModelName(p.value);
  if (p.kind === 'alias') checkAlias(p.value);
  if (p.kind === 'version') throw new RegistryError('INVALID', `invalid model URI ${JSON.stringify(s)}: "${p.value}" is not a version number (or "latest")`);
  throw new RegistryError('INVALID', syntax());
}

export const modelUri = modelVersionUri;

// ---------------------------------------------------------------------------------------------
// Rows

export type Tags = Record<string, string>;
export type VersionStatus = 'PENDING_REGISTRATION' | 'FAILED_REGISTRATION' | 'READY';

export interface RegisteredModelRow {
  name: string;
  description: string | null;
  tags: Tags;
  last_version: number;
  created_at: Date;
  updated_at: Date;
  /** alias → version */
  aliases: Record<string, number>;
  /** Versions registered (= last_version: versions are never deleted). */
  version_count: number;
}

export interface DatasetLineage {
  name: string;
  version: number;
  /** What the dataset was to the model. */
  role: 'training' | 'validation' | 'evaluation' | 'other';
  uri?: string;
  sha256?: string;
}

export interface VersionLineage {
  datasets?: DatasetLineage[];
  featureViews?: { name: string; version: number }[];
  /** The pipeline run and node that registered it. */
  pipeline?: { name: string; runId: string; workflowId?: string; node?: string };
}

export interface ModelVersionRow {
  model_name: string;
  version: number;
  source_uri: string;
  source_sha256: string;
  size_bytes: number;
  run_id: string | null;
  status: VersionStatus;
  description: string | null;
  tags: Tags;
  signature: ModelSignature;
  model_card: Record<string, unknown>;
  metrics: Record<string, number | null>;
  params: Record<string, unknown>;
  lineage: VersionLineage;
  code_version: string | null;
  created_by: string;
  created_at: Date;
  /** Aliases pointing at this version. */
  aliases: string[];
}

const VERSION_COLUMNS = `v.model_name, v.version, v.source_uri, v.source_sha256, v.size_bytes, v.run_id, v.status, v.description, v.tags,
  v.signature, v.model_card, v.metrics, v.params, v.lineage, v.code_version, v.created_by, v.created_at,
  COALESCE((SELECT array_agg(a.alias ORDER BY a.alias) FROM model_aliases a WHERE a.model_name = v.model_name AND a.version = v.version), '{}') AS aliases`;

const MODEL_COLUMNS = `m.name, m.description, m.tags, m.last_version, m.created_at, m.updated_at, m.last_version AS version_count,
  COALESCE((SELECT jsonb_object_agg(a.alias, a.version) FROM model_aliases a WHERE a.model_name = m.name), '{}'::jsonb) AS aliases`;

type Queryable = Pick<pg.PoolClient, 'query'>;

/** A model version as steps pass it around: the artifact, its signature, and where it is registered. */
export function toModelRef(v: ModelVersionRow): ModelRef {
  return {
    uri: v.source_uri,
    sha256: v.source_sha256,
    size: v.size_bytes,
    signature: v.signature,
    registered: { name: v.model_name, version: v.version },
  };
}

// ---------------------------------------------------------------------------------------------
// Registered models

export async function getRegisteredModel(db: Db, name: string): Promise<RegisteredModelRow | undefined> {
  const { rows } = await db.query<RegisteredModelRow>(`SELECT ${MODEL_COLUMNS} FROM registered_models m WHERE m.name = $1`, [checkModelName(name)]);
  return rows[0];
}

export async function listRegisteredModels(db: Db, opts: { limit?: number } = {}): Promise<RegisteredModelRow[]> {
  const { rows } = await db.query<RegisteredModelRow>(`SELECT ${MODEL_COLUMNS} FROM registered_models m ORDER BY m.name LIMIT $1`, [opts.limit ?? 1000]);
  return rows;
}

/** Creates the model if it does not exist; sets description and tags when given (MLflow's update_registered_model). */
export async function upsertRegisteredModel(db: Db, m: { name: string; description?: string; tags?: Tags }): Promise<RegisteredModelRow> {
  const name = checkModelName(m.name);
  await db.query(
    `INSERT INTO registered_models (name, description, tags) VALUES ($1, $2, COALESCE($3::jsonb, '{}'::jsonb))
     ON CONFLICT (name) DO UPDATE SET
       description = COALESCE(EXCLUDED.description, registered_models.description),
       tags = CASE WHEN $3::jsonb IS NULL THEN registered_models.tags ELSE registered_models.tags || $3::jsonb END,
       updated_at = CASE WHEN $2::text IS NULL AND $3::jsonb IS NULL THEN registered_models.updated_at ELSE now() END`,
    [name, m.description ?? null, m.tags ? JSON.stringify(checkTags(m.tags)) : null],
  );
  return (await getRegisteredModel(db, name))!;
}

function checkTags(tags: unknown): Tags {
  if (typeof tags !== 'object' || tags === null || Array.isArray(tags)) throw new RegistryError('INVALID', 'tags must be an object of strings');
  for (const [k, v] of Object.entries(tags)) {
    if (!k || k.length > 250) throw new RegistryError('INVALID', `tag key ${JSON.stringify(k)} must be 1 to 250 characters`);
    if (typeof v !== 'string' || v.length > 5000) throw new RegistryError('INVALID', `tag ${JSON.stringify(k)} must be a string of at most 5000 characters`);
  }
  return tags as Tags;
}

// ---------------------------------------------------------------------------------------------
// Versions

export interface RegisterVersionInput {
  name: string;
  source: { uri: string; sha256: string; size: number };
  signature: ModelSignature;
  /** The registering pipeline run; with the sha256, what makes registration idempotent. */
  runId?: string | null;
  description?: string;
  tags?: Tags;
  metrics?: Record<string, number | null>;
  params?: Record<string, unknown>;
  lineage?: VersionLineage;
  codeVersion?: string | null;
  /** Who registers: a user, or `sluice-pipeline`. */
  createdBy: string;
  /** The model card; `name` and `version` are filled in once the version number is known. */
  modelCard?: Record<string, unknown>;
  /** For a model registered for the first time. */
  modelDescription?: string;
  modelTags?: Tags;
  /** Return the version of the same source (sha256) under this name whichever run registered it, not only this run's. */
  reuseSameSource?: boolean;
}

export interface RegisterVersionResult {
  version: ModelVersionRow;
  /** false: this artifact was already registered for the model by the same run (idempotent retry), or by any run with `reuseSameSource`. */
  created: boolean;
}

export async function registerModelVersion(db: Db, input: RegisterVersionInput): Promise<RegisterVersionResult> {
  const name = checkModelName(input.name);
  if (!/^[0-9a-f]{64}$/.test(input.source.sha256)) throw new RegistryError('INVALID', `source sha256 must be 64 lowercase hex characters`);
  const createdBy = checkText('createdBy', input.createdBy, 255);
  const tags = checkTags(input.tags ?? {});
  const runId = input.runId ?? null;

  const result = await withTransaction(db, async (c) => {
    await c.query(
      `INSERT INTO registered_models (name, description, tags) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
      [name, input.modelDescription ?? null, JSON.stringify(checkTags(input.modelTags ?? {}))],
    );
    // The model row's lock serialises registrations (and alias moves) of this model.
    await c.query('SELECT 1 FROM registered_models WHERE name = $1 FOR UPDATE', [name]);
    const same = input.reuseSameSource
      ? await c.query<{ version: number }>(`SELECT version FROM model_versions WHERE model_name = $1 AND source_sha256 = $2 ORDER BY version LIMIT 1`, [name, input.source.sha256])
      : await c.query<{ version: number }>(
          `SELECT version FROM model_versions WHERE model_name = $1 AND source_sha256 = $2 AND COALESCE(run_id, '') = COALESCE($3::text, '')`,
          [name, input.source.sha256, runId],
        );
    if (same.rows[0]) return { version: same.rows[0].version, created: false };
    const { rows } = await c.query<{ last_version: number }>(
      'UPDATE registered_models SET last_version = last_version + 1, updated_at = now() WHERE name = $1 RETURNING last_version',
      [name],
    );
    const version = rows[0]!.last_version;
    const card = { ...(input.modelCard ?? {}), name, version };
    await c.query(
      `INSERT INTO model_versions (model_name, version, source_uri, source_sha256, size_bytes, run_id, status, description, tags,
                                   signature, model_card, metrics, params, lineage, code_version, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, 'READY', $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [
        name,
        version,
        input.source.uri,
        input.source.sha256,
        input.source.size,
        runId,
        input.description ?? null,
        JSON.stringify(tags),
        JSON.stringify(input.signature),
        JSON.stringify(card),
        JSON.stringify(finiteMetrics(input.metrics ?? {})),
        JSON.stringify(input.params ?? {}),
        JSON.stringify(input.lineage ?? {}),
        input.codeVersion ?? null,
        createdBy,
      ],
    );
    return { version, created: true };
  });

  const row = (await getModelVersion(db, name, result.version))!;
  // Lineage edges after the commit, on both paths: they are idempotent, and a retry after a crash
  // between the commit and here records them then.
  await recordVersionLineage(db, row);
  return { version: row, created: result.created };
}

function finiteMetrics(m: Record<string, number | null>): Record<string, number | null> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, typeof v === 'number' && Number.isFinite(v) ? v : null]));
}

const ROLE_RELATION: Record<DatasetLineage['role'], string> = {
  training: 'training_data_of',
  validation: 'validation_data_of',
  evaluation: 'evaluation_data_of',
  other: 'input_of',
};

/** Edges into `model_version models:/<name>/<version>` from its artifact, datasets, feature views and run. */
async function recordVersionLineage(db: Db, v: ModelVersionRow): Promise<void> {
  const to: [string, string] = ['model_version', modelUri(v.model_name, v.version)];
  const known = v.run_id ? (await db.query('SELECT 1 FROM runs WHERE run_id = $1', [v.run_id])).rowCount : 0;
  const runId = known ? v.run_id! : undefined;
  await recordEdge(db, { from: ['artifact', v.source_uri], relation: 'source_of', to, runId });
  for (const d of v.lineage.datasets ?? []) await recordEdge(db, { from: ['dataset_version', `${d.name}@${d.version}`], relation: ROLE_RELATION[d.role], to, runId });
  for (const f of v.lineage.featureViews ?? []) await recordEdge(db, { from: ['feature_view', `${f.name}@${f.version}`], relation: 'features_of', to, runId });
  if (v.run_id) {
    const node = v.lineage.pipeline?.node;
    await recordEdge(db, { from: node ? ['step_run', `${v.run_id}/${node}`] : ['run', v.run_id], relation: 'registered', to, runId });
  }
}

export async function getModelVersion(db: Db | Queryable, name: string, version: number): Promise<ModelVersionRow | undefined> {
  const { rows } = await db.query<ModelVersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions v WHERE v.model_name = $1 AND v.version = $2`, [
    checkModelName(name),
    checkVersion(version),
  ]);
  return rows[0];
}

/** Newest first. */
export async function listModelVersions(db: Db, name: string, opts: { limit?: number } = {}): Promise<ModelVersionRow[]> {
  const { rows } = await db.query<ModelVersionRow>(`SELECT ${VERSION_COLUMNS} FROM model_versions v WHERE v.model_name = $1 ORDER BY v.version DESC LIMIT $2`, [
    checkModelName(name),
    opts.limit ?? 1000,
  ]);
  return rows;
}

/** Resolves a model URI to its version; RegistryError NOT_FOUND when the model, version or alias does not exist. */
export async function resolveModelUri(db: Db, uri: string): Promise<ModelVersionRow> {
  const u = parseModelUri(uri);
  let version: number | undefined;
  if ('version' in u) version = u.version;
  else if ('alias' in u) {
    const { rows } = await db.query<{ version: number }>('SELECT version FROM model_aliases WHERE model_name = $1 AND alias = $2', [u.name, u.alias]);
    version = rows[0]?.version;
    if (version === undefined) throw new RegistryError('NOT_FOUND', `${uri}: model "${u.name}" has no alias "${u.alias}"`);
  } else {
    const { rows } = await db.query<{ version: number }>(`SELECT max(version) AS version FROM model_versions WHERE model_name = $1 AND status = 'READY'`, [u.name]);
    version = rows[0]?.version ?? undefined;
    if (version === undefined || version === null) throw new RegistryError('NOT_FOUND', `${uri}: model "${u.name}" has no version`);
  }
  const row = await getModelVersion(db, u.name, version);
  if (!row) {
    const model = await getRegisteredModel(db, u.name);
    throw new RegistryError('NOT_FOUND', model ? `${uri}: model "${u.name}" has no version ${version}` : `${uri}: no registered model "${u.name}"`);
  }
  return row;
}

// ---------------------------------------------------------------------------------------------
// Aliases

export interface AliasChange {
  name: string;
  alias: string;
  from: number | null;
  to: number | null;
  /** false: the alias already pointed there (nothing moved, no event). */
  changed: boolean;
  eventId: number | null;
}

export interface SetAliasInput {
  name: string;
  alias: string;
  version: number;
  /** Who moves it: a person, or `sluice-pipeline`. */
  actor: string;
  /** Why: required, kept in the audit trail. */
  reason: string;
  runId?: string | null;
  decisionId?: number | null;
}

async function lockModel(c: Queryable, name: string): Promise<void> {
  const { rowCount } = await c.query('SELECT 1 FROM registered_models WHERE name = $1 FOR UPDATE', [name]);
  if (!rowCount) throw new RegistryError('NOT_FOUND', `no registered model "${name}"`);
}

async function currentAlias(c: Queryable, name: string, alias: string): Promise<number | null> {
  const { rows } = await c.query<{ version: number }>('SELECT version FROM model_aliases WHERE model_name = $1 AND alias = $2', [name, alias]);
  return rows[0]?.version ?? null;
}

/** Inside a transaction that holds the model's lock. */
async function setAliasLocked(c: Queryable, s: SetAliasInput): Promise<AliasChange> {
  const v = await c.query<{ status: VersionStatus }>('SELECT status FROM model_versions WHERE model_name = $1 AND version = $2', [s.name, s.version]);
  if (!v.rows[0]) throw new RegistryError('NOT_FOUND', `model "${s.name}" has no version ${s.version}`);
  if (v.rows[0].status !== 'READY') throw new RegistryError('CONFLICT', `version ${s.version} of "${s.name}" is ${v.rows[0].status}, not READY`);
  const from = await currentAlias(c, s.name, s.alias);
  if (from === s.version) return { name: s.name, alias: s.alias, from, to: s.version, changed: false, eventId: null };
  await c.query(
    `INSERT INTO model_aliases (model_name, alias, version, updated_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (model_name, alias) DO UPDATE SET version = EXCLUDED.version, updated_by = EXCLUDED.updated_by, updated_at = now()`,
    [s.name, s.alias, s.version, s.actor],
  );
  const ev = await c.query<{ id: number }>(
    `INSERT INTO alias_events (model_name, alias, action, from_version, to_version, actor, reason, decision_id, run_id)
     VALUES ($1, $2, 'set', $3, $4, $5, $6, $7, $8) RETURNING id`,
    [s.name, s.alias, from, s.version, s.actor, s.reason, s.decisionId ?? null, s.runId ?? null],
  );
  await c.query('UPDATE registered_models SET updated_at = now() WHERE name = $1', [s.name]);
  return { name: s.name, alias: s.alias, from, to: s.version, changed: true, eventId: ev.rows[0]!.id };
}

function checkSetAlias(s: SetAliasInput): SetAliasInput {
  return {
    ...s,
    name: checkModelName(s.name),
    alias: checkAlias(s.alias),
    version: checkVersion(s.version),
    actor: checkText('who (actor)', s.actor, 255),
    reason: checkText('reason', s.reason),
  };
}

/** Points `alias` at `version` (moving it if set), recording the move in alias_events. */
export async function setAlias(db: Db, input: SetAliasInput): Promise<AliasChange> {
  const s = checkSetAlias(input);
  return withTransaction(db, async (c) => {
    await lockModel(c, s.name);
    return setAliasLocked(c, s);
  });
}

export async function deleteAlias(db: Db, input: { name: string; alias: string; actor: string; reason: string; runId?: string | null }): Promise<AliasChange> {
  const name = checkModelName(input.name);
  const alias = checkAlias(input.alias);
  const actor = checkText('who (actor)', input.actor, 255);
  const reason = checkText('reason', input.reason);
  return withTransaction(db, async (c) => {
    await lockModel(c, name);
    const from = await currentAlias(c, name, alias);
    if (from === null) throw new RegistryError('NOT_FOUND', `model "${name}" has no alias "${alias}"`);
    await c.query('DELETE FROM model_aliases WHERE model_name = $1 AND alias = $2', [name, alias]);
    const ev = await c.query<{ id: number }>(
      `INSERT INTO alias_events (model_name, alias, action, from_version, to_version, actor, reason, run_id)
       VALUES ($1, $2, 'delete', $3, NULL, $4, $5, $6) RETURNING id`,
      [name, alias, from, actor, reason, input.runId ?? null],
    );
    await c.query('UPDATE registered_models SET updated_at = now() WHERE name = $1', [name]);
    return { name, alias, from, to: null, changed: true, eventId: ev.rows[0]!.id };
  });
}

export interface AliasEventRow {
  id: number;
  model_name: string;
  alias: string;
  action: 'set' | 'delete';
  from_version: number | null;
  to_version: number | null;
  actor: string;
  reason: string;
  decision_id: number | null;
  run_id: string | null;
  created_at: Date;
}

/** Oldest first. */
export async function listAliasEvents(db: Db, name: string, opts: { alias?: string; limit?: number } = {}): Promise<AliasEventRow[]> {
  const { rows } = await db.query<AliasEventRow>(
    `SELECT id, model_name, alias, action, from_version, to_version, actor, reason, decision_id, run_id, created_at
       FROM alias_events WHERE model_name = $1 AND ($2::text IS NULL OR alias = $2)
      ORDER BY id LIMIT $3`,
    [checkModelName(name), opts.alias ?? null, opts.limit ?? 10_000],
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Decisions

export type DecisionOutcome = 'promoted' | 'rejected' | 'pending_approval' | 'stale';

export interface DecisionEvidence {
  metric?: string;
  direction?: 'higher' | 'lower';
  margin?: number;
  marginKind?: 'absolute' | 'relative';
  challengerValue?: number | null;
  championValue?: number | null;
  delta?: number | null;
  details?: Record<string, unknown>;
}

export interface DecisionInput {
  name: string;
  /** The alias to move (default `champion`). */
  alias?: string;
  challengerVersion: number;
  /**
   * approve: move the alias to the challenger (outcome `promoted`); reject: leave it (`rejected`);
   * pending: record a proposal that waits for a person (`pending_approval`).
   */
  decision: 'approve' | 'reject' | 'pending';
  mode: 'automatic' | 'manual';
  /** Who decides: a person, or `sluice-pipeline` for automatic decisions. */
  by: string;
  reason: string;
  /**
   * The alias's version the decision was based on (null: it pointed nowhere). When the alias has
   * moved since, nothing moves and the outcome is `stale`. Left out: not checked (a resolution
   * of a pending decision checks against the pending one's champion).
   */
  expectedChampion?: number | null;
  evidence?: DecisionEvidence;
  /** A pending decision this one resolves (approval or rejection by a person). */
  resolves?: number;
  /** Makes retries safe: the same key returns the decision already recorded. */
  idempotencyKey?: string;
  runId?: string | null;
}

export interface DecisionRow {
  id: number;
  model_name: string;
  alias: string;
  challenger_version: number;
  champion_version: number | null;
  outcome: DecisionOutcome;
  mode: 'automatic' | 'manual';
  metric: string | null;
  direction: 'higher' | 'lower' | null;
  margin: number | null;
  margin_kind: 'absolute' | 'relative' | null;
  challenger_value: number | null;
  champion_value: number | null;
  delta: number | null;
  decided_by: string;
  reason: string;
  details: Record<string, unknown>;
  resolves: number | null;
  idempotency_key: string | null;
  run_id: string | null;
  created_at: Date;
}

export interface DecisionResult {
  decision: DecisionRow;
  /** The alias move it made, if any. */
  aliasChange: AliasChange | null;
  /** true: the idempotency key had been used; this is the decision recorded then. */
  replayed: boolean;
}

const DECISION_COLUMNS = `id, model_name, alias, challenger_version, champion_version, outcome, mode, metric, direction, margin, margin_kind,
  challenger_value, champion_value, delta, decided_by, reason, details, resolves, idempotency_key, run_id, created_at`;

/**
 * Records a promotion decision and, when it approves, moves the alias to the challenger in the
 * same transaction (the alias event points at the decision). What a Temporal update handler
 * calls for a human approval, and what the promote-model step calls for automatic ones.
 */
export async function applyDecision(db: Db, input: DecisionInput): Promise<DecisionResult> {
  const name = checkModelName(input.name);
  const alias = checkAlias(input.alias ?? 'champion');
  const challenger = checkVersion(input.challengerVersion);
  const by = checkText('who (by)', input.by, 255);
  const reason = checkText('reason', input.reason);
  if (!['approve', 'reject', 'pending'].includes(input.decision)) throw new RegistryError('INVALID', `decision must be approve, reject or pending, got ${JSON.stringify(input.decision)}`);

  const replay = async (c: Queryable): Promise<DecisionResult | undefined> => {
    if (!input.idempotencyKey) return undefined;
    const { rows } = await c.query<DecisionRow>(`SELECT ${DECISION_COLUMNS} FROM model_decisions WHERE idempotency_key = $1`, [input.idempotencyKey]);
    const d = rows[0];
    if (!d) return undefined;
    if (d.model_name !== name || d.alias !== alias || d.challenger_version !== challenger) {
      throw new RegistryError('CONFLICT', `idempotency key ${JSON.stringify(input.idempotencyKey)} was used for another decision (${d.model_name}@${d.alias} → v${d.challenger_version})`);
    }
    return { decision: d, aliasChange: null, replayed: true };
  };

  return withTransaction(db, async (c) => {
    await lockModel(c, name);
    const earlier = await replay(c);
    if (earlier) return earlier;
    if (!(await getModelVersion(c, name, challenger))) throw new RegistryError('NOT_FOUND', `model "${name}" has no version ${challenger}`);

    let evidence: DecisionEvidence = input.evidence ?? {};
    let expected = input.expectedChampion;
    if (input.resolves !== undefined) {
      const { rows } = await c.query<DecisionRow>(`SELECT ${DECISION_COLUMNS} FROM model_decisions WHERE id = $1`, [input.resolves]);
      const p = rows[0];
      if (!p || p.model_name !== name) throw new RegistryError('NOT_FOUND', `no decision ${input.resolves} for model "${name}"`);
      if (p.outcome !== 'pending_approval') throw new RegistryError('CONFLICT', `decision ${p.id} is ${p.outcome}, not pending approval`);
      if (p.alias !== alias || p.challenger_version !== challenger) {
        throw new RegistryError('CONFLICT', `decision ${p.id} is about ${p.alias} → v${p.challenger_version}, not ${alias} → v${challenger}`);
      }
      const done = await c.query<{ id: number }>('SELECT id FROM model_decisions WHERE resolves = $1', [p.id]);
      if (done.rows[0]) throw new RegistryError('CONFLICT', `decision ${p.id} was already resolved by decision ${done.rows[0].id}`);
      if (input.decision === 'pending') throw new RegistryError('INVALID', 'a resolution approves or rejects; it cannot be pending again');
      if (!input.evidence) {
        evidence = {
          ...(p.metric !== null ? { metric: p.metric } : {}),
          ...(p.direction !== null ? { direction: p.direction } : {}),
          ...(p.margin !== null ? { margin: p.margin } : {}),
          ...(p.margin_kind !== null ? { marginKind: p.margin_kind } : {}),
          challengerValue: p.challenger_value,
          championValue: p.champion_value,
          delta: p.delta,
          details: p.details,
        };
      }
      if (expected === undefined) expected = p.champion_version;
    }

    const current = await currentAlias(c, name, alias);
    let outcome: DecisionOutcome = input.decision === 'approve' ? 'promoted' : input.decision === 'reject' ? 'rejected' : 'pending_approval';
    let finalReason = reason;
    if (expected !== undefined && expected !== current && input.decision !== 'reject') {
      outcome = 'stale';
      finalReason = `${reason} [stale: ${alias} is ${current === null ? 'unset' : `v${current}`} now, the decision was based on ${expected === null ? 'no champion' : `v${expected}`}]`;
    }
    const { rows } = await c.query<DecisionRow>(
      `INSERT INTO model_decisions (model_name, alias, challenger_version, champion_version, outcome, mode, metric, direction, margin, margin_kind,
                                    challenger_value, champion_value, delta, decided_by, reason, details, resolves, idempotency_key, run_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
       RETURNING ${DECISION_COLUMNS}`,
      [
        name,
        alias,
        challenger,
        current,
        outcome,
        input.mode,
        evidence.metric ?? null,
        evidence.direction ?? null,
        finiteOrNull(evidence.margin),
        evidence.marginKind ?? null,
        finiteOrNull(evidence.challengerValue),
        finiteOrNull(evidence.championValue),
        finiteOrNull(evidence.delta),
        by,
        finalReason,
        JSON.stringify(evidence.details ?? {}),
        input.resolves ?? null,
        input.idempotencyKey ?? null,
        input.runId ?? null,
      ],
    );
    const decision = rows[0]!;
    let aliasChange: AliasChange | null = null;
    if (outcome === 'promoted') {
      aliasChange = await setAliasLocked(c, { name, alias, version: challenger, actor: by, reason: finalReason, decisionId: decision.id, runId: input.runId ?? null });
    }
    return { decision, aliasChange, replayed: false };
  });
}

function finiteOrNull(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Newest first. */
export async function listDecisions(db: Db, name: string, opts: { limit?: number; outcome?: DecisionOutcome } = {}): Promise<DecisionRow[]> {
  const { rows } = await db.query<DecisionRow>(
    `SELECT ${DECISION_COLUMNS} FROM model_decisions WHERE model_name = $1 AND ($2::text IS NULL OR outcome = $2) ORDER BY id DESC LIMIT $3`,
    [checkModelName(name), opts.outcome ?? null, opts.limit ?? 1000],
  );
  return rows;
}
