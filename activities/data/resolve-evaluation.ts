import { getDatasetVersion } from '../../infra/db/datasets';
import { invalidInput } from '../../pipelines/failures';
import { resolveEvaluationDataStep } from '../../pipelines/steps/evaluation-data';
import { implement } from '../runtime/implement';

/** The registered evaluation dataset a training run names, as a dataset ref; nothing otherwise. */
export const resolveEvaluationData = implement(resolveEvaluationDataStep, async ({ evaluation }, ctx) => {
  if (!evaluation || !('dataset' in evaluation)) return {};
  const { name, version } = evaluation.dataset;
  const v = await getDatasetVersion(ctx.db, name, version ?? 'latest');
  if (!v) throw invalidInput(version === undefined ? `evaluation dataset ${name} is not registered` : `evaluation dataset ${name} has no version ${version}`);
  return { dataset: { uri: v.uri, sha256: v.sha256, size: v.sizeBytes, name: v.name, version: v.version, rows: v.rows, schema: v.schema } };
});
