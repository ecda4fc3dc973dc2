import { recordRunEnd, recordRunStart, recordStepEnd, recordStepStart, type RunStart } from '../../infra/db/runs';
import type { ActivityDeps } from '../context';

/** Run-level rows in PostgreSQL, written at the start and end of every pipeline run. */
export function createRunActivities(deps: Pick<ActivityDeps, 'db'>) {
  return {
    async recordRunStarted(r: RunStart): Promise<void> {
      await recordRunStart(deps.db, r);
    },
    async recordRunFinished(r: { runId: string; status: 'succeeded' | 'failed' | 'cancelled'; error?: string }): Promise<void> {
      await recordRunEnd(deps.db, r.runId, r.status, r.error);
    },
    /** An approval node's decision: who, when, why, and whether the timeout decided. */
    async recordApproval(r: { runId: string; node: string; decision: { approved: boolean; by: string; reason: string; decidedAt: string; timedOut: boolean } }): Promise<void> {
      await recordStepStart(deps.db, { runId: r.runId, node: r.node, step: 'sluice.approval', stepVersion: '1', queue: 'cpu', attempt: 1 });
      await recordStepEnd(deps.db, { runId: r.runId, node: r.node, status: 'succeeded', outputs: r.decision });
    },
  };
}
export type RunBookkeepingActivities = ReturnType<typeof createRunActivities>;
