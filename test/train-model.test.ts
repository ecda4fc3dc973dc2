import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PipelineRunResult } from '../pipelines/dsl/protocol';
import { runStateQuery } from '../pipelines/dsl/messages';
import { startTestStack, type TestStack, uniqueId } from './helpers/stack';

/** The README's main job, end to end on real data: vega-datasets' penguins. */
let stack: TestStack;

before(async () => {
  stack = await startTestStack();
});
after(async () => {
  await stack?.stop();
});

const run = async (input: unknown) => {
  const h = await stack.client.workflow.start('train-model', { taskQueue: stack.workers.config.queues.workflow, workflowId: uniqueId('train-'), args: [input] });
  const result = (await h.result()) as PipelineRunResult;
  return { result, state: await h.query(runStateQuery), outputs: result.outputs as Record<string, any> };
};

test('train-model: ingest, validate, tune, evaluate, register and promote a penguin classifier', async () => {
  const first = await run({ search: { learningRate: [0.1, 0.3] }, gbdt: { nEstimators: 30 } });
  assert.equal(first.outputs.registered, true);
  assert.equal(first.outputs.version, 1);
  assert.equal(first.outputs.promoted, true, 'no champion yet: the first model that passes its gates becomes champion');
  assert.ok(first.outputs.holdout.accuracy > 0.9, `holdout accuracy ${first.outputs.holdout.accuracy}`);
  assert.deepEqual(first.state.nodes.train!.items, { total: 2, done: 2 }, 'two trials fanned out');
  const trials = await stack.db.query(`SELECT count(*)::int AS n FROM step_runs WHERE run_id = $1 AND step = 'train.gbdt'`, [first.result.runId]);
  assert.equal(trials.rows[0].n, 2, 'every trial recorded');
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
  // A new run registers a new version (versions belong to runs, as in MLflow), but a model that is
  // no better than the champion does not replace it.
  assert.equal(second.outputs.version, 2);
  assert.equal(second.outputs.promoted, false);
  assert.equal(second.outputs.outcome, 'rejected');
});

test('train-model: a gate that fails leaves the model unregistered and the champion alone', async () => {
  const { outputs } = await run({ search: {}, gbdt: { nEstimators: 5 }, model: 'penguins-gated', gates: [{ metric: 'accuracy', op: '>=', value: 1.01 }] });
  assert.equal(outputs.registered, false);
  assert.equal(outputs.promoted, false);
  assert.equal(outputs.outcome, 'skipped');
});
