import { recordRunEnd, recordRunStart, type RunStart } from '../../infra/db/runs';
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
  };
}
export type RunBookkeepingActivities = ReturnType<typeof createRunActivities>;
