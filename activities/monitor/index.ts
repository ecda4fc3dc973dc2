import * as driftDb from '../../infra/db/drift';
import type { ArtifactStore } from '../../infra/artifacts';
import type { SluiceConfig } from '../../infra/config';
import type { Db } from '../../infra/db/pool';
import { datasetDriftShare, driftScore } from '../../infra/metrics';
import type { MonitorActivities } from '../../pipelines/monitor/activities';
import { joinLabels } from './labels';

/** Activities of the drift monitor: its results and decisions kept in PostgreSQL, and as metrics. */
export function createMonitorActivities(deps: { db: Db; store: ArtifactStore; config: SluiceConfig }): MonitorActivities {
  return {
    joinLabels: (r) => joinLabels({ db: deps.db, store: deps.store, dataRoots: deps.config.dataRoots }, r),
    async recordDriftResult(r) {
      await driftDb.recordDriftResult(deps.db, {
        model: r.model,
        batchId: r.batchId,
        dataset: r.dataset,
        reference: r.reference,
        share: r.result.share,
        datasetDrift: r.result.datasetDrift,
        drifted: r.result.drifted,
        columns: r.result.columns,
        reportUri: r.result.report.uri,
        htmlUri: r.result.html.uri,
      });
      datasetDriftShare.set({ model: r.model }, r.result.share);
      for (const [column, c] of Object.entries(r.result.columns)) {
        if (c.test && c.statistic !== null) driftScore.set({ model: r.model, column, test: c.test }, c.statistic);
      }
    },
    async recordMonitorDecision(r) {
      const { at, kind, reason, numbers } = r.decision;
      await driftDb.recordMonitorDecision(deps.db, { model: r.model, workflowId: r.workflowId, seq: r.seq, decidedAt: at, kind, reason, numbers });
    },
  };
}
