import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../infra/paths';
import { ingestValidate } from '../pipelines/ingest-validate';
import type { RunParams } from '../pipelines/dsl/start';
import { trainModel } from '../pipelines/train-model';
import { col } from '../pipelines/expr/builder';
import { runStateQuery } from '../pipelines/dsl/messages';
import { startRun } from './helpers/runs';
import { registerFeatureViewVersion } from '../infra/db/features';
import { startTestStack, tempDir, type TestStack } from './helpers/stack';

/** The README's main job, end to end on real data: vega-datasets' penguins. */
let stack: TestStack;
let dir: string;

before(async () => {
  dir = tempDir('train-model');
  // File sources are read only under the data roots: the project (vega-datasets) and this test's files.
  stack = await startTestStack({ env: { SLUICE_DATA_ROOTS: `${projectRoot}:${dir}` } });
});
after(async () => {
  await stack?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const run = async (input: RunParams<typeof trainModel>) => {
  const h = await startRun(stack, trainModel, input);
  const result = await h.result();
  return { result, state: await h.query(runStateQuery), outputs: result.outputs };
};

test('train-model: ingest, validate, tune, evaluate, register and promote a penguin classifier', async () => {
  const first = await run({ search: { learningRate: [0.1, 0.3] }, gbdt: { nEstimators: 30 } });
  assert.equal(first.outputs.registered, true);
  assert.equal(first.outputs.version, 1);
  assert.equal(first.outputs.promoted, true, 'no champion yet: the first model that passes its gates becomes champion');
  assert.ok((first.outputs.holdout.accuracy ?? 0) > 0.9, `holdout accuracy ${first.outputs.holdout.accuracy}`);
  assert.deepEqual(first.state.nodes.train!.items, { total: 2, done: 2 }, 'two trials fanned out');
  const trials = await stack.db.query(`SELECT count(*)::int AS n FROM step_runs WHERE run_id = $1 AND step = 'train.gbdt-gpu'`, [first.result.runId]);
  assert.equal(trials.rows[0].n, 2, 'every trial recorded');
  // The trials ran on the GPU queue (served by the GPU worker, on its CPU here), everything else on the CPU queue.
  assert.equal(first.state.nodes.train!.queue, 'gpu');
  const scheduled = await activityQueues(first.result.runId);
  const { queues } = stack.workers.config;
  assert.deepEqual(scheduled.get('train.gbdt-gpu'), new Set([queues.gpu]), 'every trial scheduled on the GPU task queue');
  for (const step of ['ingest', 'validate-dataset', 'dataset.resolve-evaluation', 'dataset.split', 'hpo.gbdt-trials', 'hpo.select-best', 'compare-models', 'register-model', 'promote-model']) {
    assert.deepEqual(scheduled.get(step), new Set([queues.cpu]), `${step} on the CPU task queue`);
  }
  const alias = await stack.db.query(`SELECT alias, version FROM model_aliases WHERE model_name = 'penguins-species' ORDER BY alias`);
  assert.deepEqual(alias.rows, [{ alias: 'challenger', version: 1 }, { alias: 'champion', version: 1 }]);
  // The worker counts promotions and rows for Prometheus.
  const metrics = await (await fetch(`http://127.0.0.1:${stack.workers.config.metricsPorts.cpu}/metrics`)).text();
  assert.match(metrics, /^sluice_models_promoted_total\{model="penguins-species"\} 1$/m);
  assert.match(metrics, /^sluice_rows_processed_total\{step="dataset\.split"\} [1-9]/m);

  // Same params again: everything up to registration is cached; the same model is not "better" than itself.
  const second = await run({ search: { learningRate: [0.1, 0.3] }, gbdt: { nEstimators: 30 } });
  // Ingest always reads its source (files change), finds identical data and reuses the version...
  assert.equal((second.state.nodes.ingest!.output as { reused: boolean }).reused, true);
  // ...so everything downstream has the same inputs and comes from the cache.
  for (const node of ['split', 'trials', 'train', 'select']) assert.equal(second.state.nodes[node]!.status, 'cached', node);
  // The champion is new (version 1), so the comparison runs again, now against it.
  assert.equal(second.state.nodes.compare!.status, 'succeeded');
  assert.equal((second.state.nodes.champion!.output as { version: number }).version, 1);
  // The very same model file is already version 1: the rerun returns it (no copy in the registry),
  // and there is nothing to promote, since it is the champion.
  assert.equal(second.outputs.version, 1);
  assert.equal(second.outputs.promoted, false);
  assert.equal(second.outputs.outcome, 'skipped');
  const versions = async () => (await stack.db.query(`SELECT count(*)::int AS n FROM model_versions WHERE model_name = 'penguins-species'`)).rows[0].n;
  assert.equal(await versions(), 1);

  // Asked for, a new version is registered (as MLflow does for every run), and a model that is no
  // better than the champion does not replace it.
  const third = await run({ search: { learningRate: [0.1, 0.3] }, gbdt: { nEstimators: 30 }, reuseVersion: false });
  assert.equal(third.outputs.version, 2);
  assert.equal(third.outputs.promoted, false);
  assert.equal(third.outputs.outcome, 'rejected');
  assert.equal(await versions(), 2);
});

test('train-model: a gate that fails leaves the model unregistered and the champion alone', async () => {
  const { outputs } = await run({ search: {}, gbdt: { nEstimators: 5 }, model: 'penguins-gated', gates: [{ metric: 'accuracy', op: '>=', value: 1.01 }] });
  assert.equal(outputs.registered, false);
  assert.equal(outputs.promoted, false);
  assert.equal(outputs.outcome, 'skipped');
});

/** The task queues of the activities a run scheduled, by activity type, from its Temporal history. */
async function activityQueues(runId: string): Promise<Map<string, Set<string>>> {
  const { rows } = await stack.db.query<{ workflow_id: string }>('SELECT workflow_id FROM runs WHERE run_id = $1', [runId]);
  const history = await stack.client.workflow.getHandle(rows[0]!.workflow_id, runId).fetchHistory();
  const queues = new Map<string, Set<string>>();
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (!a?.activityType?.name || !a.taskQueue?.name) continue;
    queues.set(a.activityType.name, (queues.get(a.activityType.name) ?? new Set()).add(a.taskQueue.name));
  }
  return queues;
}

/** The seattle-weather rows (one a day, 2012–2015) whose date is in [from, to). */
const weatherDays = (from: string, to: string) =>
  fs
    .readFileSync(path.join(projectRoot, 'node_modules/vega-datasets/data/seattle-weather.csv'), 'utf8')
    .split('\n')
    .slice(1)
    .filter((line) => line && line.slice(0, 10) >= from && line.slice(0, 10) < to).length;

type SplitOutput = { train: { rows: number; name: string; version: number }; holdout: { rows: number; name: string; version: number } };
const evaluatedRows = (state: Awaited<ReturnType<typeof run>>['state']) => (state.nodes.compare!.output as { challenger: { rows: number } }).challenger.rows;

test('train-model: a time range of the same dataset is the evaluation set; training takes the rows before it', async () => {
  // A feature view the model's features are served from by key (here only registered: its lineage is what is checked).
  await registerFeatureViewVersion(stack.db, { name: 'weather_daily', version: 2, definition: {}, definitionSha256: 'a'.repeat(64), onlineTable: 'fv_weather_daily_v2' });
  const { outputs, state } = await run({
    featureViews: [{ name: 'weather_daily', version: 2 }],
    source: { kind: 'file', path: 'node_modules/vega-datasets/data/seattle-weather.csv' },
    dataset: 'weather-range',
    model: 'weather-range',
    target: 'weather',
    evaluation: { column: 'date', from: '2015-01-01', to: '2015-04-01', trainFrom: '2013-01-01' },
    search: {},
    gbdt: { nEstimators: 10 },
    gates: [],
  });
  const evaluationRows = weatherDays('2015-01-01', '2015-04-01');
  assert.equal(evaluationRows, 90, 'January to March 2015');
  // The comparison scored exactly those rows (no weather label is missing)...
  assert.equal(evaluatedRows(state), evaluationRows);
  const split = state.nodes.split!.output as SplitOutput;
  assert.equal(split.holdout.rows, evaluationRows);
  // ...and training had 2013 and 2014: nothing from 2012, nothing from the evaluation months or after.
  assert.equal(split.train.rows, weatherDays('2013-01-01', '2015-01-01'));
  assert.equal(outputs.trainingData.rows, split.train.rows);
  const source = await stack.db.query(`SELECT source FROM dataset_versions WHERE name = 'weather-range.holdout'`);
  assert.deepEqual(source.rows[0].source.evaluation, { column: 'date', from: '2015-01-01', to: '2015-04-01', trainFrom: '2013-01-01' }, 'the holdout version records its range');
  const lineage = await stack.db.query(`SELECT lineage FROM model_versions WHERE model_name = 'weather-range' AND version = $1`, [outputs.version]);
  assert.deepEqual(lineage.rows[0].lineage.featureViews, [{ name: 'weather_daily', version: 2 }]);
});

test('train-model: a registered dataset version is the evaluation set; one lacking a training column is refused by name', async () => {
  const penguins = JSON.parse(fs.readFileSync(path.join(projectRoot, 'node_modules/vega-datasets/data/penguins.json'), 'utf8')) as Record<string, unknown>[];
  const trainRows = penguins.filter((_, i) => i % 3 !== 0);
  const evalRows = penguins.filter((_, i) => i % 3 === 0);
  const files = {
    train: trainRows,
    'eval-v1': evalRows.slice(0, 60),
    'eval-v2': evalRows,
    'eval-no-island': evalRows.map(({ Island: _island, ...r }) => r),
  };
  for (const [name, rows] of Object.entries(files)) fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(rows));
  const ingest = async (file: keyof typeof files, name: string) =>
    (await (await startRun(stack, ingestValidate, { source: { kind: 'file', path: path.join(dir, `${file}.json`) }, name, suite: { name: 'rows', expectations: [{ type: 'rowCountBetween', min: 20 }] } })).result()).outputs.dataset;
  assert.equal((await ingest('eval-v1', 'penguins-eval')).version, 1);
  assert.equal((await ingest('eval-v2', 'penguins-eval')).version, 2);
  await ingest('eval-no-island', 'penguins-eval-no-island');

  const params = { source: { kind: 'file' as const, path: path.join(dir, 'train.json') }, dataset: 'penguins-own', model: 'penguins-own', search: {}, gbdt: { nEstimators: 10 } };
  // Version 1 by number: its 60 rows are the holdout, and every row of the training file trains.
  const v1 = await run({ ...params, evaluation: { dataset: { name: 'penguins-eval', version: 1 } } });
  assert.equal(evaluatedRows(v1.state), 60);
  const split = v1.state.nodes.split!.output as SplitOutput;
  assert.deepEqual([split.holdout.name, split.holdout.version, split.train.rows], ['penguins-eval', 1, trainRows.length]);
  assert.equal(v1.outputs.trainingData.rows, trainRows.length);
  // No version: the latest (2), looked up anew by an uncached node while the trials come from the cache.
  const latest = await run({ ...params, evaluation: { dataset: { name: 'penguins-eval' } } });
  assert.equal(evaluatedRows(latest.state), evalRows.length);
  assert.equal(latest.state.nodes.train!.status, 'cached', 'same training data: the trials come from the cache');
  // A source: ingested on the run as <dataset>.evaluation, then the holdout as it is.
  const fromSource = await run({ ...params, evaluation: { source: { kind: 'file', path: path.join(dir, 'eval-v1.json') } } });
  assert.equal(evaluatedRows(fromSource.state), 60);
  assert.deepEqual(
    [(fromSource.state.nodes.split!.output as SplitOutput).holdout.name, (fromSource.state.nodes.split!.output as SplitOutput).holdout.version],
    ['penguins-own.evaluation', 1],
  );

  // A holdout without a column the model takes fails at the split, naming the column.
  const refused = await startRun(stack, trainModel, { ...params, evaluation: { dataset: { name: 'penguins-eval-no-island' } } });
  await assert.rejects(refused.result(), (e: Error) => {
    const messages: string[] = [];
    for (let c: unknown = e; c instanceof Error; c = c.cause) messages.push(c.message);
    assert.match(messages.join(' | '), /penguins-eval-no-island@1 lacks training column "Island"/);
    return true;
  });
});

test('train-model: the label and features are derived at ingestion (expressions in params), and a filter drops rows before training', async () => {
  const penguins = JSON.parse(fs.readFileSync(path.join(projectRoot, 'node_modules/vega-datasets/data/penguins.json'), 'utf8')) as Record<string, unknown>[];
  const massKnown = penguins.filter((r) => r['Body Mass (g)'] !== null && r['Body Mass (g)'] !== undefined);
  const { outputs, state } = await run({
    model: 'penguins-heavy',
    dataset: 'penguins-heavy',
    // A label that is not a column of the file: heavier than 4 kg. Body mass itself is no feature.
    derive: { heavy: col('Body Mass (g)').gt(4000).node, beak_ratio: col('Beak Length (mm)').div(col('Beak Depth (mm)')).round(3).node },
    filter: col('Body Mass (g)').isNotNull().node,
    target: 'heavy',
    features: ['Island', 'Flipper Length (mm)', 'beak_ratio'],
    search: {},
    gbdt: { nEstimators: 10 },
    gates: [],
    promoteMetric: 'accuracy',
  });
  const ingest = state.nodes.ingest!.output as { dataset: { rows: number; schema: { name: string; type: string }[] }; filteredRows: number };
  assert.equal(ingest.filteredRows, penguins.length - massKnown.length, 'rows without a body mass are filtered, and counted');
  assert.equal(ingest.dataset.rows, massKnown.length);
  assert.deepEqual(
    ingest.dataset.schema.filter((c) => c.name === 'heavy' || c.name === 'beak_ratio').map((c) => [c.name, c.type]),
    [['heavy', 'bool'], ['beak_ratio', 'float64']],
  );
  assert.equal(outputs.registered, true);
  const version = await stack.db.query(`SELECT signature FROM model_versions WHERE model_name = 'penguins-heavy'`);
  const signature = version.rows[0].signature as { target: string; inputs: { column: string }[] };
  assert.equal(signature.target, 'heavy');
  assert.deepEqual(signature.inputs.map((i) => i.column).sort(), ['Flipper Length (mm)', 'Island', 'beak_ratio']);
  assert.ok((outputs.holdout.accuracy ?? 0) > 0.7, `a derived label is learnable: accuracy ${outputs.holdout.accuracy}`);
});
