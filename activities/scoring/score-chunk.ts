import { performance } from 'node:perf_hooks';
import path from 'node:path';
import pl from 'nodejs-polars';
import { scoreChunkStep, type FeatureJoin, type ScoreChunkCheckpoint, type ScoreChunkInput, type ScoreChunkOutput, type ScoringPart } from '../../pipelines/steps/scoring';
import type { CheckpointOf } from '../../pipelines/dsl/step';
import { inputColumns, signatureColumns, type ModelSignature } from '../../pipelines/steps/model';
import { readOnlineFeatures, type EntityKeyValue } from '../features/online-read';
import { assertSafeView } from '../features/online-store';
import { pointInTimeJoin, type PitFeatureSource } from '../features/pit-join';
import { readPitSources } from '../features/training-set';
import { putParquetFile, withLocalCopy, withTempDir } from '../data/frames';
import { withSharedLocalCopy } from '../data/local-cache';
import { onnxProfile } from '../onnx/scoring';
import { implement } from '../runtime/implement';
import type { StepContext } from '../runtime/step-context';
import type { ScoreBatchResult } from './inference-pool';
import type { BatchSource } from './inference-protocol';
import { joinKeyColumns, ROW_ID, scoringRows, sha256Json } from './common';
import { upsertPredictions } from './pg-writer';

/**
 * One chunk of a batch-scoring run: rows [offset, offset + rows) of the rows to score (the input
 * in file order, filtered to the window), read lazily from Parquet one batch at a time
 * (`scan → filter → slice`) by the process's inference threads (inference-pool.ts; with a feature
 * join, read here and joined from the online store first), which run the model's ONNX session
 * (onnx/scoring's `loadScoringModel`: the same feeding as evaluation) and write the batch's
 * predictions as a Parquet part. Two batches of a chunk are in flight at once. Memory is bounded
 * by the batch size whatever the input size.
 *
 * Output: the chunk's parts in row order (prediction-frame.ts), each content-addressed (scoring is
 * deterministic, so the same rows and model give the same bytes). Finalize merges every chunk's
 * parts into the predictions file, row groups copied as they are.
 *
 * Resume: the parts so far are the heartbeat checkpoint (with a key over everything that
 * determines the output). A retried attempt with the same key reuses the parts that still exist
 * and scores from the first missing batch, so its parts are the ones an uninterrupted attempt
 * makes.
 *
 * Idempotent writes: parts are content-addressed (a retry writes the same keys), and table rows
 * are upserted on (input_dataset, row_id) in one transaction (pg-writer.ts).
 */

/** Parts are the predictions' row groups (finalize merges them without re-encoding): compressed as the predictions are. */
const PART_COMPRESSION = 'zstd';
/** Changes whenever what a part holds changes, so a checkpoint of older parts is not resumed from. */
const PART_FORMAT = `predictions/2 ${PART_COMPRESSION}`;

/** Batches of one chunk in the inference threads at once: one is scored while the last one's part is published. */
const IN_FLIGHT = 2;

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
    parts: PART_FORMAT,
  });
}

/** SLUICE_SCORING_PROFILE=1: phase totals (ms) over the chunks of this process, printed to stderr per chunk. */
const PROFILE = process.env.SLUICE_SCORING_PROFILE === '1';
export const scoringProfile: Record<string, number> = {};
const add = (phase: string, ms: number) => {
  if (PROFILE) scoringProfile[phase] = (scoringProfile[phase] ?? 0) + ms;
};
const tick = (phase: string, since: number): number => {
  const now = performance.now();
  add(phase, now - since);
  return now;
};

export const scoreChunk = implement(scoreChunkStep, async (input, ctx) => runScoreChunk(input, ctx));

export async function runScoreChunk(input: ScoreChunkInput, ctx: StepContext<CheckpointOf<typeof scoreChunkStep>>): Promise<ScoreChunkOutput> {
  const { chunk, batchSize } = input;
  const key = chunkKey(input, ctx.run.runId);
  const prior = ctx.checkpoint;
  const reused: ScoringPart[] = [];
  if (prior && prior.key === key) {
    for (const b of prior.batches) {
      if (!(await ctx.store.exists(b.uri))) break;
      reused.push(b);
    }
    if (reused.length) ctx.log.info('resuming chunk from checkpoint', { chunk: chunk.index, batches: reused.length, rowsDone: reused.reduce((s, b) => s + b.rows, 0) });
  }
  const nBatches = Math.ceil(chunk.rows / batchSize);
  const meta = { modelName: input.modelName, modelVersion: input.modelVersion, runId: ctx.run.runId };
  const parts = [...reused];
  let rowsDone = reused.reduce((s, b) => s + b.rows, 0);

  return withTempDir(async (dir) => {
    /** Local files of this attempt's parts (for the table upsert). */
    const files = new Map<number, string>();
    if (parts.length < nBatches) {
      await withSharedLocalCopy(
        ctx.store,
        input.dataset,
        async (file) => {
          const pool = ctx.inference;
          const columns = modelColumns(input.model.signature);
          const wanted = [...new Set([ROW_ID, ...columns.filter((c) => input.dataset.schema.some((s) => s.name === c)), ...joinKeyColumns(input.join), ...(input.join?.timestamp ? [input.join.timestamp] : []), ...input.keep])];
          // A point-in-time join reads each view's offline rows once per chunk.
          const pit = input.join?.timestamp ? await pitSources(ctx, input.join, new Set(input.dataset.schema.map((c) => c.name))) : undefined;
          const batchRows = (b: number) => ({ offset: chunk.offset + b * batchSize, rows: Math.min(batchSize, chunk.rows - b * batchSize) });
          /** Where a batch's rows come from: the file itself (the thread reads them), or, with a feature join, the joined rows. */
          const sourceOf = async (b: number): Promise<BatchSource> => {
            const { offset, rows } = batchRows(b);
            if (!input.join) return { kind: 'file', file, window: input.window, offset, rows, columns: wanted };
            const t = performance.now();
            const frame = scoringRows(file, input.window).slice(offset, rows).select(...wanted).collectSync();
            const joined = pit ? pitJoin(frame, input.join, pit) : await joinFeatures(ctx, frame, input.join, input.model.signature);
            const ipc = joined.writeIPC();
            tick('read+join', t);
            return { kind: 'ipc', frame: ipc };
          };
          const fetchModel = () => ctx.store.getBuffer(input.model.uri, { expectSha256: input.model.sha256 });
          const outFile = (b: number) => path.join(dir, `batch-${String(b).padStart(6, '0')}.parquet`);
          const submit = async (b: number) => {
            const source = await sourceOf(b);
            return pool.score({ model: input.model, fetchModel, source, keep: input.keep, meta, outFile: outFile(b), compression: PART_COMPRESSION });
          };
          // Up to IN_FLIGHT batches of this chunk are scored at once; their parts are recorded in order.
          const inFlight: { b: number; result: Promise<ScoreBatchResult> }[] = [];
          let next = parts.length;
          try {
            while (parts.length < nBatches) {
              while (inFlight.length < IN_FLIGHT && next < nBatches) {
                if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('cancelled');
                const result = submit(next);
                result.catch(() => undefined); // awaited below, in order
                inFlight.push({ b: next++, result });
              }
              const { b, result: pending } = inFlight.shift()!;
              const t = performance.now();
              const result = await pending;
              let t2 = tick('waited for scoring', t);
              for (const [phase, ms] of Object.entries(result.timings)) add(`thread ${phase}`, ms);
              const ref = await putParquetFile(ctx.store, outFile(b));
              t2 = tick('partPut', t2);
              files.set(b, outFile(b));
              parts.push({ ...ref, rows: result.rows });
              rowsDone += result.rows;
              ctx.countRows(result.rows);
              ctx.heartbeat({ key, chunk: chunk.index, rowsDone, rows: chunk.rows, batches: [...parts] } satisfies ScoreChunkCheckpoint);
            }
          } finally {
            // Batches still being scored when this attempt fails: let them finish before the temp dir goes.
            await Promise.allSettled(inFlight.map((x) => x.result));
          }
        },
        { extension: '.parquet' },
      );
    }
    if (PROFILE) process.stderr.write(`[scoring profile] after chunk ${chunk.index}: ${Object.entries({ ...scoringProfile, ...onnxProfile }).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')} ms\n`);
    let tableRows: number | null = null;
    if (input.table) {
      // One part in memory at a time, whatever the chunk's size.
      async function* frames(): AsyncGenerator<pl.DataFrame> {
        for (const [b, part] of parts.entries()) {
          const local = files.get(b);
          yield local ? pl.readParquet(local) : await withLocalCopy(ctx.store, part, async (f) => pl.readParquet(f), { extension: '.parquet' });
        }
      }
      tableRows = await upsertPredictions(ctx.db, input.table, frames(), { inputDataset: `${input.dataset.name}@${input.dataset.version}`, chunk: chunk.index });
    }
    return { index: chunk.index, offset: chunk.offset, rows: rowsDone, parts, resumedBatches: reused.length, tableRows };
  });
}

/** Dataset columns the model reads. */
function modelColumns(sig: ModelSignature): string[] {
  return signatureColumns(sig);
}

/** The views' offline rows, each view narrowed to the features the dataset lacks (its own columns win). */
async function pitSources(ctx: StepContext, join: FeatureJoin, datasetColumns: Set<string>): Promise<PitFeatureSource[]> {
  const sources = await readPitSources({ store: ctx.store, db: ctx.db, heartbeat: (d) => ctx.heartbeat(d) }, join.views.map((v) => assertSafeView(v)));
  return sources
    .map((s) => ({ ...s, view: { ...s.view, features: s.view.features.filter((f) => !datasetColumns.has(f.name)) } }))
    .filter((s) => s.view.features.length > 0);
}

/** The batch with each row's features as of its time (the keys under the views' entity names). */
function pitJoin(frame: pl.DataFrame, join: FeatureJoin, sources: PitFeatureSource[]): pl.DataFrame {
  const aliases = Object.entries(join.keys).filter(([entity, column]) => entity !== column && !frame.columns.includes(entity));
  const keyed = aliases.length ? frame.withColumns(...aliases.map(([entity, column]) => pl.col(column).alias(entity))) : frame;
  const joined = pointInTimeJoin(keyed, sources, { timestamp: join.timestamp! });
  return aliases.length ? joined.drop(aliases.map(([entity]) => entity)) : joined;
}

/** Adds the online features of the batch's entities, one read per view, typed as the model's inputs want. */
async function joinFeatures(ctx: StepContext, frame: pl.DataFrame, join: FeatureJoin, signature: ModelSignature): Promise<pl.DataFrame> {
  const inputType = new Map(signature.inputs.flatMap((i) => inputColumns(i).map((c) => [c, i.type] as const)));
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
