import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { openArtifactStore, type ArtifactStore } from '../infra/artifacts/index';
import { createPool, type Db } from '../infra/db/pool';
import { resolveModelUri, toModelRef } from '../infra/db/registry';
import { listPredictionLogs } from '../infra/db/scoring';
import type { AnyPipeline } from '../pipelines/dsl/pipeline';
import type { RunParams } from '../pipelines/dsl/start';
import { batchScoring } from '../pipelines/batch-scoring';
import { trainModel } from '../pipelines/train-model';
import { runFailure, startRun } from './helpers/runs';
import pl from 'nodejs-polars';
import { scoreDataset } from '../activities/onnx/scoring';
import { labelIsArgmaxOf } from '../activities/onnx/argmax-label';
import { openModel } from '../activities/onnx/scoring';
import ort from 'onnxruntime-node';
import { rowGroupCount } from '../activities/data/parquet-merge';
import { InferencePool, runFinalize, runPlan, runScoreChunk } from '../activities/scoring/index';
import { schemaOf } from '../activities/scoring/common';
import { writeFrame } from '../activities/data/frames';
import { materializeFeatureView } from '../activities/features/materialize';
import { runGbdt } from '../activities/training/steps';
import { registerDatasetVersion } from '../infra/db/datasets';
import type { DatasetRef } from '../pipelines/steps/dataset';
import type { FeatureView } from '../pipelines/steps/features';
import type { ModelRef } from '../pipelines/steps/model';
import { trainGbdtStep } from '../pipelines/steps/training';
import { scoreChunkCheckpoint, scoreChunkStep } from '../pipelines/steps/scoring';
import { runStateQuery } from '../pipelines/dsl/messages';
import { testStepContext } from './helpers/step-context';
import { startTestWorkers, temporalClient, tempDir, uniqueId, usePostgres, useTemporal, type TestWorkers } from './helpers/stack';
import { SluiceFailure } from '../pipelines/failures';
import { columnInputsOf } from '../pipelines/steps/model';

/** Batch scoring end to end: a champion from train-model, then scored in chunks to Parquet and PostgreSQL. */
let temporal: Awaited<ReturnType<typeof useTemporal>>;
let pgh: Awaited<ReturnType<typeof usePostgres>>;
let workers: TestWorkers;
let client: Client;
let db: Db;
let store: ArtifactStore;

const PENGUINS = 'node_modules/vega-datasets/data/penguins.json';
const PENGUIN_ROWS = (JSON.parse(fs.readFileSync(PENGUINS, 'utf8')) as unknown[]).length;

before(async () => {
  [temporal, pgh] = await Promise.all([useTemporal(), usePostgres()]);
  // Both workers: train-model's trials run on the GPU queue.
  workers = await startTestWorkers({ temporalAddress: temporal.address, databaseUrl: pgh.url });
  client = await temporalClient(temporal.address);
  db = createPool(pgh.url);
  store = await openArtifactStore(workers.config.artifacts);
  // A champion to score with.
  const trained = await start(trainModel, { search: {}, gbdt: { nEstimators: 10 } });
  assert.equal(trained.outputs.promoted, true, 'the first model becomes champion');
});
after(async () => {
  await workers?.stop();
  await client?.connection.close();
  await db?.end();
  await pgh?.stop();
  await temporal?.stop();
});

async function start<P extends AnyPipeline>(pipeline: P, input: RunParams<P>) {
  const h = await startRun({ client, workers }, pipeline, input);
  const result = await h.result();
  return { result, state: await h.query(runStateQuery), outputs: result.outputs };
}

const failure = (pipeline: string, input: unknown) => runFailure({ client, workers }, pipeline, input);

const scoring = (extra: Record<string, unknown> = {}) => ({
  model: 'penguins-species@champion',
  dataset: { name: 'penguins' },
  chunkSize: 100,
  batchSize: 40,
  keep: ['Species'],
  destination: { parquet: true, table: 'penguin_predictions' },
  ...extra,
});

test('batch-scoring: chunks scored in parallel to Parquet and PostgreSQL, with a manifest, a dataset version and a prediction log', async () => {
  const first = await start(batchScoring, scoring());
  assert.equal(first.outputs.rows, PENGUIN_ROWS);
  assert.equal(first.outputs.modelName, 'penguins-species');
  assert.equal(first.outputs.modelVersion, 1);
  assert.deepEqual(first.state.nodes.score!.items, { total: Math.ceil(PENGUIN_ROWS / 100), done: Math.ceil(PENGUIN_ROWS / 100) });

  const manifest = JSON.parse((await store.getBuffer(first.outputs.manifest.uri)).toString('utf8'));
  assert.equal(manifest.rows, PENGUIN_ROWS);
  assert.equal(manifest.input.rows, PENGUIN_ROWS);
  assert.equal(manifest.chunks.length, 4);
  assert.equal(manifest.chunks.reduce((s: number, c: { rows: number }) => s + c.rows, 0), PENGUIN_ROWS);
  assert.deepEqual(manifest.model.name, 'penguins-species');
  assert.equal(manifest.runId, first.result.runId);

  // Predictions registered as a dataset version, with per-row model and run.
  assert.equal(first.outputs.predictions.name, 'penguins-species.predictions');
  assert.equal(first.outputs.predictions.rows, PENGUIN_ROWS);
  const cols = (first.outputs.predictions.schema as { name: string }[]).map((c) => c.name);
  for (const c of ['row_id', 'Species', 'prediction', 'proba_Adelie', 'proba_Gentoo', 'proba_Chinstrap', 'model_name', 'model_version', 'run_id']) assert.ok(cols.includes(c), `column ${c} in ${cols.join(', ')}`);

  const table = await db.query(`SELECT count(*)::int AS n, count(DISTINCT row_id)::int AS ids, min(model_version) AS v, count(*) FILTER (WHERE prediction = "Species")::int AS right FROM penguin_predictions`);
  assert.equal(table.rows[0].n, PENGUIN_ROWS);
  assert.equal(table.rows[0].ids, PENGUIN_ROWS);
  assert.equal(table.rows[0].v, 1);
  assert.ok(table.rows[0].right / PENGUIN_ROWS > 0.9, `accuracy ${table.rows[0].right / PENGUIN_ROWS}`);

  const logs = await listPredictionLogs(db, { runId: first.result.runId });
  assert.equal(logs.length, 1);
  assert.equal(logs[0]!.rows, PENGUIN_ROWS);
  assert.equal((logs[0]!.sample as unknown[]).length, 100);
  const summary = logs[0]!.summary as { count: number; classes: { count: number }[] };
  assert.equal(summary.count, PENGUIN_ROWS);
  assert.equal(summary.classes.reduce((s, c) => s + c.count, 0), PENGUIN_ROWS);

  // Again: the table's rows are replaced, not added.
  const second = await start(batchScoring, scoring());
  assert.equal(second.outputs.rows, PENGUIN_ROWS);
  const again = await db.query(`SELECT count(*)::int AS n, count(DISTINCT run_id)::int AS runs, min(run_id) AS run FROM penguin_predictions`);
  assert.equal(again.rows[0].n, PENGUIN_ROWS, 'no duplicates after a re-run');
  assert.equal(again.rows[0].runs, 1);
  assert.equal(again.rows[0].run, second.result.runId);
});

test('batch-scoring: a missing column fails before scoring, naming it; an unknown alias fails clearly', async () => {
  const dir = tempDir('scoring');
  const file = path.join(dir, 'no-flippers.json');
  const rows = (JSON.parse(fs.readFileSync(PENGUINS, 'utf8')) as Record<string, unknown>[]).map(({ ['Flipper Length (mm)']: _, ...r }) => r);
  fs.writeFileSync(file, JSON.stringify(rows));
  const missing = await failure('batch-scoring', { model: 'penguins-species@champion', source: { kind: 'file', path: file }, inputName: 'no-flippers' });
  assert.match(missing, /scoring\.plan|plan/);
  assert.match(missing, /missing column "Flipper Length \(mm\)"/);

  const alias = await failure('batch-scoring', scoring({ model: 'penguins-species@nope' }));
  assert.match(alias, /model "penguins-species" has no alias "nope"/);
  const version = await failure('batch-scoring', scoring({ model: 'penguins-species/99' }));
  assert.match(version, /has no version 99/);
  const badTable = await failure('batch-scoring', scoring({ destination: { table: 'Bad-Name; drop' } }));
  assert.match(badTable, /destination\.table/);
});

test('scoring.chunk: a crashed chunk resumes after its last completed batch and writes the same parts', async () => {
  const model = toModelRef(await resolveModelUri(db, 'models:/penguins-species@champion'));
  const planCtx = testStepContext({ store, db });
  const plan = await runPlan(
    { model, modelName: 'penguins-species', modelVersion: 1, dataset: { name: 'penguins' }, inputName: 'scoring-input', chunkSize: 200, scheduledTime: new Date().toISOString(), keep: [] },
    planCtx,
  );
  assert.equal(plan.chunks.length, 2);
  const input = { chunk: plan.chunks[0]!, dataset: plan.dataset, model, modelName: 'penguins-species', modelVersion: 1, window: null, batchSize: 50, keep: [] };
  const full = testStepContext({ store, db });
  const whole = await runScoreChunk(input, full);
  assert.equal(whole.rows, 200);
  assert.equal(whole.parts.length, 4);
  assert.deepEqual(whole.parts.map((p) => p.rows), [50, 50, 50, 50]);
  assert.equal(full.heartbeats.length, 4);

  // The attempt "crashed" after two batches: the next one starts from that checkpoint.
  const checkpoint = full.heartbeats[1];
  const retry = testStepContext({ store, db }, { step: scoreChunkStep, checkpoint, attempt: 2 });
  assert.equal(retry.checkpoint?.rowsDone, 100, 'the heartbeat parses as the step\'s checkpoint');
  retry.run = full.run;
  const resumed = await runScoreChunk(input, retry);
  assert.equal(resumed.resumedBatches, 2);
  assert.deepEqual(
    retry.heartbeats.map((h) => scoreChunkCheckpoint.parse(h).rowsDone),
    [150, 200],
  );
  assert.deepEqual(resumed.parts.map((p) => p.sha256), whole.parts.map((p) => p.sha256), 'same parts whether or not the chunk was interrupted');

  // A checkpoint of another run (or input) is not reused.
  const other = testStepContext({ store, db }, { step: scoreChunkStep, checkpoint });
  const fresh = await runScoreChunk(input, other);
  assert.equal(fresh.resumedBatches, 0);
});

test('the predictions are what evaluation scores for the same rows: labels, probabilities, lineage on every row', async () => {
  const model = toModelRef(await resolveModelUri(db, 'models:/penguins-species@champion'));
  const planCtx = testStepContext({ store, db });
  const plan = await runPlan(
    { model, modelName: 'penguins-species', modelVersion: 1, dataset: { name: 'penguins' }, inputName: 'scoring-input', chunkSize: 150, scheduledTime: new Date().toISOString(), keep: ['Island'] },
    planCtx,
  );
  const chunks = [];
  for (const chunk of plan.chunks) {
    const c = testStepContext({ store, db });
    c.run = planCtx.run;
    chunks.push(await runScoreChunk({ chunk, dataset: plan.dataset, model, modelName: 'penguins-species', modelVersion: 1, window: null, batchSize: 64, keep: ['Island'] }, c));
  }
  const fctx = testStepContext({ store, db });
  fctx.run = planCtx.run;
  const fin = await runFinalize({ plan, chunks, predictionsName: 'penguins-species.check', sampleSize: 10 }, fctx);
  const file = path.join(tempDir('predictions'), 'p.parquet');
  fs.writeFileSync(file, await store.getBuffer(fin.predictions.uri));
  const parts = chunks.reduce((s, c) => s + c.parts.length, 0);
  assert.ok(parts > plan.chunks.length, 'several batches per chunk');
  assert.equal(rowGroupCount(file), parts, 'the parts merged as they are: one row group each');
  const got = pl.readParquet(file).sort('row_id');
  const want = await scoreDataset(store, model, plan.dataset);
  const classes = model.signature.classes!;
  assert.equal(got.height, want.rows);
  assert.deepEqual(got.getColumn('row_id').toArray().map(Number), Array.from({ length: want.rows }, (_, i) => i));
  const labels = got.getColumn('prediction').toArray();
  assert.deepEqual(labels, Array.from(want.labelIndex!, (k) => String(classes[k])));
  for (const [k, c] of classes.entries()) {
    const p = got.getColumn(`proba_${c}`);
    assert.equal(p.dtype.variant, 'Float32', "the model's precision");
    const a = p.toArray() as number[];
    // onnxruntime's tree ensembles sum per-tree scores in an order that depends on its thread count: float32 rounding, no more.
    const bad = a.findIndex((v, i) => !(Math.abs(v - want.probabilities![i * classes.length + k]!) <= 1e-6));
    assert.equal(bad, -1, `proba_${c} row ${bad}: ${a[bad]} vs ${want.probabilities![bad * classes.length + k]}`);
  }
  const input = pl.readParquet(await store.getBuffer(plan.dataset.uri));
  assert.deepEqual(got.getColumn('Island').toArray(), input.getColumn('Island').toArray(), 'kept column in row order');
  assert.deepEqual(got.getColumn('model_name').unique().toArray(), ['penguins-species']);
  assert.deepEqual(got.getColumn('model_version').unique().toArray(), [1]);
  assert.deepEqual(got.getColumn('run_id').unique().toArray(), [planCtx.run.runId]);
});

test('inference threads: a bad batch fails with its type and retryability; a lost thread fails its job retryably and the pool recovers', async () => {
  const model = toModelRef(await resolveModelUri(db, 'models:/penguins-species@champion'));
  const dir = tempDir('inference-pool');
  const input = pl.readParquet(await store.getBuffer((await runPlan({ model, modelName: 'p', modelVersion: 1, dataset: { name: 'penguins' }, inputName: 'scoring-input', chunkSize: 1000, scheduledTime: new Date().toISOString(), keep: [] }, testStepContext({ store, db }))).dataset.uri));
  const frame = input.withRowIndex('row_id').head(50);
  const pool = new InferencePool(1);
  let fetches = 0;
  const request = (df: pl.DataFrame, out: string) => ({
    model,
    fetchModel: async () => {
      fetches++;
      return store.getBuffer(model.uri, { expectSha256: model.sha256 });
    },
    source: { kind: 'ipc' as const, frame: df.writeIPC() },
    keep: [],
    meta: { modelName: 'penguins-species', modelVersion: 1, runId: 'run-test' },
    outFile: path.join(dir, out),
    compression: 'zstd' as const,
  });
  try {
    await pool.warm(); // threads started and loaded before any job
    const ok = await pool.score(request(frame, 'a.parquet'));
    assert.equal(ok.rows, 50);
    const part = pl.readParquet(path.join(dir, 'a.parquet'));
    assert.equal(part.height, 50);
    assert.deepEqual(part.getColumn('run_id').unique().toArray(), ['run-test'], 'parts are predictions as users see them');
    assert.ok((part.getColumn('prediction').toArray() as string[]).every((l) => model.signature.classes!.includes(l)));
    // The thread reads rows itself from a local Parquet file: rows [10, 40) of the input.
    const file = path.join(dir, 'input.parquet');
    input.writeParquet(file);
    const fromFile = await pool.score({ ...request(frame, 'b.parquet'), source: { kind: 'file', file, window: null, offset: 10, rows: 30, columns: ['row_id', ...columnInputsOf(model.signature).map((i) => i.column)] } });
    assert.equal(fromFile.rows, 30);
    const b = pl.readParquet(path.join(dir, 'b.parquet'));
    assert.deepEqual(b.getColumn('row_id').toArray().map(Number), Array.from({ length: 30 }, (_, i) => 10 + i));
    assert.deepEqual(b.getColumn('prediction').toArray(), part.getColumn('prediction').toArray().slice(10, 40), 'the same predictions for the same rows');
    assert.equal(fetches, 1, 'the thread keeps its session: the model is sent once');

    // A numeric input fed a text column: the thread's InvalidInput arrives as one.
    const flipper = columnInputsOf(model.signature).find((i) => i.type === 'float' || i.type === 'double')!;
    const bad = frame.withColumns(pl.col(flipper.column).cast(pl.Utf8));
    await assert.rejects(pool.score(request(bad, 'c.parquet')), (e: unknown) => {
      assert.ok(e instanceof SluiceFailure, `a SluiceFailure, got ${e}`);
      assert.equal(e.type, 'InvalidInput');
      assert.equal(e.retryable, false);
      assert.match(e.message, new RegExp(`column "${flipper.column.replace(/[()]/g, '\\$&')}"`));
      return true;
    });

    // The thread stops mid-job: the job fails retryably (the chunk resumes from its checkpoint).
    // Deterministic: the pool is closed in the microtask right after the job is posted, before any
    // reply from the thread (a message event, a macrotask) can be handled, however fast it scores.
    const thread = (pool as unknown as { threads: { worker: { postMessage: (m: unknown) => void } }[] }).threads[0]!;
    const post = thread.worker.postMessage.bind(thread.worker);
    const posted = new Promise<void>((resolve) => {
      thread.worker.postMessage = (m: unknown) => {
        post(m);
        resolve();
      };
    });
    const inFlight = pool.score(request(input.withRowIndex('row_id'), 'd.parquet'));
    await posted;
    await pool.close();
    await assert.rejects(inFlight, (e: unknown) => !(e instanceof SluiceFailure) && /inference thread stopped/.test((e as Error).message));
    const again = await pool.score(request(frame, 'e.parquet'));
    assert.equal(again.rows, 50, 'a fresh thread takes the next job');
    assert.equal(fetches, 2, 'and gets the model again');
  } finally {
    await pool.close();
  }
});

test('a label that is the argmax of the probabilities by construction is computed from them: the same labels as the graph gives', async () => {
  const model = toModelRef(await resolveModelUri(db, 'models:/penguins-species@champion'));
  const bytes = await store.getBuffer(model.uri);
  const classes = model.signature.classes!;
  assert.equal(labelIsArgmaxOf(bytes, 'label', 'probabilities', classes), true, 'Sluice\'s classifier head');
  assert.equal(labelIsArgmaxOf(bytes, 'label', 'probabilities', [...classes].reverse()), false, 'classes in another order');
  assert.equal(labelIsArgmaxOf(bytes, 'probabilities', 'label', classes), false);
  const scoring = await openModel(store, model);
  try {
    assert.deepEqual(scoring.outputs, ['probabilities'], 'the label output is not fetched');
  } finally {
    await scoring.release();
  }

  // The graph's own labels for every penguin, against the ones computed from the probabilities.
  const plan = await runPlan({ model, modelName: 'p', modelVersion: 1, dataset: { name: 'penguins' }, inputName: 'scoring-input', chunkSize: 1000, scheduledTime: new Date().toISOString(), keep: [] }, testStepContext({ store, db }));
  const ours = await scoreDataset(store, model, plan.dataset);
  const input = pl.readParquet(await store.getBuffer(plan.dataset.uri));
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds = Object.fromEntries(
      columnInputsOf(model.signature).map((i) => {
        const col = input.getColumn(i.column);
        if (i.type === 'string') return [i.name, new ort.Tensor('string', (col.cast(pl.Utf8).toArray() as (string | null)[]).map((v) => v ?? ''), [input.height, 1])];
        return [i.name, new ort.Tensor('float32', Float32Array.from(col.cast(pl.Float64).toArray() as (number | null)[], (v) => (v === null ? NaN : v)), [input.height, 1])];
      }),
    );
    const out = await session.run(feeds, ['label']);
    assert.deepEqual(Array.from(ours.labelIndex!, (k) => String(classes[k])), Array.from(out.label!.data as string[]));
  } finally {
    await session.release();
  }
});

test('a feature join: a model input missing from the dataset comes from the online store, or point in time from the offline store, and the predictions are those of the full rows', async () => {
  const rows = (JSON.parse(fs.readFileSync(PENGUINS, 'utf8')) as Record<string, unknown>[]).filter((r) => r.Species && r['Flipper Length (mm)'] !== null && r['Beak Length (mm)'] !== null);
  const full = pl.DataFrame([
    pl.Series('penguin_id', rows.map((_, i) => i + 1), pl.Int64),
    pl.Series('island', rows.map((r) => String(r.Island)), pl.Utf8),
    pl.Series('beak', rows.map((r) => Number(r['Beak Length (mm)'])), pl.Float64),
    pl.Series('flipper', rows.map((r) => Number(r['Flipper Length (mm)'])), pl.Float64),
    pl.Series('species', rows.map((r) => String(r.Species)), pl.Utf8),
    pl.Series('ts', rows.map(() => new Date('2026-01-01T00:00:00Z')), pl.Datetime('ms')),
  ]);
  const register = async (df: pl.DataFrame, name: string): Promise<DatasetRef> => {
    const ref = await writeFrame(store, df);
    const schema = schemaOf(df);
    const { version } = await registerDatasetVersion(db, { name, uri: ref.uri, sha256: ref.sha256, sizeBytes: ref.size, rows: df.height, schema, source: { kind: 'test' } });
    return { ...ref, name, version: version.version, rows: df.height, schema };
  };
  const withFlipper = await register(full, 'penguin-measures');
  await register(full.drop('flipper'), 'penguin-measures-no-flipper');
  const trained = await runGbdt(trainGbdtStep.input.parse({ train: withFlipper, target: 'species', features: ['beak', 'flipper', 'island'], categorical: ['island'], params: { nEstimators: 10 } }), testStepContext({ store, db }));
  const model = (trained as { model: ModelRef }).model;

  // Flipper lengths in the online store, keyed by penguin id.
  const view: FeatureView = { name: 'penguin_flipper', version: 1, entities: ['penguin_id'], timestamp: 'ts', ttl: '0s', features: [{ name: 'flipper', expr: { op: 'col', name: 'flipper' } }] };
  await materializeFeatureView({ store, db, run: { runId: uniqueId('mat-'), node: 'mat' } }, { source: withFlipper, view });

  const planCtx = testStepContext({ store, db });
  const input = { model, modelName: 'penguin-measures', modelVersion: 1, inputName: 'scoring-input', chunkSize: 150, scheduledTime: new Date().toISOString(), keep: ['penguin_id'] };
  await assert.rejects(runPlan({ ...input, dataset: { name: 'penguin-measures-no-flipper' } }, planCtx), /missing column "flipper"/, 'without the join, the input is refused');
  const join = { views: [view], keys: {} };
  const plan = await runPlan({ ...input, dataset: { name: 'penguin-measures-no-flipper' }, join }, planCtx);
  const chunks = [];
  for (const chunk of plan.chunks) {
    const c = testStepContext({ store, db });
    c.run = planCtx.run;
    chunks.push(await runScoreChunk({ chunk, dataset: plan.dataset, model, modelName: 'penguin-measures', modelVersion: 1, window: null, batchSize: 64, join, keep: ['penguin_id'] }, c));
  }
  const fctx = testStepContext({ store, db });
  fctx.run = planCtx.run;
  const fin = await runFinalize({ plan, chunks, predictionsName: 'penguin-measures.joined', sampleSize: 5 }, fctx);
  const got = pl.readParquet(await store.getBuffer(fin.predictions.uri)).sort('row_id');
  const want = await scoreDataset(store, model, withFlipper);
  assert.equal(got.height, full.height);
  assert.deepEqual(got.getColumn('penguin_id').toArray().map(Number), full.getColumn('penguin_id').toArray().map(Number));
  const wantLabels = Array.from(want.labelIndex!, (k) => String(model.signature.classes![k]));
  assert.deepEqual(got.getColumn('prediction').toArray(), wantLabels);

  // Point in time: a history where every flipper grew 60 mm in June. Rows seen in March get the
  // January values (the full rows' predictions again); the online store holds the June ones.
  const later = full.withColumns(pl.col('flipper').plus(60), pl.lit(new Date('2026-06-01T00:00:00Z')).cast(pl.Datetime('ms')).alias('ts'));
  const history = await register(pl.concat([full, later], { how: 'vertical' }), 'penguin-measure-history');
  const hist: FeatureView = { ...view, name: 'penguin_flipper_hist' };
  await materializeFeatureView({ store, db, run: { runId: uniqueId('mat-'), node: 'mat' } }, { source: history, view: hist });
  await register(
    full.drop('flipper').rename({ penguin_id: 'pid' }).withColumns(pl.lit(new Date('2026-03-01T00:00:00Z')).cast(pl.Datetime('ms')).alias('seen_at')),
    'penguin-sightings',
  );
  const scoreWith = async (j: { views: FeatureView[]; keys: Record<string, string>; timestamp?: string }) => {
    const pctx = testStepContext({ store, db });
    const p = await runPlan({ ...input, keep: ['pid'], dataset: { name: 'penguin-sightings' }, join: j }, pctx);
    const parts = [];
    for (const chunk of p.chunks) {
      const c = testStepContext({ store, db });
      c.run = pctx.run;
      parts.push(await runScoreChunk({ chunk, dataset: p.dataset, model, modelName: 'penguin-measures', modelVersion: 1, window: null, batchSize: 64, join: j, keep: ['pid'] }, c));
    }
    const f = testStepContext({ store, db });
    f.run = pctx.run;
    const done = await runFinalize({ plan: p, chunks: parts, predictionsName: 'penguin-measures.sightings', sampleSize: 5 }, f);
    return pl.readParquet(await store.getBuffer(done.predictions.uri)).sort('row_id').getColumn('prediction').toArray();
  };
  assert.deepEqual(await scoreWith({ views: [hist], keys: { penguin_id: 'pid' }, timestamp: 'seen_at' }), wantLabels, 'as of March: the January flippers');
  assert.notDeepEqual(await scoreWith({ views: [hist], keys: { penguin_id: 'pid' } }), wantLabels, 'online: the June flippers');
  await assert.rejects(
    runPlan({ ...input, dataset: { name: 'penguin-sightings' }, keep: [], join: { views: [hist], keys: { penguin_id: 'pid' }, timestamp: 'island' } }, testStepContext({ store, db })),
    /feature join timestamp column "island" is string, expected a timestamp or date/,
  );
});
