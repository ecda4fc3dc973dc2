import type { Db } from '../infra/db/pool';
import { RegistryError, resolveModelUri, type ModelVersionRow } from '../infra/db/registry';
import { findRun } from '../infra/db/runs';
import { formatModelUri } from '../pipelines/vocab/model-uri';

/** A monitor's base params for retrains, and where they came from (shown by `monitor status` and `monitor policy`). */
export interface TrainingParamsChoice {
  params: Record<string, unknown>;
  from: string;
}

/**
 * Params of the champion's run that described reading its raw source. A retrain reads a dataset
 * Sluice already ingested (the scored data, or the labelled data joined from it), whose derived
 * columns are already there: deriving them again could overwrite the true labels of arrived
 * outcomes with a value computed from the inputs, and the monitor names the source itself.
 */
const SOURCE_PARAMS = ['source', 'dataset', 'schema', 'derive', 'filter'] as const;

/**
 * The params a retrain takes from its champion's training run: how it trained (target, features,
 * categorical codes, gbdt, search, gates, promotion metric…), not what it read. The champion's
 * holdout named rows of its own data, so it is not kept: a time range becomes a fractional
 * holdout of the latest rows by the same column (`orderBy`), as near as a retrain on other data
 * gets; the monitor replaces it with its own window when it has one.
 */
export function retrainParamsFromRun(params: Record<string, unknown>): Record<string, unknown> {
  const kept = Object.fromEntries(Object.entries(params).filter(([k]) => !(SOURCE_PARAMS as readonly string[]).includes(k) && k !== 'evaluation'));
  const evaluation = params.evaluation as { column?: unknown } | undefined;
  if (evaluation && typeof evaluation.column === 'string' && kept.orderBy === undefined) kept.orderBy = evaluation.column;
  return kept;
}

/**
 * `sluice monitor start` without `--training-params`: the params of the run that trained the
 * model's champion (the registry keeps the run id of every version, the run its params), for
 * `pipeline` (`champion`: the model's champion, from championOf). Falls back to the pipeline's defaults for the model, saying why, when there is no
 * champion or it was not trained by a recorded run of that pipeline (an imported model).
 */
export async function championTrainingParams(db: Db, model: string, pipeline: string, champion: ModelVersionRow | undefined): Promise<TrainingParamsChoice> {
  const defaults = (why: string): TrainingParamsChoice => ({ params: { model }, from: `${pipeline}'s defaults (${why})` });
  if (!champion) return defaults(`${model} has no champion`);
  const version = `${model} v${champion.version}`;
  const run = champion.run_id ? await findRun(db, champion.run_id) : undefined;
  if (!run || run.run_id !== champion.run_id) return defaults(`the champion ${version} has no recorded training run`);
  if (run.pipeline_name !== pipeline) return defaults(`the champion ${version} was registered by ${run.pipeline_name}, not ${pipeline}`);
  const params = run.params && typeof run.params === 'object' ? (run.params as Record<string, unknown>) : {};
  return { params: retrainParamsFromRun(params), from: `the champion ${version}'s training run ${run.run_id} (${run.workflow_id})` };
}

/**
 * `sluice monitor start` without `--reference`: the dataset version the champion was trained on,
 * from its registry lineage (`role: training`), as `name@version`. Throws, saying what to pass,
 * when there is no champion or its lineage names no single training dataset (an imported model).
 */
export function championTrainingData(model: string, champion: ModelVersionRow | undefined): string {
  const pass = `pass --reference DATASET@VERSION`;
  if (!champion) throw new Error(`${model} has no champion to take the reference data from: ${pass}`);
  const training = (champion.lineage.datasets ?? []).filter((d) => d.role === 'training');
  if (training.length !== 1) {
    const named = training.map((d) => `${d.name}@${d.version}`).join(', ');
    throw new Error(`the champion ${model} v${champion.version} names ${training.length ? `several training datasets (${named})` : 'no training dataset'} in its lineage: ${pass}`);
  }
  return `${training[0]!.name}@${training[0]!.version}`;
}

/** The model's champion version, or undefined when it has none (or no such model is registered). */
export async function championOf(db: Db, model: string): Promise<ModelVersionRow | undefined> {
  try {
    return await resolveModelUri(db, formatModelUri({ name: model, alias: 'champion' }));
  } catch (e) {
    if (e instanceof RegistryError && e.code === 'NOT_FOUND') return undefined;
    throw e;
  }
}
