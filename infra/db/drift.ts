import type { Db } from './pool';

/**
 * The drift monitor's records (migration 0008): one drift result per checked batch, and every
 * decision the monitor takes. Both writes are idempotent on their natural key, so a retried
 * activity records a row once.
 */

export interface DriftResultRecord {
  model: string;
  batchId: string;
  dataset: { name: string; version: number };
  reference: { name: string; version: number };
  share: number;
  datasetDrift: boolean;
  drifted: string[];
  /** Per-column results, kept as JSON. */
  columns: unknown;
  reportUri: string;
  htmlUri: string;
}

export async function recordDriftResult(db: Db, r: DriftResultRecord): Promise<void> {
  await db.query(
    `INSERT INTO drift_results (model, batch_id, dataset_name, dataset_version, reference_name, reference_version, share, dataset_drift, drifted, columns, report_uri, html_uri)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (model, batch_id) DO NOTHING`,
    [r.model, r.batchId, r.dataset.name, r.dataset.version, r.reference.name, r.reference.version, r.share, r.datasetDrift, r.drifted, JSON.stringify(r.columns), r.reportUri, r.htmlUri],
  );
}

export interface DriftResultRow {
  batch_id: string;
  checked_at: Date;
  dataset_name: string;
  dataset_version: number;
  share: number;
  dataset_drift: boolean;
  drifted: string[];
  html_uri: string;
}

/** A model's drift results, latest first. */
export async function listDriftResults(db: Db, model: string, opts: { limit?: number } = {}): Promise<DriftResultRow[]> {
  const { rows } = await db.query<DriftResultRow>(
    `SELECT batch_id, checked_at, dataset_name, dataset_version, share, dataset_drift, drifted, html_uri
       FROM drift_results WHERE model = $1 ORDER BY checked_at DESC LIMIT $2`,
    [model, opts.limit ?? 50],
  );
  return rows;
}

/** The HTML report of a drift check by its batch id (the latest, when several models checked one batch id and no model is given). */
export async function findDriftReport(db: Db, batchId: string, model?: string): Promise<string | undefined> {
  const { rows } = await db.query<{ html_uri: string }>(
    `SELECT html_uri FROM drift_results WHERE batch_id = $1 AND ($2::text IS NULL OR model = $2) ORDER BY checked_at DESC LIMIT 1`,
    [batchId, model ?? null],
  );
  return rows[0]?.html_uri;
}

export interface MonitorDecisionRecord {
  model: string;
  /** The monitor's workflow id and the decision's sequence number in it: the idempotency key. */
  workflowId: string;
  seq: number;
  decidedAt: string | Date;
  kind: string;
  reason: string;
  numbers?: Record<string, unknown> | undefined;
}

export async function recordMonitorDecision(db: Db, d: MonitorDecisionRecord): Promise<void> {
  await db.query(
    `INSERT INTO monitor_decisions (model, decided_at, kind, reason, numbers, workflow_id, seq) VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (workflow_id, seq) DO NOTHING`,
    [d.model, d.decidedAt, d.kind, d.reason, d.numbers ? JSON.stringify(d.numbers) : null, d.workflowId, d.seq],
  );
}
