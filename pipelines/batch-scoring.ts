import { z } from 'zod';
import { pipeline } from './dsl/pipeline';
import { notifyMonitorStep } from './steps/monitor';
import { datasetName } from './steps/dataset';
import { ingestSource } from './steps/ingestion';
import { resolveModelStep } from './steps/registry';
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_SCORING_BATCH,
  featureJoin,
  modelSpec,
  scoreChunkStep,
  scoringDestination,
  scoringFinalizeStep,
  scoringPartition,
  scoringPlanStep,
} from './steps/scoring';

/**
 * Batch scoring: resolve the model once (recorded in the run) → plan (signature check, rows in
 * the partition window, chunks) → score the chunks in parallel (bounded) → finalize (manifest,
 * predictions dataset version, prediction log). Every prediction carries the model's name and
 * version and the run id. Scheduled runs score their own interval with `partition`.
 */
export const batchScoringParams = z
  .object({
    /** `name@alias` or `name/version`. */
    model: modelSpec.prefault('penguins-species@champion'),
    /** A registered dataset version (latest without `version`)… */
    dataset: z.object({ name: datasetName, version: z.number().int().positive().optional() }).strict().optional(),
    /** …or a source to ingest. */
    source: ingestSource.optional(),
    /** Dataset name a source is ingested as. */
    inputName: datasetName.default('scoring-input'),
    chunkSize: z.number().int().min(1).max(50_000_000).default(DEFAULT_CHUNK_SIZE),
    batchSize: z.number().int().min(1).max(10_000_000).default(DEFAULT_SCORING_BATCH),
    partition: scoringPartition.optional(),
    join: featureJoin.optional(),
    keep: z.array(z.string().min(1)).max(100).default([]),
    destination: scoringDestination.default({ parquet: true }),
    /** Dataset name of the predictions; default `<model>.predictions`. */
    predictionsName: datasetName.optional(),
  })
  .strict()
  .refine((p) => (p.dataset === undefined) !== (p.source === undefined), { message: 'give exactly one of "dataset" and "source"', path: ['dataset'] });

export const batchScoring = pipeline(
  {
    name: 'batch-scoring',
    description: 'score a dataset (or a partition window of it) with a registered model, in parallel chunks, to Parquet and/or PostgreSQL',
    params: batchScoringParams,
  },
  (p, b) => {
    const model = b.step('model', resolveModelStep, { name: p.model.name, alias: p.model.alias, version: p.model.version });
    const plan = b.step('plan', scoringPlanStep, {
      model: model.output.model,
      modelName: model.output.name,
      modelVersion: model.output.version,
      dataset: p.dataset,
      source: p.source,
      inputName: p.inputName,
      chunkSize: p.chunkSize,
      partition: p.partition,
      scheduledTime: b.context.scheduledTime,
      join: p.join,
      keep: p.keep,
    });
    const scored = b.map('score', scoreChunkStep, { over: plan.output.chunks, parallelism: 4 }, (chunk) => ({
      chunk,
      dataset: plan.output.dataset,
      model: plan.output.model,
      modelName: plan.output.modelName,
      modelVersion: plan.output.modelVersion,
      window: plan.output.window,
      batchSize: p.batchSize,
      join: p.join,
      keep: p.keep,
      table: p.destination.table,
    }));
    const done = b.step('finalize', scoringFinalizeStep, {
      plan: plan.output,
      chunks: scored.output,
      predictionsName: p.predictionsName,
      table: p.destination.table,
    });
    // The monitor compares the scored inputs (not the predictions) with the training data: the
    // rows of this run's window only; labels arriving later are joined with the predictions.
    const notified = b.step(
      'notify-monitor',
      notifyMonitorStep,
      { model: p.model.name, batchId: b.context.workflowId, dataset: plan.output.dataset, window: plan.output.window, rows: plan.output.rows, predictions: done.output.predictions },
      { after: [done] },
    );
    return {
      monitorNotified: notified.output.notified,
      manifest: done.output.manifest,
      predictions: done.output.predictions,
      log: done.output.log,
      rows: done.output.rows,
      modelName: done.output.modelName,
      modelVersion: done.output.modelVersion,
    };
  },
);
