import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { RouteTable, type Route, type RouteMode } from '../../pipelines/serving/routes';
import { withTransaction, type Db } from './pool';
import { RegistryError } from './registry';

/**
 * Online serving's tables (migration 0010): the routing table every serving replica reads, the
 * prediction log the servers append to in batches, and the feedback (labels, rewards) given for
 * logged predictions. The serving process (serving/) and the rollout activities both go through
 * these functions, so the rules (one transaction per table change, the epoch bumped with it)
 * hold whoever writes.
 */

type Queryable = Pick<pg.ClientBase, 'query'>;

// ---------------------------------------------------------------------------------------------
// Routes

/** A model's routing table as stored: the routes, with the epoch and rollout that set them. */
export interface ModelRoutes {
  model: string;
  routes: Route[];
  /** Changes with every write: sticky assignment hashes a request key with it. */
  epoch: number;
  /** The rollout workflow that wrote the table (null: written by hand). */
  rolloutId: string | null;
  updatedAt: Date;
}

interface RouteRow {
  variant: string;
  version: number;
  mode: RouteMode;
  weight: number;
  epoch: number | string;
  rollout_id: string | null;
  updated_at: Date;
}

/** The model's routes, or null when it has none (then its `champion` alias serves). */
export async function readRoutes(db: Db | Queryable, model: string): Promise<ModelRoutes | null> {
  const { rows } = await db.query<RouteRow>(
    'SELECT variant, version, mode, weight, epoch, rollout_id, updated_at FROM serving_routes WHERE model_name = $1 ORDER BY variant',
    [model],
  );
  if (!rows.length) return null;
  return {
    model,
    routes: rows.map((r) => ({ variant: r.variant, version: r.version, mode: r.mode, weight: r.weight })),
    epoch: Number(rows[0]!.epoch),
    rolloutId: rows[0]!.rollout_id,
    updatedAt: rows.reduce((d, r) => (r.updated_at > d ? r.updated_at : d), rows[0]!.updated_at),
  };
}

/**
 * Replaces the model's whole routing table in one transaction (validated by RouteTable: live
 * weights sum to 1, shadows weigh 0, variants distinct; every version exists and is READY) and
 * bumps its epoch. The epoch is the larger of the last one + 1 and the clock in milliseconds, so
 * a table cleared and written again never reuses an earlier epoch's assignments. Replicas hear of
 * it through the table's NOTIFY trigger once the transaction commits.
 */
export async function writeRoutes(db: Db, model: string, routes: readonly Route[], opts: { rolloutId?: string | null } = {}): Promise<ModelRoutes> {
  const table = RouteTable.parse(routes);
  return withTransaction(db, async (c) => {
    // The registry's lock on the model: concurrent writers of one model's routes serialise.
    const locked = await c.query('SELECT 1 FROM registered_models WHERE name = $1 FOR UPDATE', [model]);
    if (!locked.rowCount) throw new RegistryError('NOT_FOUND', `no registered model "${model}"`);
    const versions = await c.query<{ version: number; status: string }>('SELECT version, status FROM model_versions WHERE model_name = $1 AND version = ANY($2::int[])', [
      model,
      table.map((r) => r.version),
    ]);
    const status = new Map(versions.rows.map((v) => [v.version, v.status]));
    for (const r of table) {
      const s = status.get(r.version);
      if (!s) throw new RegistryError('NOT_FOUND', `model "${model}" has no version ${r.version} (variant ${r.variant})`);
      if (s !== 'READY') throw new RegistryError('CONFLICT', `version ${r.version} of "${model}" is ${s}, not READY (variant ${r.variant})`);
    }
    const prev = await c.query<{ epoch: string | number | null }>('SELECT max(epoch) AS epoch FROM serving_routes WHERE model_name = $1', [model]);
    const { rows } = await c.query<{ epoch: string | number }>(
      'SELECT GREATEST(COALESCE($1::bigint, 0) + 1, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) AS epoch',
      [prev.rows[0]?.epoch ?? null],
    );
    const epoch = Number(rows[0]!.epoch);
    await c.query('DELETE FROM serving_routes WHERE model_name = $1', [model]);
    await c.query(
      `INSERT INTO serving_routes (model_name, variant, version, mode, weight, epoch, rollout_id)
       SELECT $1, u.variant, u.version, u.mode, u.weight, $2, $3
       FROM unnest($4::text[], $5::int[], $6::text[], $7::float8[]) AS u(variant, version, mode, weight)`,
      [model, epoch, opts.rolloutId ?? null, table.map((r) => r.variant), table.map((r) => r.version), table.map((r) => r.mode), table.map((r) => r.weight)],
    );
    return (await readRoutes(c, model))!;
  });
}

/** Removes the model's routes (its `champion` alias serves again). Returns whether there were any. */
export async function clearRoutes(db: Db, model: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM serving_routes WHERE model_name = $1', [model]);
  return (rowCount ?? 0) > 0;
}

// ---------------------------------------------------------------------------------------------
// Prediction log

/**
 * What a prediction's `output` holds (the JSON of online_predictions.output): the label (or
 * value), the class probabilities by class, and `score`, one number to compare variants by: the
 * value (regression), p(classes[1]) (binary), the predicted class's probability (multiclass).
 */
export interface PredictionOutput {
  prediction: string | number | boolean;
  probabilities?: Record<string, number>;
  score?: number;
}

export interface OnlinePrediction {
  id: string;
  model: string;
  version: number;
  variant: string;
  mode: RouteMode;
  /** A shadow prediction: the id of the live one it mirrors. */
  shadowOf?: string | null;
  requestKey?: string | null;
  createdAt: Date;
  latencyMs: number;
  features: Record<string, unknown>;
  output?: PredictionOutput | null;
  error?: string | null;
}

const COLUMNS = ['id', 'model_name', 'version', 'variant', 'mode', 'shadow_of', 'request_key', 'created_at', 'latency_ms', 'features', 'output', 'error'] as const;

/** Characters COPY's text format reads specially inside a field (the tab delimits, a newline ends the row, a backslash escapes). */
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_ALL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * One field of COPY's text format: \N for null, the special characters backslash-escaped. Text
 * rather than CSV because a JSON field (full of quotes, which CSV would double) usually needs no
 * escaping at all: the serving process writes a line per prediction, so this runs per request.
 */
function copyField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '\\N';
  const s = typeof v === 'string' ? v : String(v);
  return COPY_SPECIAL.test(s) ? s.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c]!) : s;
}

/** A prediction as one line of the prediction log's COPY (text format, the columns of COLUMNS). */
export function predictionLogLine(p: OnlinePrediction): string {
  return (
    `${copyField(p.id)}\t${copyField(p.model)}\t${p.version}\t${copyField(p.variant)}\t${copyField(p.mode)}\t${copyField(p.shadowOf)}\t${copyField(p.requestKey)}\t` +
    `${p.createdAt.toISOString()}\t${Math.max(0, p.latencyMs)}\t${copyField(JSON.stringify(p.features))}\t${copyField(p.output ? JSON.stringify(p.output) : null)}\t${copyField(p.error)}\n`
  );
}

/** Lines go to the COPY in chunks of about this many characters (one CopyData message each, not one per row). */
const COPY_CHUNK_CHARS = 64 * 1024;

/** Appends predictions already made into lines (predictionLogLine) with one COPY. */
export async function copyPredictionLines(db: Db, lines: readonly string[]): Promise<void> {
  if (!lines.length) return;
  const chunks: string[] = [];
  let chunk = '';
  for (const line of lines) {
    chunk += line;
    if (chunk.length >= COPY_CHUNK_CHARS) {
      chunks.push(chunk);
      chunk = '';
    }
  }
  if (chunk) chunks.push(chunk);
  const client = await db.connect();
  try {
    await pipeline(Readable.from(chunks), client.query(copyFrom(`COPY online_predictions (${COLUMNS.join(', ')}) FROM STDIN`)));
  } finally {
    client.release();
  }
}

/** Appends predictions with one COPY (the serving process's prediction log calls it per batch, never per request). */
export function copyPredictions(db: Db, predictions: readonly OnlinePrediction[]): Promise<void> {
  return copyPredictionLines(db, predictions.map(predictionLogLine));
}

export interface FeedbackInput {
  predictionId: string;
  label?: unknown;
  reward?: number;
}

/** Records a label or a reward for a prediction (the last one recorded for an id counts). */
export async function recordFeedback(db: Db, f: FeedbackInput): Promise<{ receivedAt: Date }> {
  const { rows } = await db.query<{ received_at: Date }>('INSERT INTO prediction_feedback (prediction_id, label, reward) VALUES ($1, $2, $3) RETURNING received_at', [
    f.predictionId,
    f.label === undefined ? null : JSON.stringify(f.label),
    f.reward ?? null,
  ]);
  return { receivedAt: rows[0]!.received_at };
}

/** Whether a prediction id is in the log (feedback for an unknown id is refused, unless it may still be in a server's buffer). */
export async function predictionExists(db: Db, id: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM online_predictions WHERE id = $1', [id]);
  return (rowCount ?? 0) > 0;
}

export async function getPrediction(db: Db, id: string): Promise<OnlinePrediction | undefined> {
  const { rows } = await db.query<{
    id: string;
    model_name: string;
    version: number;
    variant: string;
    mode: RouteMode;
    shadow_of: string | null;
    request_key: string | null;
    created_at: Date;
    latency_ms: number;
    features: Record<string, unknown>;
    output: PredictionOutput | null;
    error: string | null;
  }>(`SELECT ${COLUMNS.join(', ')} FROM online_predictions WHERE id = $1`, [id]);
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: r.id,
    model: r.model_name,
    version: r.version,
    variant: r.variant,
    mode: r.mode,
    shadowOf: r.shadow_of,
    requestKey: r.request_key,
    createdAt: r.created_at,
    latencyMs: r.latency_ms,
    features: r.features,
    output: r.output,
    error: r.error,
  };
}

// ---------------------------------------------------------------------------------------------
// What a rollout reads

export interface VariantCounts {
  variant: string;
  version: number;
  mode: RouteMode;
  requests: number;
  errors: number;
  /** Latency percentiles (ms) over the variant's predictions; null without any. */
  p50Ms: number | null;
  p99Ms: number | null;
  meanMs: number | null;
}

/** Predictions per variant (and version) logged since `since`: counts, errors, latency. */
export async function variantCounts(db: Db, model: string, since: Date): Promise<VariantCounts[]> {
  const { rows } = await db.query<{ variant: string; version: number; mode: RouteMode; requests: number; errors: number; p50: number | null; p99: number | null; mean: number | null }>(
    `SELECT variant, version, mode, count(*)::int AS requests, count(error)::int AS errors,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99,
            avg(latency_ms) AS mean
     FROM online_predictions WHERE model_name = $1 AND created_at >= $2
     GROUP BY variant, version, mode ORDER BY variant, version`,
    [model, since],
  );
  return rows.map((r) => ({ variant: r.variant, version: r.version, mode: r.mode, requests: r.requests, errors: r.errors, p50Ms: r.p50, p99Ms: r.p99, meanMs: r.mean }));
}

export interface FeedbackStats {
  variant: string;
  version: number;
  /** Predictions with feedback (the latest per prediction counts). */
  n: number;
  /** Rewards: how many, their sum and sum of squares (a Beta-Bernoulli or Normal posterior's sufficient statistics). */
  rewards: number;
  rewardSum: number;
  rewardSumSq: number;
  /** Labels: how many, and how many equal the logged prediction. */
  labels: number;
  correct: number;
}

/** Feedback per live variant for predictions logged since `since`. */
export async function feedbackStats(db: Db, model: string, since: Date): Promise<FeedbackStats[]> {
  const { rows } = await db.query<{ variant: string; version: number; n: number; rewards: number; reward_sum: number | null; reward_sum_sq: number | null; labels: number; correct: number }>(
    `WITH latest AS (
       SELECT DISTINCT ON (prediction_id) prediction_id, label, reward
       FROM prediction_feedback ORDER BY prediction_id, received_at DESC
     )
     SELECT p.variant, p.version, count(*)::int AS n,
            count(f.reward)::int AS rewards, sum(f.reward) AS reward_sum, sum(f.reward * f.reward) AS reward_sum_sq,
            count(f.label)::int AS labels,
            count(*) FILTER (WHERE f.label IS NOT NULL AND f.label = p.output -> 'prediction')::int AS correct
     FROM online_predictions p JOIN latest f ON f.prediction_id = p.id
     WHERE p.model_name = $1 AND p.created_at >= $2 AND p.mode = 'live'
     GROUP BY p.variant, p.version ORDER BY p.variant, p.version`,
    [model, since],
  );
  return rows.map((r) => ({
    variant: r.variant,
    version: r.version,
    n: r.n,
    rewards: r.rewards,
    rewardSum: r.reward_sum ?? 0,
    rewardSumSq: r.reward_sum_sq ?? 0,
    labels: r.labels,
    correct: r.correct,
  }));
}

export interface ShadowComparison {
  variant: string;
  version: number;
  /** Shadow predictions paired with the live one they mirror. */
  pairs: number;
  /** Pairs whose predictions are equal. */
  agreed: number;
  /** Mean |shadow score − live score| over pairs that both have a score. */
  meanAbsScoreDiff: number | null;
  shadowP50Ms: number | null;
  liveP50Ms: number | null;
  shadowErrors: number;
}

/** Shadow variants against the live predictions they mirrored, since `since`. */
export async function shadowComparison(db: Db, model: string, since: Date): Promise<ShadowComparison[]> {
  const { rows } = await db.query<{ variant: string; version: number; pairs: number; agreed: number; diff: number | null; s50: number | null; l50: number | null; errors: number }>(
    `SELECT s.variant, s.version, count(*)::int AS pairs,
            count(*) FILTER (WHERE s.output -> 'prediction' = l.output -> 'prediction')::int AS agreed,
            avg(abs((s.output ->> 'score')::float8 - (l.output ->> 'score')::float8)) AS diff,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY s.latency_ms) AS s50,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY l.latency_ms) AS l50,
            count(s.error)::int AS errors
     FROM online_predictions s JOIN online_predictions l ON l.id = s.shadow_of
     WHERE s.model_name = $1 AND s.mode = 'shadow' AND s.created_at >= $2
     GROUP BY s.variant, s.version ORDER BY s.variant`,
    [model, since],
  );
  return rows.map((r) => ({ variant: r.variant, version: r.version, pairs: r.pairs, agreed: r.agreed, meanAbsScoreDiff: r.diff, shadowP50Ms: r.s50, liveP50Ms: r.l50, shadowErrors: r.errors }));
}

// ---------------------------------------------------------------------------------------------
// Logged windows for the drift monitor

/** A live prediction that was answered (no error), as a monitoring window reads it. */
export interface LoggedPrediction {
  id: string;
  version: number;
  variant: string;
  createdAt: Date;
  features: Record<string, unknown>;
  output: PredictionOutput;
}

/** The model's answered live predictions with created_at in [start, end), oldest first (shadow rows answer nobody: left out). */
export async function readPredictionWindow(db: Db, model: string, start: Date, end: Date): Promise<LoggedPrediction[]> {
  const { rows } = await db.query<{ id: string; version: number; variant: string; created_at: Date; features: Record<string, unknown>; output: PredictionOutput }>(
    `SELECT id, version, variant, created_at, features, output FROM online_predictions
     WHERE model_name = $1 AND created_at >= $2 AND created_at < $3 AND mode = 'live' AND error IS NULL AND output IS NOT NULL
     ORDER BY created_at, id`,
    [model, start, end],
  );
  return rows.map((r) => ({ id: r.id, version: r.version, variant: r.variant, createdAt: r.created_at, features: r.features, output: r.output }));
}

/** The latest label given (POST /v1/feedback) for each of the model's live predictions made in [start, end); rewards alone are not labels. */
export async function readWindowLabels(db: Db, model: string, start: Date, end: Date): Promise<{ predictionId: string; label: unknown }[]> {
  const { rows } = await db.query<{ prediction_id: string; label: unknown }>(
    `SELECT DISTINCT ON (f.prediction_id) f.prediction_id, f.label
     FROM prediction_feedback f JOIN online_predictions p ON p.id = f.prediction_id
     WHERE p.model_name = $1 AND p.created_at >= $2 AND p.created_at < $3 AND p.mode = 'live' AND f.label IS NOT NULL
     ORDER BY f.prediction_id, f.received_at DESC`,
    [model, start, end],
  );
  return rows.map((r) => ({ predictionId: r.prediction_id, label: r.label }));
}
