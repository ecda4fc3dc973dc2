import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import pl from 'nodejs-polars';
import { z } from 'zod';
import { artifactRef } from '../../pipelines/steps/artifact-ref';
import { scoreChunkStep, type FeatureJoin, type ScoreChunkInput, type ScoreChunkOutput } from '../../pipelines/steps/scoring';
import { readOnlineFeatures, type EntityKeyValue } from '../features/online-read';
import { putParquetFile, withLocalCopy, withTempDir } from '../data/frames';
import { onnxProfile, openModel, type BatchPrediction, type ScoringModel } from '../evaluation/onnx-scoring';
import { implement } from '../runtime/implement';
import type { StepContext } from '../runtime/step-context';
import { joinKeyColumns, labelsAreNumbers, PREDICTION, probaColumn, ROW_ID, scoringRows, sha256Json } from './common';
import { upsertPredictions } from './pg-writer';

/**
 * One chunk of a batch-scoring run: rows [offset, offset + rows) of the rows to score (the input
 * in file order, filtered to the window), read lazily from Parquet one batch at a time
 * (`scan → filter → slice`), features joined from the online store, scored through the model's
 * ONNX session (onnx-scoring's `openModel`: the same feeding as evaluation), so memory is bounded
 * by the batch size whatever the input size.
 *
 * Resume: each batch's predictions are written as a content-addressed Parquet part and the list
 * of parts so far is the heartbeat checkpoint (with a key over everything that determines the
 * output). A retried attempt with the same key reuses the parts that still exist and scores from
 * the first missing batch. Scoring is deterministic, so the chunk's part (the batches concatenated)
 * has the same bytes whether or not the chunk was interrupted.
 *
 * Idempotent writes: the chunk part is content-addressed (a retry writes the same key), and table
 * rows are upserted on (input_dataset, row_id) in one transaction (pg-writer.ts).
 */

const checkpointSchema = z.object({
  key: z.string(),
  chunk: z.number().int(),
  rowsDone: z.number().int(),
  rows: z.number().int(),
  batches: z.array(artifactRef.extend({ rows: z.number().int().nonnegative() })),
});
export type ScoreChunkCheckpoint = z.infer<typeof checkpointSchema>;

/** What a chunk's output depends on: a checkpoint from another input (or run) is not reused. */
export function chunkKey(input: ScoreChunkInput, runId: string): string {
  return sha256Json({
    runId,
    chunk: input.chunk,
    dataset: input.dataset.sha256,
    model: input.model.sha256,
    modelName: input.modelName,
    modelVersion: input.modelVersion,
    window: input.window,
    batchSize: input.batchSize,
    join: input.join ?? null,
    keep: input.keep,
  });
}

/** SLUICE_SCORING_PROFILE=1: phase totals (ms) over the chunks of this process, printed to stderr per chunk. */
const PROFILE = process.env.SLUICE_SCORING_PROFILE === '1';
export const scoringProfile: Record<string, number> = {};
const tick = (phase: string, since: number): number => {
  const now = performance.now();
  if (PROFILE) scoringProfile[phase] = (scoringProfile[phase] ?? 0) + (now - since);
  return now;
};

export const scoreChunk = implement(scoreChunkStep, async (input, ctx) => runScoreChunk(input, ctx));

/** Chunks being scored in this process: their onnxruntime sessions share the cores. */
let activeChunks = 0;

export async function runScoreChunk(input: ScoreChunkInput, ctx: StepContext): Promise<ScoreChunkOutput> {
  activeChunks++;
  try {
    return await scoreOneChunk(input, ctx);
  } finally {
    activeChunks--;
  }
}

async function scoreOneChunk(input: ScoreChunkInput, ctx: StepContext): Promise<ScoreChunkOutput> {
  const { chunk, batchSize } = input;
  const key = chunkKey(input, ctx.run.runId);
  const prior = checkpointSchema.safeParse(ctx.checkpoint);
  const reused: ScoreChunkCheckpoint['batches'] = [];
  if (prior.success && prior.data.key === key) {
    for (const b of prior.data.batches) {
      if (!(await ctx.store.exists(b.uri))) break;
      reused.push(b);
    }
    if (reused.length) ctx.log.info('resuming chunk from checkpoint', { chunk: chunk.index, batches: reused.length, rowsDone: reused.reduce((s, b) => s + b.rows, 0) });
  }
  const nBatches = Math.ceil(chunk.rows / batchSize);
  const meta = { modelName: input.modelName, modelVersion: input.modelVersion, runId: ctx.run.runId };

  return withTempDir(async (dir) => {
    const files: string[] = [];
    // The chunk's batches: read back from the previous attempt's parts, or kept from this attempt.
    const frames: pl.DataFrame[] = [];
    const batches = [...reused];
    // Parts of the previous attempt, fetched (hash verified) for the chunk's part.
    for (const [i, b] of reused.entries()) {
      const file = path.join(dir, `batch-${String(i).padStart(6, '0')}.parquet`);
      await withLocalCopy(ctx.store, b, async (f) => fs.copyFileSync(f, file));
      files.push(file);
      frames.push(pl.readParquet(file));
    }
    let rowsDone = reused.reduce((s, b) => s + b.rows, 0);
    if (batches.length < nBatches) {
      await withLocalCopy(
        ctx.store,
        input.dataset,
        async (file) => {
          let t0 = performance.now();
          // Several chunks in one process (the map's parallel activities): split the cores between their sessions.
          const threads = Math.max(1, Math.floor(os.availableParallelism() / Math.max(1, activeChunks)));
          const model = await openModel(ctx.store, input.model, { intraOpNumThreads: threads, interOpNumThreads: 1 });
          t0 = tick('openModel', t0);
          try {
            const wanted = [...new Set([ROW_ID, ...model.columns.filter((c) => input.dataset.schema.some((s) => s.name === c)), ...joinKeyColumns(input.join), ...input.keep])];
            const rows = scoringRows(file, input.window).slice(chunk.offset, chunk.rows).select(...wanted);
            for (let b = batches.length; b < nBatches; b++) {
              if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('cancelled');
              const start = b * batchSize;
              let t = performance.now();
              let frame = rows.slice(start, Math.min(batchSize, chunk.rows - start)).collectSync();
              t = tick('read', t);
              if (input.join) frame = await joinFeatures(ctx, frame, input.join, model);
              t = tick('join', t);
              const prediction = await model.run(frame);
              t = tick('model.run', t);
              const out = predictionFrame(frame, prediction, model, input.keep, meta);
              t = tick('outputFrame', t);
              const part = path.join(dir, `batch-${String(b).padStart(6, '0')}.parquet`);
              out.writeParquet(part, { compression: 'zstd' });
              t = tick('batchWrite', t);
              const ref = await putParquetFile(ctx.store, part);
              t = tick('batchPut', t);
              files.push(part);
              frames.push(out);
              batches.push({ ...ref, rows: out.height });
              rowsDone += out.height;
              ctx.countRows(out.height);
              ctx.heartbeat({ key, chunk: chunk.index, rowsDone, rows: chunk.rows, batches: [...batches] } satisfies ScoreChunkCheckpoint);
            }
          } finally {
            await model.release();
          }
        },
        { extension: '.parquet' },
      );
    }
    let t = performance.now();
    const all = frames.length === 1 ? frames[0]! : pl.concat(frames, { how: 'vertical', rechunk: true });
    t = tick('chunkConcat', t);
    const chunkFile = path.join(dir, 'chunk.parquet');
    all.writeParquet(chunkFile, { compression: 'zstd' });
    t = tick('chunkWrite', t);
    const part = await putParquetFile(ctx.store, chunkFile);
    t = tick('chunkPut', t);
    if (PROFILE) process.stderr.write(`[scoring profile] after chunk ${chunk.index}: ${Object.entries({ ...scoringProfile, ...onnxProfile }).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')} ms\n`);
    const tableRows = input.table ? await upsertPredictions(ctx.db, input.table, frames, { inputDataset: `${input.dataset.name}@${input.dataset.version}`, chunk: chunk.index }) : null;
    return { index: chunk.index, offset: chunk.offset, rows: all.height, part, batches: batches.length, resumedBatches: reused.length, tableRows };
  });
}

/** The predictions of one batch: row id, kept columns, prediction, per-class probabilities, model and run. */
export function predictionFrame(
  frame: pl.DataFrame,
  p: BatchPrediction,
  model: Pick<ScoringModel, 'task' | 'classes' | 'hasProbabilities'>,
  keep: string[],
  meta: { modelName: string; modelVersion: number | null; runId: string },
): pl.DataFrame {
  const n = frame.height;
  const cols: pl.Series[] = [frame.getColumn(ROW_ID).cast(pl.Int64), ...keep.map((k) => frame.getColumn(k))];
  if (model.task === 'regression') {
    cols.push(pl.Series(PREDICTION, p.values!, pl.Float64));
  } else {
    const idx = p.labelIndex!;
    const classes = model.classes;
    if (labelsAreNumbers(classes)) {
      const v = new Float64Array(n);
      for (let i = 0; i < n; i++) v[i] = classes[idx[i]!] as number;
      cols.push(pl.Series(PREDICTION, v, pl.Float64));
    } else {
      const labels = classes.map(String);
      const v = new Array<string>(n);
      for (let i = 0; i < n; i++) v[i] = labels[idx[i]!]!;
      cols.push(pl.Series(PREDICTION, v, pl.Utf8));
    }
    if (p.probabilities) {
      const C = classes.length;
      for (let k = 0; k < C; k++) {
        const col = new Float64Array(n);
        for (let i = 0; i < n; i++) col[i] = p.probabilities[i * C + k]!;
        cols.push(pl.Series(probaColumn(classes[k]!), col, pl.Float64));
      }
    }
  }
  const df = pl.DataFrame(cols);
  return df.withColumns(
    pl.lit(meta.modelName).alias('model_name'),
    (meta.modelVersion === null ? pl.lit(null).cast(pl.Int32) : pl.lit(meta.modelVersion).cast(pl.Int32)).alias('model_version'),
    pl.lit(meta.runId).alias('run_id'),
  );
}

/** Adds the online features of the batch's entities, one read per view, typed as the model's inputs want. */
async function joinFeatures(ctx: StepContext, frame: pl.DataFrame, join: FeatureJoin, model: ScoringModel): Promise<pl.DataFrame> {
  const inputType = new Map(model.signature.inputs.map((i) => [i.column, i.type]));
  const added: pl.Series[] = [];
  for (const view of join.views) {
    const keyCols = view.entities.map((e) => ({ entity: e, values: frame.getColumn(join.keys[e] ?? e).toArray() as unknown[] }));
    const keys = Array.from({ length: frame.height }, (_, i) =>
      Object.fromEntries(keyCols.map((k) => [k.entity, (k.values[i] ?? null) as EntityKeyValue])),
    );
    const rows = await readOnlineFeatures(ctx.db, view, keys);
    for (const f of view.features) {
      if (frame.columns.includes(f.name)) continue; // the dataset's own column wins
      const values = rows.map((r) => r[f.name]);
      const t = inputType.get(f.name);
      if (t === 'float' || t === 'double') added.push(pl.Series(f.name, Float64Array.from(values, (v) => (v === null || v === undefined ? NaN : Number(v))), pl.Float64));
      else if (t === 'int64') added.push(pl.Series(f.name, values.map((v) => (v === null || v === undefined ? null : Number(v))), pl.Int64));
      else added.push(pl.Series(f.name, values.map((v) => (v === null || v === undefined ? null : String(v))), pl.Utf8));
    }
  }
  return added.length ? pl.DataFrame([...frame.getColumns(), ...added]) : frame;
}
