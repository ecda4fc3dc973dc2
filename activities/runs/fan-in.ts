import { listItemOutputs } from '../../infra/db/runs';
import type { FanInActivities } from '../../pipelines/dsl/engine-activities';
import type { ActivityDeps } from '../context';
import { concatClaims, type ClaimCheck, type ClaimPart } from '../../pipelines/dsl/claim';
import { indexClaim, storeClaim } from '../runtime/claims';

/**
 * Fan-in by reference: the results of a range of fan-out items, read from what each item recorded
 * in step_runs as it ended (a claim where its own output was large) and stored as one JSON list.
 * The fanning workflow gets a claim of a few hundred bytes instead of the results in history.
 */
export function createFanInActivities(deps: Pick<ActivityDeps, 'db' | 'store'>): FanInActivities {
  return {
    async collectFanIn({ runId, node, from, to }) {
      const rows = await listItemOutputs(deps.db, runId, node, from, to);
      const results: unknown[] = new Array(to - from);
      const seen = new Array<boolean>(to - from).fill(false);
      for (const r of rows) {
        results[r.index - from] = r.outputs;
        seen[r.index - from] = true;
      }
      const missing = seen.indexOf(false);
      // Each item's activity records its output before it completes, so a gap is a bug, not a race.
      if (missing >= 0) throw new Error(`fan-in of ${node}: item ${from + missing} has no recorded output in run ${runId}`);
      return storeClaim(deps.store, results);
    },
    async indexFanIn({ lists }) {
      // Nested index claims (a shard of shards) are flattened: an index lists plain parts only.
      return indexClaim(deps.store, concatClaims(await Promise.all(lists.map((l) => (l.$sluiceClaim.index ? expandIndex(deps, l) : l)))));
    },
  };
}

/** An index claim as the plain concatenation it stands for. */
async function expandIndex(deps: Pick<ActivityDeps, 'store'>, c: ClaimCheck): Promise<ClaimCheck> {
  const parts = JSON.parse((await deps.store.getBuffer(c.$sluiceClaim.parts[0]!.uri, { expectSha256: c.$sluiceClaim.parts[0]!.sha256 })).toString('utf8')) as ClaimPart[];
  return { $sluiceClaim: { parts, concat: true }, ...(c.length === undefined ? {} : { length: c.length }), path: [] };
}
