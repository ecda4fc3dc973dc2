import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pl from 'nodejs-polars';
import { outputDtype } from '../ingestion/schema';
import { checkDatasetName, registerDatasetVersion } from '../../infra/db/datasets';
import { recordPredictionLog } from '../../infra/db/scoring';
import { scoringFinalizeStep, type ScoringFinalizeInput, type ScoringFinalizeOutput } from '../../pipelines/steps/scoring';
import { copyToFile, putParquetFile, withTempDir } from '../data/frames';
import { implement } from '../runtime/implement';
import type { StepContext } from '../runtime/step-context';
import { ROW_ID, schemaOf } from './common';
import { compactFrame, predictionColumns, shapeOf } from './prediction-frame';
import { mergeParquetFiles, ParquetMergeError } from '../data/parquet-merge';
import { samplePredictions, summarizePredictions } from './prediction-log';
import { failure, invalidInput } from '../../pipelines/failures';

/**
 * Finishes a batch-scoring run: the chunks checked against the plan (every chunk once, each with
 * its planned row count, the total equal to the rows planned: otherwise a non-retryable
 * `ScoringRowCountMismatch`), the parts merged in chunk order into the predictions Parquet (their
 * row groups copied as they are: parquet-merge.ts),
 * registered as a dataset version (`<model>.predictions` by default), the manifest written, and the
 * prediction log stored as an artifact and a `prediction_logs` row. Every write is keyed by content
 * or by (run, node), so a retry records the same things again.
 */
export const finalizeScoring = implement(scoringFinalizeStep, async (input, ctx) => runFinalize(input, ctx));

/** Parts fetched at once from the store. */
const FETCH_CONCURRENCY = 8;

/** SLUICE_SCORING_PROFILE=1: finalize's phases (ms), printed to stderr. */
const PROFILE = process.env.SLUICE_SCORING_PROFILE === '1';
const profile: Record<string, number> = {};
function tick(phase: string, since: number): number {
  const now = performance.now();
  if (PROFILE) profile[phase] = now - since;
  return now;
}

async function forEachConcurrently<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

const mismatch = (message: string) => failure('ScoringRowCountMismatch', message);

export async function runFinalize(input: ScoringFinalizeInput, ctx: StepContext): Promise<ScoringFinalizeOutput> {
  const { plan } = input;
  const chunks = [...input.chunks].sort((a, b) => a.index - b.index);
  if (chunks.length !== plan.chunks.length) throw mismatch(`${chunks.length} chunk(s) scored, ${plan.chunks.length} planned`);
  chunks.forEach((c, i) => {
    const want = plan.chunks[i]!;
    if (c.index !== want.index || c.offset !== want.offset) throw mismatch(`chunk ${i}: scored chunk ${c.index} at offset ${c.offset}, planned ${want.index} at ${want.offset}`);
    if (c.rows !== want.rows) throw mismatch(`chunk ${c.index}: ${c.rows} predictions for ${want.rows} planned rows`);
    const inParts = c.parts.reduce((s, p) => s + p.rows, 0);
    if (inParts !== c.rows) throw mismatch(`chunk ${c.index}: its parts hold ${inParts} rows, not ${c.rows}`);
    if (c.tableRows !== null && c.tableRows !== c.rows) throw mismatch(`chunk ${c.index}: ${c.tableRows} table rows written for ${c.rows} predictions`);
  });
  const total = chunks.reduce((s, c) => s + c.rows, 0);
  if (total !== plan.rows) throw mismatch(`${total} predictions for ${plan.rows} input rows`);

  const name = input.predictionsName ?? `${plan.modelName}.predictions`;
  try {
    checkDatasetName(name);
  } catch (e) {
    throw invalidInput(`predictions dataset name: ${(e as Error).message}; set "predictionsName"`);
  }

  return withTempDir(async (dir) => {
    let t = performance.now();
    const parts = chunks.flatMap((c) => c.parts.map((part, i) => ({ part, file: path.join(dir, `chunk-${String(c.index).padStart(6, '0')}-${String(i).padStart(6, '0')}.parquet`) })));
    let fetched = 0;
    await forEachConcurrently(parts, FETCH_CONCURRENCY, async ({ part, file }) => {
      await copyToFile(ctx.store, part, file);
      ctx.heartbeat({ phase: 'fetching parts', fetched: ++fetched, parts: parts.length });
    });
    const files = parts.map((p) => p.file);
    t = tick('fetchParts', t);
    const out = path.join(dir, 'predictions.parquet');
    let rows: number;
    if (files.length) {
      try {
        rows = await mergeParquetFiles(files, out);
      } catch (e) {
        if (!(e instanceof ParquetMergeError)) throw e;
        // Parts that cannot be merged as they are (written by different versions, say): re-encoded.
        ctx.log.warn('re-encoding the predictions: parts cannot be merged as they are', { reason: e.message });
        pl.concat(files.map((f) => pl.scanParquet(f)), { how: 'verticalRelaxed' }).sinkParquet(out, { compression: 'zstd' }).collectSync();
        rows = Number(pl.scanParquet(out).select(pl.len().alias('n')).collectSync().getColumn('n').get(0));
      }
      t = tick('merge', t);
    } else {
      const meta = { modelName: plan.modelName, modelVersion: plan.modelVersion, runId: ctx.run.runId };
      emptyPart(plan, plan.keep).select(...predictionColumns(shapeOf(plan.model.signature), plan.keep, meta)).writeParquet(out, { compression: 'zstd' });
      rows = 0;
    }
    if (rows !== plan.rows) throw mismatch(`the predictions have ${rows} rows for ${plan.rows} input rows`);
    ctx.heartbeat({ phase: 'publishing' });

    const lazy = pl.scanParquet(out);
    // The prediction log's queries run on polars' threads while the file is published.
    const logStats = Promise.all([summarizePredictions(lazy, plan.model.signature.task, plan.model.signature.classes ?? []), samplePredictions(lazy, rows, input.sampleSize)]);
    logStats.catch(() => undefined); // awaited below
    const data = await putParquetFile(ctx.store, out);
    const schema = schemaOf(lazy.limit(0).collectSync());
    const { version } = await registerDatasetVersion(ctx.db, {
      name,
      uri: data.uri,
      sha256: data.sha256,
      sizeBytes: data.size,
      rows,
      schema,
      source: {
        kind: 'batch-scoring',
        model: { name: plan.modelName, version: plan.modelVersion, uri: plan.model.uri, sha256: plan.model.sha256 },
        input: { name: plan.dataset.name, version: plan.dataset.version },
        window: plan.window,
        node: ctx.run.node,
        workflowId: ctx.run.workflowId,
      },
      runId: ctx.run.runId,
    });
    const predictions = { uri: version.uri, sha256: version.sha256, size: version.sizeBytes, name: version.name, version: version.version, rows: version.rows, schema: version.schema };

    const model = { name: plan.modelName, version: plan.modelVersion, uri: plan.model.uri, sha256: plan.model.sha256 };
    const manifest = {
      kind: 'sluice.scoring-manifest',
      runId: ctx.run.runId,
      workflowId: ctx.run.workflowId,
      pipeline: ctx.run.pipeline,
      model,
      input: { name: plan.dataset.name, version: plan.dataset.version, uri: plan.dataset.uri, sha256: plan.dataset.sha256, rows: plan.datasetRows },
      window: plan.window,
      rows,
      chunks: chunks.map((c) => ({ index: c.index, offset: c.offset, rows: c.rows, parts: c.parts.map((p) => ({ uri: p.uri, sha256: p.sha256, size: p.size, rows: p.rows })), tableRows: c.tableRows })),
      predictions: { name: predictions.name, version: predictions.version, uri: predictions.uri, sha256: predictions.sha256 },
      table: input.table ?? null,
    };
    t = tick('publish', t);
    const [summary, sample] = await logStats;
    t = tick('prediction log (after publishing)', t);
    const log = { kind: 'sluice.prediction-log', runId: ctx.run.runId, model, input: manifest.input, predictions: manifest.predictions, window: plan.window, summary, sample };
    // Two small artifacts, written (and synced) at once.
    const [manifestRef, logRef] = await Promise.all([
      ctx.store.putContent(JSON.stringify(manifest, null, 2), { contentType: 'application/json' }),
      ctx.store.putContent(JSON.stringify(log, null, 2), { contentType: 'application/json' }),
    ]);
    const row = await recordPredictionLog(ctx.db, {
      runId: ctx.run.runId,
      node: ctx.run.node,
      modelName: plan.modelName,
      modelVersion: plan.modelVersion,
      modelUri: plan.model.uri,
      inputName: plan.dataset.name,
      inputVersion: plan.dataset.version,
      predictionsName: predictions.name,
      predictionsVersion: predictions.version,
      rows,
      window: plan.window,
      summary,
      sample,
      manifestUri: manifestRef.uri,
      logUri: logRef.uri,
      pgTable: input.table ?? null,
    });
    tick('manifest, log and record', t);
    if (PROFILE) process.stderr.write(`[scoring profile] finalize: ${Object.entries(profile).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')} ms\n`);
    ctx.log.info('scoring finalized', { rows, predictions: `${predictions.name}@${predictions.version}`, chunks: chunks.length });
    return { manifest: manifestRef, predictions, log: logRef, logId: row.id, rows, modelName: plan.modelName, modelVersion: plan.modelVersion };
  });
}


/** No rows in the window: a part with no rows, typed as the model's parts are. */
function emptyPart(plan: ScoringFinalizeInput['plan'], keep: string[]): pl.DataFrame {
  const empty = { rows: 0, labelIndex: new Int32Array(0), probabilities: new Float32Array(0), values: new Float64Array(0) };
  const byName = new Map(plan.dataset.schema.map((c) => [c.name, c.type]));
  const frame = pl.DataFrame([pl.Series(ROW_ID, [], pl.Int64), ...keep.map((k) => pl.Series(k, [], outputDtype(byName.get(k) ?? 'string')))]);
  return compactFrame(frame, empty, shapeOf(plan.model.signature), keep);
}
