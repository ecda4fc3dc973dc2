import type { Db } from './pool';

/**
 * Prediction logs of batch scoring (migration 0007): one row per run and finalize node, upserted
 * on (run_id, node) so a retried finalize records the same row again.
 */

export interface NewPredictionLog {
  runId: string;
  node: string;
  modelName: string;
  modelVersion: number | null;
  modelUri: string;
  inputName: string;
  inputVersion: number;
  predictionsName: string;
  predictionsVersion: number;
  rows: number;
  window: { column: string; start: string; end: string } | null;
  summary: unknown;
  sample: unknown;
  manifestUri: string;
  logUri: string;
  pgTable: string | null;
}

export interface PredictionLog extends NewPredictionLog {
  id: number;
  createdAt: Date;
}

interface Row {
  id: string | number;
  run_id: string;
  node: string;
  model_name: string;
  model_version: number | null;
  model_uri: string;
  input_name: string;
  input_version: number;
  predictions_name: string;
  predictions_version: number;
  rows: string | number;
  window_column: string | null;
  window_start: Date | null;
  window_end: Date | null;
  summary: unknown;
  sample: unknown;
  manifest_uri: string;
  log_uri: string;
  pg_table: string | null;
  created_at: Date;
}

const COLUMNS = `id, run_id, node, model_name, model_version, model_uri, input_name, input_version, predictions_name,
  predictions_version, rows, window_column, window_start, window_end, summary, sample, manifest_uri, log_uri, pg_table, created_at`;

function toLog(r: Row): PredictionLog {
  return {
    id: Number(r.id),
    runId: r.run_id,
    node: r.node,
    modelName: r.model_name,
    modelVersion: r.model_version,
    modelUri: r.model_uri,
    inputName: r.input_name,
    inputVersion: r.input_version,
    predictionsName: r.predictions_name,
    predictionsVersion: r.predictions_version,
    rows: Number(r.rows),
    window: r.window_column && r.window_start && r.window_end ? { column: r.window_column, start: r.window_start.toISOString(), end: r.window_end.toISOString() } : null,
    summary: r.summary,
    sample: r.sample,
    manifestUri: r.manifest_uri,
    logUri: r.log_uri,
    pgTable: r.pg_table,
    createdAt: r.created_at,
  };
}

export async function recordPredictionLog(db: Db, l: NewPredictionLog): Promise<PredictionLog> {
  const { rows } = await db.query<Row>(
    `INSERT INTO prediction_logs (run_id, node, model_name, model_version, model_uri, input_name, input_version, predictions_name,
                                  predictions_version, rows, window_column, window_start, window_end, summary, sample, manifest_uri, log_uri, pg_table)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
     ON CONFLICT (run_id, node) DO UPDATE SET
       model_name = EXCLUDED.model_name, model_version = EXCLUDED.model_version, model_uri = EXCLUDED.model_uri,
       input_name = EXCLUDED.input_name, input_version = EXCLUDED.input_version,
       predictions_name = EXCLUDED.predictions_name, predictions_version = EXCLUDED.predictions_version, rows = EXCLUDED.rows,
       window_column = EXCLUDED.window_column, window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
       summary = EXCLUDED.summary, sample = EXCLUDED.sample, manifest_uri = EXCLUDED.manifest_uri, log_uri = EXCLUDED.log_uri,
       pg_table = EXCLUDED.pg_table
     RETURNING ${COLUMNS}`,
    [
      l.runId,
      l.node,
      l.modelName,
      l.modelVersion,
      l.modelUri,
      l.inputName,
      l.inputVersion,
      l.predictionsName,
      l.predictionsVersion,
      l.rows,
      l.window?.column ?? null,
      l.window?.start ?? null,
      l.window?.end ?? null,
      JSON.stringify(l.summary),
      JSON.stringify(l.sample),
      l.manifestUri,
      l.logUri,
      l.pgTable,
    ],
  );
  return toLog(rows[0]!);
}

/** Logs of one run, or the latest ones of a model. */
export async function listPredictionLogs(db: Db, filter: { runId?: string; modelName?: string; limit?: number } = {}): Promise<PredictionLog[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM prediction_logs
      WHERE ($1::text IS NULL OR run_id = $1) AND ($2::text IS NULL OR model_name = $2)
      ORDER BY created_at DESC, id DESC LIMIT $3`,
    [filter.runId ?? null, filter.modelName ?? null, filter.limit ?? 100],
  );
  return rows.map(toLog);
}
