import { getDatasetVersion } from '../../infra/db/datasets';
import { invalidInput } from '../../pipelines/failures';
import { resolveEvaluationDataStep } from '../../pipelines/steps/evaluation-data';
import { runIngest } from '../ingestion/ingest';
import { implement } from '../runtime/implement';

/** The evaluation dataset a training run names: a registered version, or a source ingested as the training source is. */
export const resolveEvaluationData = implement(resolveEvaluationDataStep, async ({ evaluation, dataset, schema, derive, filter }, ctx) => {
  if (evaluation && 'source' in evaluation) {
    // Ingested as the training source is (types, derived columns, filter), so a derived label exists here too.
    const out = await runIngest({ source: evaluation.source, name: evaluation.name ?? `${dataset}.evaluation`, maxBadRows: 0, schema, derive, filter }, ctx);
    ctx.countRows(out.dataset.rows);
    return { dataset: out.dataset };
  }
  if (!evaluation || !('dataset' in evaluation)) return {};
  const { name, version } = evaluation.dataset;
  const v = await getDatasetVersion(ctx.db, name, version ?? 'latest');
  if (!v) throw invalidInput(version === undefined ? `evaluation dataset ${name} is not registered` : `evaluation dataset ${name} has no version ${version}`);
  return { dataset: { uri: v.uri, sha256: v.sha256, size: v.sizeBytes, name: v.name, version: v.version, rows: v.rows, schema: v.schema } };
});
