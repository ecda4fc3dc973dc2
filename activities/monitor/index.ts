import type { Db } from '../../infra/db/pool';
import { datasetDriftShare, driftScore } from '../../infra/metrics';
import type { MonitorActivities } from '../../pipelines/monitor/activities';

/** Activities of the drift monitor: its results and decisions kept in PostgreSQL, and as metrics. */
export function createMonitorActivities(deps: { db: Db }): MonitorActivities {
  return {
    async recordDriftResult(r) {
      await deps.db.query(
        `INSERT INTO drift_results (model, batch_id, dataset_name, dataset_version, reference_name, reference_version, share, dataset_drift, drifted, columns, report_uri, html_uri)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (model, batch_id) DO NOTHING`,
        [
          r.model, r.batchId, r.dataset.name, r.dataset.version, r.reference.name, r.reference.version, r.result.share, r.result.datasetDrift,
          r.result.drifted, JSON.stringify(r.result.columns), r.result.report.uri, r.result.html.uri,
        ],
      );
      datasetDriftShare.set({ model: r.model }, r.result.share);
      for (const [column, c] of Object.entries(r.result.columns)) {
        if (c.test && c.statistic !== null) driftScore.set({ model: r.model, column, test: c.test }, c.statistic);
      }
    },
    async recordMonitorDecision(r) {
      await deps.db.query(
        `INSERT INTO monitor_decisions (model, decided_at, kind, reason, numbers, workflow_id, seq) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (workflow_id, seq) DO NOTHING`,
        [r.model, r.decision.at, r.decision.kind, r.decision.reason, r.decision.numbers ? JSON.stringify(r.decision.numbers) : null, r.workflowId, r.seq],
      );
    },
  };
}
