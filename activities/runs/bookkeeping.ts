import { closeRunningSteps, recordRunEnd, recordRunStart, recordStepEnd, recordStepStart } from '../../infra/db/runs';
import type { RunBookkeepingActivities } from '../../pipelines/dsl/engine-activities';
import type { ActivityDeps } from '../context';

/** Run-level rows in PostgreSQL, written at the start and end of every pipeline run. */
export function createRunActivities(deps: Pick<ActivityDeps, 'db'>): RunBookkeepingActivities {
  return {
    async recordRunStarted(r) {
      await recordRunStart(deps.db, r);
    },
    async recordRunFinished(r) {
      // Steps first: a run recorded as ended never shows a step still running (this activity is
      // retried until the database answers, so the final states are written even after an outage).
      if (r.status !== 'succeeded') await closeRunningSteps(deps.db, r.runId, r.status);
      await recordRunEnd(deps.db, r.runId, r.status, r.error);
    },
    async recordApproval(r) {
      await recordStepStart(deps.db, { runId: r.runId, node: r.node, step: 'sluice.approval', stepVersion: '1', queue: 'cpu', attempt: 1 });
      await recordStepEnd(deps.db, { runId: r.runId, node: r.node, status: 'succeeded', outputs: r.decision });
    },
  };
}
