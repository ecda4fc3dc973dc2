import type { Db } from '../../infra/db/pool';
import { registerDatasetVersion, type DatasetVersion, type NewDatasetVersion } from '../../infra/db/datasets';
import { recordEdge } from '../../infra/db/runs';

/**
 * Registers the version (race-safe, see infra/db/datasets.ts) and links it into the lineage graph:
 * the step run that made (or reused) it, the artifact holding it, and the artifact it was read
 * from when the source was one. Edges are upserts, so a retry adds nothing.
 */
export async function registerVersion(
  db: Db,
  v: NewDatasetVersion,
  lineage: { runId: string; node: string; sourceArtifact?: string },
): Promise<{ version: DatasetVersion; created: boolean }> {
  const r = await registerDatasetVersion(db, v);
  const id = `${r.version.name}@${r.version.version}`;
  await recordEdge(db, { from: ['dataset_version', id], relation: 'stored_as', to: ['artifact', r.version.uri] });
  await recordEdge(db, { from: ['step_run', `${lineage.runId}/${lineage.node}`], relation: r.created ? 'produced' : 'reused', to: ['dataset_version', id] });
  if (lineage.sourceArtifact) await recordEdge(db, { from: ['artifact', lineage.sourceArtifact], relation: 'ingested_into', to: ['dataset_version', id] });
  return r;
}
