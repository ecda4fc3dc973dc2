import { recordRunEnd, recordRunStart, recordStepEnd, recordStepStart } from '../../infra/db/runs';
import type { RunBookkeepingActivities } from '../../pipelines/dsl/engine-activities';
import type { ActivityDeps } from '../context';

/** Run-level rows in PostgreSQL, written at the start and end of every pipeline run. */
export function createRunActivities(deps: Pick<ActivityDeps, 'db'>): RunBookkeepingActivities {
  return {
    async recordRunStarted(r) {
      await recordRunStart(deps.db, r);
    },
    async recordRunFinished(r) {
      await recordRunEnd(deps.db, r.runId, r.status, r.error);
    },
    async recordApproval(r) {
      await recordStepStart(deps.db, { runId: r.runId, node: r.node, step: 'sluice.approval', stepVersion: '1', queue: 'cpu', attempt: 1 });
      await recordStepEnd(deps.db, { runId: r.runId, node: r.node, status: 'succeeded', outputs: r.decision });
    },
  };
}
