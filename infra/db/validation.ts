import type { Db } from './pool';

/**
 * Validation reports linked to dataset versions (table `validation_reports`, migration 0004).
 * One row per validate step run, upserted on (run_id, node): a retried step rewrites its row.
 */

export interface ValidationReportRecord {
  datasetName: string;
  datasetVersion: number;
  suiteName: string;
  success: boolean;
  /** Suite statistics (GE keys) plus counts of failures and warnings. */
  statistics: Record<string, unknown>;
  reportUri: string;
  htmlUri: string;
  reference?: { name: string; version: number };
  runId: string;
  node: string;
}

export interface ValidationReportRow {
  id: number;
  dataset_name: string;
  dataset_version: number;
  suite_name: string;
  success: boolean;
  statistics: Record<string, unknown>;
  report_uri: string;
  html_uri: string;
  reference_name: string | null;
  reference_version: number | null;
  run_id: string;
  node: string;
  created_at: Date;
}

export async function recordValidationReport(db: Db, r: ValidationReportRecord): Promise<void> {
  await db.query(
    `INSERT INTO validation_reports
       (dataset_name, dataset_version, suite_name, success, statistics, report_uri, html_uri, reference_name, reference_version, run_id, node)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (run_id, node) DO UPDATE SET
       dataset_name = EXCLUDED.dataset_name, dataset_version = EXCLUDED.dataset_version, suite_name = EXCLUDED.suite_name,
       success = EXCLUDED.success, statistics = EXCLUDED.statistics, report_uri = EXCLUDED.report_uri, html_uri = EXCLUDED.html_uri,
       reference_name = EXCLUDED.reference_name, reference_version = EXCLUDED.reference_version`,
    [
      r.datasetName,
      r.datasetVersion,
      r.suiteName,
      r.success,
      JSON.stringify(r.statistics),
      r.reportUri,
      r.htmlUri,
      r.reference?.name ?? null,
      r.reference?.version ?? null,
      r.runId,
      r.node,
    ],
  );
}

const COLUMNS = `id, dataset_name, dataset_version, suite_name, success, statistics, report_uri, html_uri,
  reference_name, reference_version, run_id, node, created_at`;

/** Newest first; filter by dataset (and version), suite, or outcome. */
export async function listValidationReports(
  db: Db,
  opts: { dataset?: string; version?: number; suite?: string; success?: boolean; limit?: number } = {},
): Promise<ValidationReportRow[]> {
  const { rows } = await db.query<ValidationReportRow>(
    `SELECT ${COLUMNS} FROM validation_reports
      WHERE ($1::text IS NULL OR dataset_name = $1)
        AND ($2::integer IS NULL OR dataset_version = $2)
        AND ($3::text IS NULL OR suite_name = $3)
        AND ($4::boolean IS NULL OR success = $4)
      ORDER BY created_at DESC, id DESC
      LIMIT $5`,
    [opts.dataset ?? null, opts.version ?? null, opts.suite ?? null, opts.success ?? null, opts.limit ?? 50],
  );
  return rows;
}

export async function getValidationReportById(db: Db, id: number): Promise<ValidationReportRow | undefined> {
  const { rows } = await db.query<ValidationReportRow>(`SELECT ${COLUMNS} FROM validation_reports WHERE id = $1`, [id]);
  return rows[0];
}

export async function getValidationReport(db: Db, runId: string, node: string): Promise<ValidationReportRow | undefined> {
  const { rows } = await db.query<ValidationReportRow>(`SELECT ${COLUMNS} FROM validation_reports WHERE run_id = $1 AND node = $2`, [runId, node]);
  return rows[0];
}
