import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { openArtifactStore, type ArtifactStore } from '../infra/artifacts/index';
import { createPool, type Db } from '../infra/db/pool';
import { resolveModelUri, toModelRef } from '../infra/db/registry';
import { listPredictionLogs } from '../infra/db/scoring';
import type { PipelineRunResult } from '../pipelines/dsl/protocol';
import { runPlan, runScoreChunk, type ScoreChunkCheckpoint } from '../activities/scoring/index';
import { runStateQuery } from '../workflows/engine/run-pipeline';
import { testStepContext } from './helpers/step-context';
import { startTestWorkers, temporalClient, tempDir, uniqueId, usePostgres, useTemporal, type TestWorkers } from './helpers/stack';

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
  workers = await startTestWorkers({ temporalAddress: temporal.address, databaseUrl: pgh.url, kinds: ['cpu'] });
  client = await temporalClient(temporal.address);
  db = createPool(pgh.url);
  store = await openArtifactStore(workers.config.artifacts);
  // A champion to score with.
  const trained = await start('train-model', { search: {}, gbdt: { nEstimators: 10 } });
  assert.equal(trained.outputs.promoted, true, 'the first model becomes champion');
});
after(async () => {
  await workers?.stop();
  await client?.connection.close();
  await db?.end();
  await pgh?.stop();
  await temporal?.stop();
});

async function start(pipeline: string, input: unknown) {
  const h = await client.workflow.start(pipeline, { taskQueue: workers.config.queues.workflow, workflowId: uniqueId(`${pipeline}-`), args: [input] });
  const result = (await h.result()) as PipelineRunResult;
  return { result, state: await h.query(runStateQuery), outputs: result.outputs as Record<string, any> };
}

/** The failure's messages, cause after cause. */
async function failure(pipeline: string, input: unknown): Promise<string> {
  try {
    await start(pipeline, input);
  } catch (e) {
    const parts: string[] = [];
    for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) parts.push(String((c as Error).message));
    return parts.join(' <- ');
  }
  assert.fail(`${pipeline} did not fail`);
}

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
  const first = await start('batch-scoring', scoring());
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
  const second = await start('batch-scoring', scoring());
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
  const checkpoint = full.heartbeats[1] as ScoreChunkCheckpoint;
  assert.equal(checkpoint.rowsDone, 100);
  const retry = testStepContext({ store, db }, { checkpoint, attempt: 2 });
  retry.run = full.run;
  const resumed = await runScoreChunk(input, retry);
  assert.equal(resumed.resumedBatches, 2);
  assert.deepEqual(
    retry.heartbeats.map((h) => (h as ScoreChunkCheckpoint).rowsDone),
    [150, 200],
  );
  assert.deepEqual(resumed.parts.map((p) => p.sha256), whole.parts.map((p) => p.sha256), 'same parts whether or not the chunk was interrupted');

  // A checkpoint of another run (or input) is not reused.
  const other = testStepContext({ store, db }, { checkpoint });
  const fresh = await runScoreChunk(input, other);
  assert.equal(fresh.resumedBatches, 0);
});
