import type { ColumnDriftSummary } from '../../pipelines/steps/drift';
import type { DriftResultRow } from './drift';
import type { Db } from './pool';
import type { RunRow } from './runs';

/**
 * Read-only queries of the web console (console/), for the pages the other modules of infra/db
 * have no query for: a filtered, paginated runs list, a run's node runs summed per node (a
 * fan-out of 100,000 items is one row per status, not 100,000 rows), drift as a time series,
 * and the online serving tables. Every query is bounded by a LIMIT or an index range.
 */

export interface RunFilter {
  pipeline?: string | undefined;
  status?: string | undefined;
  /** started_at >= since */
  since?: Date | undefined;
  /** started_at < until */
  until?: Date | undefined;
}

/** One page of runs, newest first; `more` says whether another page follows (no count(*) over the whole table). */
export async function listRunsPage(db: Db, f: RunFilter, page: { limit: number; offset: number }): Promise<{ rows: RunRow[]; more: boolean }> {
  const { rows } = await db.query<RunRow>(
    `SELECT run_id, workflow_id, pipeline_name, pipeline_version, status, started_at, ended_at, error
       FROM runs
      WHERE ($1::text IS NULL OR pipeline_name = $1)
        AND ($2::text IS NULL OR status = $2)
        AND ($3::timestamptz IS NULL OR started_at >= $3)
        AND ($4::timestamptz IS NULL OR started_at < $4)
      ORDER BY started_at DESC, run_id DESC
      LIMIT $5 OFFSET $6`,
    [f.pipeline ?? null, f.status ?? null, f.since ?? null, f.until ?? null, page.limit + 1, page.offset],
  );
  return { rows: rows.slice(0, page.limit), more: rows.length > page.limit };
}

/** Pipeline names that have runs: a loose index scan over runs_pipeline_started (one probe per name, not a scan of every run). */
export async function runPipelineNames(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `WITH RECURSIVE names(name) AS (
       (SELECT pipeline_name FROM runs ORDER BY pipeline_name LIMIT 1)
       UNION ALL
       SELECT (SELECT pipeline_name FROM runs WHERE pipeline_name > names.name ORDER BY pipeline_name LIMIT 1) FROM names WHERE names.name IS NOT NULL
     ) SELECT name FROM names WHERE name IS NOT NULL`,
  );
  return rows.map((r) => r.name);
}

/** A node's step runs of one status: a plain node has one row in all; a fan-out node (`node[i]` items) one per status. */
export interface NodeStatusCount {
  /** The pipeline node id (`node[i]` items summed under `node`). */
  node: string;
  /** Whether the rows are fan-out items. */
  fanout: boolean;
  step: string | null;
  queue: string;
  status: string;
  count: number;
  max_attempt: number;
  first_started: Date;
  last_ended: Date | null;
}

/**
 * Summed by hash (no ordered aggregate, and migration 0011's statistics tell the planner how few
 * nodes there are), so a 100,000-item fan-out is one pass, not a sort spilled to disk; its errors
 * come from runProblems.
 */
export async function runNodeSummary(db: Db, runId: string): Promise<NodeStatusCount[]> {
  const { rows } = await db.query<NodeStatusCount>(
    `SELECT split_part(node_id, '[', 1) AS node, bool_or(strpos(node_id, '[') > 0) AS fanout,
            min(step) AS step, min(queue) AS queue, status, count(*)::int AS count, max(attempt) AS max_attempt,
            min(started_at) AS first_started, max(ended_at) AS last_ended
       FROM step_runs WHERE run_id = $1
      GROUP BY 1, status ORDER BY min(started_at), 1, status`,
    [runId],
  );
  return rows;
}

export interface StepRunProblem {
  node_id: string;
  status: string;
  attempt: number;
  started_at: Date;
  ended_at: Date | null;
  error: string | null;
}

/** Node runs that failed or needed more than one attempt (fan-out items included), the latest first (index step_runs_problems). */
export async function runProblems(db: Db, runId: string, limit = 50): Promise<StepRunProblem[]> {
  const { rows } = await db.query<StepRunProblem>(
    `SELECT node_id, status, attempt, started_at, ended_at, error FROM step_runs
      WHERE run_id = $1 AND (status = 'failed' OR attempt > 1 OR error IS NOT NULL)
      ORDER BY started_at DESC LIMIT $2`,
    [runId, limit],
  );
  return rows;
}

/** Artifacts a run's steps read (edges "artifact consumed_by step_run"), at most `limit`. */
export async function runInputArtifacts(db: Db, runId: string, limit = 500): Promise<{ from_id: string; to_id: string }[]> {
  const { rows } = await db.query<{ from_id: string; to_id: string }>(
    `SELECT from_id, to_id FROM lineage_edges
      WHERE run_id = $1 AND from_kind = 'artifact' AND to_kind = 'step_run' AND relation = 'consumed_by'
      ORDER BY to_id, id LIMIT $2`,
    [runId, limit],
  );
  return rows;
}

export interface LineageEdgeRow {
  from_kind: string;
  from_id: string;
  relation: string;
  to_kind: string;
  to_id: string;
  run_id: string | null;
  created_at: Date;
}

/** Edges into and out of one lineage node (an artifact URI, a `runId/node` step run, a dataset…). */
export async function lineageAround(db: Db, kind: string, id: string, limit = 200): Promise<LineageEdgeRow[]> {
  const { rows } = await db.query<LineageEdgeRow>(
    `(SELECT from_kind, from_id, relation, to_kind, to_id, run_id, created_at FROM lineage_edges WHERE to_kind = $1 AND to_id = $2 LIMIT $3)
     UNION ALL
     (SELECT from_kind, from_id, relation, to_kind, to_id, run_id, created_at FROM lineage_edges WHERE from_kind = $1 AND from_id = $2 LIMIT $3)`,
    [kind, id, limit],
  );
  return rows;
}

/** Whether a URI is a recorded artifact or report, i.e. one the console may serve. */
export async function isKnownArtifact(db: Db, uri: string): Promise<boolean> {
  const { rows } = await db.query<{ known: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM artifacts WHERE uri = $1)
         OR EXISTS (SELECT 1 FROM validation_reports WHERE html_uri = $1 OR report_uri = $1)
         OR EXISTS (SELECT 1 FROM drift_results WHERE html_uri = $1 OR report_uri = $1) AS known`,
    [uri],
  );
  return rows[0]?.known ?? false;
}

/** A drift_results row with its per-column results (pipelines/steps/drift.ts columnDriftSummary) and JSON report. */
export interface DriftPoint extends DriftResultRow {
  columns: Record<string, Pick<ColumnDriftSummary, 'test' | 'statistic' | 'threshold' | 'drift' | 'pValue'>>;
  report_uri: string;
}

/** A model's last `limit` drift checks, oldest first (one point per scored window). */
export async function driftSeries(db: Db, model: string, limit = 200): Promise<DriftPoint[]> {
  const { rows } = await db.query<DriftPoint>(
    `SELECT * FROM (
       SELECT batch_id, checked_at, dataset_name, dataset_version, share, dataset_drift, drifted, columns, html_uri, report_uri
         FROM drift_results WHERE model = $1 ORDER BY checked_at DESC LIMIT $2) t ORDER BY checked_at`,
    [model, limit],
  );
  return rows;
}

/** Drift checks across models, latest first (the reports page). */
export async function recentDriftChecks(db: Db, limit = 50): Promise<(DriftPoint & { model: string })[]> {
  const { rows } = await db.query<DriftPoint & { model: string }>(
    `SELECT model, batch_id, checked_at, dataset_name, dataset_version, share, dataset_drift, drifted, columns, html_uri, report_uri
       FROM drift_results ORDER BY checked_at DESC LIMIT $1`,
    [limit],
  );
  return rows;
}

export interface MonitoredModel {
  model: string;
  checks: number;
  last_checked: Date;
  last_share: number;
  last_drift: boolean;
}

export async function monitoredModels(db: Db): Promise<MonitoredModel[]> {
  const { rows } = await db.query<MonitoredModel>(
    `SELECT DISTINCT ON (model) model, count(*) OVER (PARTITION BY model)::int AS checks, checked_at AS last_checked, share AS last_share, dataset_drift AS last_drift
       FROM drift_results ORDER BY model, checked_at DESC`,
  );
  return rows;
}

export interface MonitorDecisionRow {
  id: number;
  decided_at: Date;
  kind: string;
  reason: string;
  numbers: Record<string, unknown> | null;
  workflow_id: string;
}

export async function listMonitorDecisions(db: Db, model: string, limit = 50): Promise<MonitorDecisionRow[]> {
  const { rows } = await db.query<MonitorDecisionRow>(
    `SELECT id, decided_at, kind, reason, numbers, workflow_id FROM monitor_decisions WHERE model = $1 ORDER BY decided_at DESC, id DESC LIMIT $2`,
    [model, limit],
  );
  return rows;
}

/** The task metric on each labelled window (the monitor's `performance-checked` decisions), oldest first. */
export async function performanceSeries(db: Db, model: string, limit = 200): Promise<{ decided_at: Date; metric: string; value: number; min_value: number | null }[]> {
  const { rows } = await db.query<{ decided_at: Date; metric: string; value: number; min_value: number | null }>(
    `SELECT * FROM (
       SELECT decided_at, numbers->>'metric' AS metric, (numbers->>'value')::float8 AS value, (numbers->>'minValue')::float8 AS min_value
         FROM monitor_decisions WHERE model = $1 AND kind = 'performance-checked' AND jsonb_typeof(numbers->'value') = 'number'
        ORDER BY decided_at DESC LIMIT $2) t ORDER BY decided_at`,
    [model, limit],
  );
  return rows;
}

export interface RouteRow {
  model_name: string;
  variant: string;
  version: number;
  mode: 'live' | 'shadow';
  weight: number;
  epoch: number;
  rollout_id: string | null;
  updated_at: Date;
}

export interface VariantTraffic {
  model_name: string;
  variant: string;
  version: number;
  mode: string;
  requests: number;
  errors: number;
  mean_latency_ms: number | null;
  p95_latency_ms: number | null;
  feedback: number;
  mean_reward: number | null;
}

/** Every model's routes (serving_routes, migration 0010). */
export async function listRoutes(db: Db): Promise<RouteRow[]> {
  const { rows } = await db.query<RouteRow>(
    `SELECT model_name, variant, version, mode, weight, epoch, rollout_id, updated_at FROM serving_routes ORDER BY model_name, mode, variant`,
  );
  return rows;
}

/** Online predictions per model and variant since `since`, with their feedback (the latest per prediction). */
export async function variantTraffic(db: Db, since: Date): Promise<VariantTraffic[]> {
  const { rows } = await db.query<VariantTraffic>(
    `SELECT p.model_name, p.variant, max(p.version) AS version, min(p.mode) AS mode, count(*)::int AS requests,
            count(*) FILTER (WHERE p.error IS NOT NULL)::int AS errors, avg(p.latency_ms) AS mean_latency_ms,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY p.latency_ms) AS p95_latency_ms,
            count(*) FILTER (WHERE f.label IS NOT NULL OR f.reward IS NOT NULL)::int AS feedback,
            avg(f.reward) AS mean_reward
       FROM online_predictions p
       -- Feedback comes after its prediction: the window's feedback, the latest per prediction, hash-joined.
       LEFT JOIN (SELECT DISTINCT ON (prediction_id) prediction_id, label, reward FROM prediction_feedback
                   WHERE received_at >= $1 ORDER BY prediction_id, received_at DESC) f ON f.prediction_id = p.id
      WHERE p.created_at >= $1
      GROUP BY p.model_name, p.variant ORDER BY p.model_name, p.variant`,
    [since],
  );
  return rows;
}
