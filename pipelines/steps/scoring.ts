import { z } from 'zod';
import { passedOnValue } from '../dsl/passed-on';
import { step } from '../dsl/step';
import { positiveDuration } from '../vocab/duration';
import { parseModelUri } from '../vocab/model-uri';
import { artifactRef } from './artifact-ref';
import { datasetName, datasetRef } from './dataset';
import { featureViewSchema } from './features';
import { ingestCheckpoint, ingestSource } from './ingestion';
import { modelRef } from './model';

/**
 * Batch scoring (pipelines/batch-scoring.ts; implementations in activities/scoring):
 *
 * - `scoring.plan`: the input dataset (a registered version, or a source ingested on the spot),
 *   checked against the model's signature (missing or mistyped columns fail here, before any
 *   scoring, naming them), the rows in the run's partition window counted, and chunk descriptors
 *   `{ index, offset, rows }` emitted (offsets count rows inside the window).
 * - `scoring.chunk`: one chunk, streamed through onnxruntime in batches; each batch's predictions
 *   are a content-addressed Parquet part named in the heartbeat checkpoint, so a retried chunk
 *   resumes after its last completed batch. Output: the chunk's parts in row order (the same
 *   bytes for the same rows and model), and, with a table destination, the chunk's rows upserted on
 *   `(input_dataset, row_id)` in one transaction: re-running a chunk replaces its rows.
 * - `scoring.finalize`: the manifest (chunks, row counts, parts, model, run), whose row count must
 *   equal the planned one (else a non-retryable failure), the predictions registered as a dataset
 *   version, and the prediction log (summary statistics and a sample) as an artifact and a row of
 *   `prediction_logs`.
 *
 * Scoring writes per-run columns (`run_id`) and rows in PostgreSQL: never cached.
 * This module is imported by workflow code: schemas only.
 */

/** `name@alias` or `name/version` (a `models:/` prefix is accepted), parsed into its parts. */
export function parseModelSpec(s: string): { name: string; alias?: string; version?: number } | undefined {
  const r = parseModelUri(s, { prefix: 'optional', latest: false });
  return r.ok && !('latest' in r.uri) ? r.uri : undefined;
}

export const modelSpec = z.string().transform((s, ctx) => {
  const spec = parseModelSpec(s);
  if (!spec) ctx.addIssue({ code: 'custom', message: 'a model reference: "name@alias" (e.g. "churn@champion") or "name/version" (e.g. "churn/3")' });
  return spec ?? z.NEVER;
});

/** PostgreSQL table names for predictions come from users: checked, then quoted with pg.escapeIdentifier. */
export const PREDICTION_TABLE_RE = /^[a-z_][a-z0-9_]{0,62}$/;
export const predictionTableName = z.string().regex(PREDICTION_TABLE_RE, 'lowercase letters, digits and "_", starting with a letter or "_" (max 63)');

/** Score only rows with `timeColumn` in [scheduledTime − window, scheduledTime). */
export const scoringPartition = z
  .object({
    timeColumn: z.string().min(1),
    window: positiveDuration,
  })
  .strict();

/** The resolved window, as ISO times (end exclusive). */
export const scoringWindow = passedOnValue(z.object({ column: z.string(), start: z.string(), end: z.string() }));
export type ScoringWindow = z.infer<typeof scoringWindow>;

/**
 * Features joined before scoring, for the model inputs the dataset lacks (its own columns win):
 * - without `timestamp`: each entity's latest values from the online store (one read per batch
 *   and view), as a model serving now would see them;
 * - with `timestamp`: point-in-time from the offline store (Feast's rule, as training sets are
 *   built): for each row, the values as of the row's time in that column.
 */
export const featureJoin = z
  .object({
    views: z.array(featureViewSchema).min(1).max(20),
    /** Entity → dataset column holding its key; default: the column of the entity's own name. */
    keys: z.record(z.string().min(1), z.string().min(1)).default({}),
    /** The dataset's time column for a point-in-time join (a timestamp or date); unset: the online store. */
    timestamp: z.string().min(1).max(256).optional(),
  })
  .strict();
export type FeatureJoin = z.infer<typeof featureJoin>;

export const scoringDestination = z
  .object({
    /** Publish the predictions as Parquet (parts, the registered dataset version). Always on for the dataset version. */
    parquet: z.boolean().default(true),
    /** Also upsert them into this PostgreSQL table (created when missing) of Sluice's database. */
    table: predictionTableName.optional(),
  })
  .strict();

export const scoringChunk = passedOnValue(z.object({
  index: z.number().int().nonnegative(),
  /** First row of the chunk, counted among the rows in the window (all rows without one). */
  offset: z.number().int().nonnegative(),
  rows: z.number().int().positive(),
}));
export type ScoringChunk = z.infer<typeof scoringChunk>;

/**
 * Rows per chunk (the unit of parallelism across activities and of retry) and per batch (one
 * onnxruntime call and one Parquet part, the unit of resume within a chunk). Large batches keep
 * per-batch costs (a part's write and fsync, polars' per-call overhead) small next to inference:
 * in bench/scoring.ts, 524,288-row batches score 3M rows ~10% faster than 262,144-row ones for
 * ~100 MiB more memory. A batch's memory is bounded by these, whatever the input size.
 */
export const DEFAULT_CHUNK_SIZE = 1_048_576;
export const DEFAULT_SCORING_BATCH = 524_288;

export const scoringPlanInput = z
  .object({
    /** resolve-model's output (null: not found, which fails clearly). */
    model: modelRef.nullable(),
    modelName: z.string(),
    modelVersion: z.number().int().positive().nullable(),
    /** A registered dataset version (latest when no version)… */
    dataset: z.object({ name: datasetName, version: z.number().int().positive().optional() }).strict().optional(),
    /** …or a source, ingested first (as dataset `inputName`). */
    source: ingestSource.optional(),
    inputName: datasetName.default('scoring-input'),
    chunkSize: z.number().int().min(1).max(50_000_000).default(DEFAULT_CHUNK_SIZE),
    partition: scoringPartition.optional(),
    /** ISO time the run is for (b.context.scheduledTime). */
    scheduledTime: z.string(),
    join: featureJoin.optional(),
    /** Input columns copied into the predictions (ids, say). */
    keep: z.array(z.string().min(1)).max(100).default([]),
  })
  .strict();
export type ScoringPlanInput = z.infer<typeof scoringPlanInput>;

export const scoringPlanOutput = passedOnValue(z.object({
  dataset: datasetRef,
  model: modelRef,
  modelName: z.string(),
  modelVersion: z.number().int().positive().nullable(),
  /** Rows to score (in the window). */
  rows: z.number().int().nonnegative(),
  /** Rows of the dataset. */
  datasetRows: z.number().int().nonnegative(),
  window: scoringWindow.nullable(),
  chunks: z.array(scoringChunk),
  /** Input columns copied into the predictions. */
  keep: z.array(z.string()),
}));
export type ScoringPlanOutput = z.infer<typeof scoringPlanOutput>;

export const scoringPlanStep = step({
  name: 'scoring.plan',
  description: 'check the input against the model signature, count the rows in the window, split them into chunks',
  input: scoringPlanInput,
  output: scoringPlanOutput,
  queue: 'cpu',
  timeouts: { startToClose: '2h', heartbeat: '30s' },
  retry: { maximumAttempts: 3, initialInterval: '5s' },
  cache: false,
  /** A source is ingested on the way (as the ingest step does): a retry resumes that ingestion. */
  checkpoint: ingestCheckpoint,
});

export const scoreChunkInput = z
  .object({
    chunk: scoringChunk,
    dataset: datasetRef,
    model: modelRef,
    modelName: z.string(),
    modelVersion: z.number().int().positive().nullable(),
    window: scoringWindow.nullable(),
    batchSize: z.number().int().min(1).max(10_000_000).default(DEFAULT_SCORING_BATCH),
    join: featureJoin.optional(),
    keep: z.array(z.string().min(1)).default([]),
    table: predictionTableName.optional(),
  })
  .strict();
export type ScoreChunkInput = z.infer<typeof scoreChunkInput>;

/** One batch's predictions: a content-addressed Parquet part and its row count. */
export const scoringPart = passedOnValue(artifactRef.extend({ rows: z.number().int().nonnegative() }));
export type ScoringPart = z.infer<typeof scoringPart>;

export const scoreChunkOutput = passedOnValue(z.object({
  index: z.number().int().nonnegative(),
  offset: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
  /** The chunk's predictions, one part per batch, in row order. */
  parts: z.array(scoringPart),
  /** Batches reused from a previous attempt's checkpoint. */
  resumedBatches: z.number().int().nonnegative(),
  /** Rows upserted into the table (null without one). */
  tableRows: z.number().int().nonnegative().nullable(),
}));
export type ScoreChunkOutput = z.infer<typeof scoreChunkOutput>;

/**
 * Where a chunk got to: the parts published so far (references, one per batch), under a key over
 * everything that determines them (activities/scoring/score-chunk.ts chunkKey). A retry with the
 * same key reuses the parts that still exist and scores from the first missing batch.
 */
export const scoreChunkCheckpoint = z.object({
  key: z.string(),
  chunk: z.number().int(),
  rowsDone: z.number().int(),
  rows: z.number().int(),
  batches: z.array(scoringPart),
});
export type ScoreChunkCheckpoint = z.infer<typeof scoreChunkCheckpoint>;

export const scoreChunkStep = step({
  name: 'scoring.chunk',
  description: 'score one chunk in batches with onnxruntime (resumable), write its Parquet part and table rows idempotently',
  input: scoreChunkInput,
  output: scoreChunkOutput,
  queue: 'cpu',
  timeouts: { startToClose: '2h', heartbeat: '30s' },
  retry: { maximumAttempts: 5, initialInterval: '5s', maximumInterval: '1m' },
  cache: false,
  checkpoint: scoreChunkCheckpoint,
});

export const scoringFinalizeInput = z
  .object({
    plan: scoringPlanOutput,
    chunks: z.array(scoreChunkOutput),
    /** Dataset name of the predictions; default `<model>.predictions`. */
    predictionsName: datasetName.optional(),
    table: predictionTableName.optional(),
    sampleSize: z.number().int().min(0).max(10_000).default(100),
  })
  .strict();
export type ScoringFinalizeInput = z.infer<typeof scoringFinalizeInput>;

export const scoringFinalizeOutput = z.object({
  manifest: artifactRef,
  predictions: datasetRef,
  log: artifactRef,
  logId: z.number().int().positive(),
  rows: z.number().int().nonnegative(),
  modelName: z.string(),
  modelVersion: z.number().int().positive().nullable(),
});
export type ScoringFinalizeOutput = z.infer<typeof scoringFinalizeOutput>;

export const scoringFinalizeStep = step({
  name: 'scoring.finalize',
  description: 'check row counts, write the manifest, register the predictions as a dataset version, store the prediction log',
  input: scoringFinalizeInput,
  output: scoringFinalizeOutput,
  queue: 'cpu',
  timeouts: { startToClose: '1h', heartbeat: '30s' },
  retry: { maximumAttempts: 3, initialInterval: '5s', nonRetryableErrorTypes: ['ScoringRowCountMismatch'] },
  cache: false,
});

