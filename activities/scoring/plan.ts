import pl from 'nodejs-polars';
import { getDatasetVersion } from '../../infra/db/datasets';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { inputColumns } from '../../pipelines/steps/model';
import { durationMs } from '../../pipelines/vocab/duration';
import { scoringPlanStep, type ScoringPlanInput, type ScoringPlanOutput, type ScoringWindow } from '../../pipelines/steps/scoring';
import { withLocalCopy } from '../data/frames';
import { runIngest } from '../ingestion/ingest';
import { implement } from '../runtime/implement';
import type { StepContext } from '../runtime/step-context';
import type { CheckpointOf } from '../../pipelines/dsl/step';
import { joinFeatureColumns, joinKeyColumns, scoringRows, typeMismatch } from './common';
import { invalidInput } from '../../pipelines/failures';

/**
 * Plans a batch-scoring run: the input dataset (a registered version, or a source ingested as one),
 * checked against the model's signature before anything is scored (every missing or mistyped
 * column named at once), the rows in the partition window counted, and the chunks emitted.
 */
export const planScoring = implement(scoringPlanStep, async (input, ctx) => runPlan(input, ctx));

export async function runPlan(input: ScoringPlanInput, ctx: StepContext<CheckpointOf<typeof scoringPlanStep>>): Promise<ScoringPlanOutput> {
  if (!input.model) throw invalidInput(`model ${input.modelName}: not found in the registry`);
  const model = input.model;
  const dataset = await inputDataset(input, ctx);

  // Signature check: columns of the dataset plus those the feature join adds.
  const byName = new Map(dataset.schema.map((c) => [c.name, c]));
  const joined = new Set(joinFeatureColumns(input.join));
  const missing: string[] = [];
  const mistyped: string[] = [];
  for (const i of model.signature.inputs) {
    for (const column of inputColumns(i)) {
      const col = byName.get(column);
      if (!col) {
        if (!joined.has(column)) missing.push(column);
        continue;
      }
      const why = typeMismatch(col.type, i.type);
      if (why) mistyped.push(`"${column}" is ${why}`);
    }
  }
  const absentKeys = joinKeyColumns(input.join).filter((c) => !byName.has(c));
  const absentKeep = input.keep.filter((c) => !byName.has(c));
  const problems: string[] = [];
  if (missing.length) problems.push(`missing column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} required by the model's signature`);
  if (mistyped.length) problems.push(`mistyped column${mistyped.length > 1 ? 's' : ''}: ${mistyped.join('; ')}`);
  if (absentKeys.length) problems.push(`feature join key column${absentKeys.length > 1 ? 's' : ''} ${absentKeys.map((c) => `"${c}"`).join(', ')} not in the dataset`);
  if (absentKeep.length) problems.push(`kept column${absentKeep.length > 1 ? 's' : ''} ${absentKeep.map((c) => `"${c}"`).join(', ')} not in the dataset`);
  if (input.join?.timestamp) {
    const { timestamp, keys } = input.join;
    const col = byName.get(timestamp);
    if (!col) problems.push(`feature join timestamp column "${timestamp}" is not in the dataset`);
    else if (col.type !== 'timestamp' && col.type !== 'date') problems.push(`feature join timestamp column "${timestamp}" is ${col.type}, expected a timestamp or date`);
    // A point-in-time join matches keys by the views' entity names: a mapped key cannot shadow a dataset column of that name.
    for (const [entity, column] of Object.entries(keys)) {
      if (entity !== column && byName.has(entity)) problems.push(`feature join key "${entity}" maps to column "${column}", but the dataset has a column "${entity}" too`);
    }
  }
  for (const reserved of ['row_id', 'prediction', 'model_name', 'model_version', 'run_id', 'input_dataset', 'chunk']) {
    if (input.keep.includes(reserved)) problems.push(`kept column "${reserved}" clashes with a prediction column`);
  }

  let window: ScoringWindow | null = null;
  if (input.partition) {
    const { timeColumn } = input.partition;
    const col = byName.get(timeColumn);
    if (!col) problems.push(`partition time column "${timeColumn}" is not in the dataset`);
    else if (col.type !== 'timestamp' && col.type !== 'date') problems.push(`partition time column "${timeColumn}" is ${col.type}, expected a timestamp or date`);
    const end = Date.parse(input.scheduledTime);
    if (Number.isNaN(end)) problems.push(`scheduled time ${JSON.stringify(input.scheduledTime)} is not a time`);
    else window = { column: timeColumn, start: new Date(end - durationMs(input.partition.window)).toISOString(), end: new Date(end).toISOString() };
  }
  if (problems.length) {
    throw invalidInput(`dataset ${dataset.name}@${dataset.version} cannot be scored by model ${input.modelName}${input.modelVersion ? `/${input.modelVersion}` : ''}: ${problems.join('; ')} (dataset columns: ${dataset.schema.map((c) => `${c.name}:${c.type}`).join(', ')})`);
  }

  let rows = dataset.rows;
  if (window) {
    const w = window;
    rows = await withLocalCopy(
      ctx.store,
      dataset,
      async (file) => Number(scoringRows(file, w).select(pl.len().alias('n')).collectSync().getColumn('n').get(0)),
      { extension: '.parquet' },
    );
  }
  const chunks = [];
  for (let offset = 0, index = 0; offset < rows; offset += input.chunkSize, index++) chunks.push({ index, offset, rows: Math.min(input.chunkSize, rows - offset) });
  ctx.log.info('scoring planned', { dataset: `${dataset.name}@${dataset.version}`, rows, chunks: chunks.length, window });
  return { dataset, model, modelName: input.modelName, modelVersion: input.modelVersion, rows, datasetRows: dataset.rows, window, chunks, keep: input.keep };
}

async function inputDataset(input: ScoringPlanInput, ctx: StepContext<CheckpointOf<typeof scoringPlanStep>>): Promise<DatasetRef> {
  if (input.dataset && input.source) throw invalidInput('give "dataset" or "source", not both');
  if (input.dataset) {
    const v = await getDatasetVersion(ctx.db, input.dataset.name, input.dataset.version ?? 'latest');
    if (!v) throw invalidInput(`dataset ${input.dataset.name}${input.dataset.version ? `@${input.dataset.version}` : ''} is not registered`);
    return { uri: v.uri, sha256: v.sha256, size: v.sizeBytes, name: v.name, version: v.version, rows: v.rows, schema: v.schema };
  }
  if (input.source) return (await runIngest({ source: input.source, name: input.inputName, maxBadRows: 0 }, ctx)).dataset;
  throw invalidInput('give the dataset to score: "dataset" (a registered version) or "source"');
}
