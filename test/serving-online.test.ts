import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { detectDrift } from '../activities/drift/index';
import { joinLabels } from '../activities/monitor/labels';
import { openArtifactStore, type ArtifactStore } from '../infra/artifacts/index';
import { migrate } from '../infra/db/migrate';
import { createPool, type Db } from '../infra/db/pool';
import { registerModelVersion, setAlias } from '../infra/db/registry';
import { clearRoutes, getPrediction, writeRoutes } from '../infra/db/serving';
import { createLogger } from '../infra/log';
import { labelsArrivedSignal, monitorStart } from '../pipelines/monitor/protocol';
import type { DatasetRef } from '../pipelines/steps/dataset';
import { detectDriftInput } from '../pipelines/steps/drift';
import type { ModelRef } from '../pipelines/steps/model';
import { featuresOf } from '../serving/models';
import { alignedWindow, onlineMonitorFeed, PREDICTED_AT, PREDICTION_ID } from '../serving/monitor-window';
import type { ServingError } from '../serving/errors';
import { OnlineFeatures } from '../serving/online-features';
import { startServing, type ServingServer } from '../serving/server';
import { MonitorState } from '../workflows/monitor/monitor-state';
import { PENGUIN_FEATURES, registerPenguinFeatureModel, testServeOptions } from './helpers/serving-models';
import { testStepContext } from './helpers/step-context';
import { tempDir, usePostgres } from './helpers/stack';

/**
 * Online features by entity key, end to end: a feature view of penguin measurements is
 * materialized (the materialize-features step's implementation, into PostgreSQL), a model is
 * registered with that view in its lineage, and requests give `penguin_id`s instead of values.
 * Then the logged online window goes to the drift monitor's own code (MonitorState, detect-drift,
 * join-labels) as batch scoring's windows do, with /v1/feedback labels.
 */

const MODEL = 'penguins-by-id';
const INLINE_MODEL = 'penguins-inline';
const FEATURES: readonly string[] = PENGUIN_FEATURES;

let pgh: Awaited<ReturnType<typeof usePostgres>>;
let db: Db;
let store: ArtifactStore;
let server: ServingServer;
let home: string;
let train: DatasetRef;
let model: ModelRef;
/** Penguins by id (1-based), with their features and species. */
let penguins: Record<string, string | number>[];

const quiet = createLogger({ test: 'serving-online' }, 'error');

before(async () => {
  pgh = await usePostgres();
  home = tempDir('serving-online');
  db = createPool(pgh.url, { max: 4 });
  await migrate(db);
  store = await openArtifactStore({ kind: 'local', root: path.join(home, 'artifacts') });

  const served = await registerPenguinFeatureModel(db, store, home, { name: MODEL });
  ({ model, train, penguins } = served);
  // The same model without the view in its lineage: inline values only.
  await registerModelVersion(db, { name: INLINE_MODEL, source: { uri: model.uri, sha256: model.sha256, size: model.size }, signature: model.signature, createdBy: 'test' });
  await setAlias(db, { name: INLINE_MODEL, alias: 'champion', version: 1, actor: 'test', reason: 'online features test' });

  server = await startServing(testServeOptions(pgh.url, home, quiet));
});
after(async () => {
  await server?.close();
  await db?.end();
  await pgh?.stop();
});

const features = (id: number) => Object.fromEntries(FEATURES.map((f) => [f, penguins[id - 1]![f]]));
type Answer = { version: number; predictions: { id: string; prediction: string; probabilities: Record<string, number> }[] };
const predict = (m: string, body: unknown) => server.app.inject({ method: 'POST', url: `/v1/models/${m}:predict`, payload: body as object });

test('entity keys instead of values: features come from the online store; inline values win; v2 takes a key tensor', async () => {
  const byKey = await predict(MODEL, { instances: [{ entity: { penguin_id: 1 } }, { entity: { penguin_id: 200 }, body_mass_g: 6300 }, features(3)] });
  assert.equal(byKey.statusCode, 200, byKey.body);
  const inline = await predict(MODEL, { instances: [features(1), { ...features(200), body_mass_g: 6300 }, features(3)] });
  assert.equal(inline.statusCode, 200, inline.body);
  const a = byKey.json() as Answer;
  const b = inline.json() as Answer;
  assert.deepEqual(
    a.predictions.map((p) => p.probabilities),
    b.predictions.map((p) => p.probabilities),
    'a row looked up by key scores exactly as the same values sent inline',
  );

  // What was served is what is logged: the stored values, and the override where one was given.
  await server.predictionLog.flush();
  const logged = await getPrediction(db, a.predictions[1]!.id);
  assert.deepEqual(logged?.features, { ...features(200), body_mass_g: 6300 });
  assert.notEqual(penguins[199]!.body_mass_g, 6300, 'the override differs from the stored value');

  const v2 = await server.app.inject({
    method: 'POST',
    url: `/v2/models/${MODEL}/infer`,
    payload: { inputs: [{ name: 'penguin_id', shape: [2], datatype: 'INT64', data: [1, 3] }] },
  });
  assert.equal(v2.statusCode, 200, v2.body);
  const pred = (v2.json() as { outputs: { name: string; data: unknown[] }[] }).outputs.find((o) => o.name === 'prediction')!;
  assert.deepEqual(pred.data, [a.predictions[0]!.prediction, a.predictions[2]!.prediction]);

  // Every key looked up is counted, per look-up: two in the v1 request, two in the v2 one.
  const metrics = (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.equal(Number(/^sluice_serving_lookup_keys_sum (\S+)$/m.exec(metrics)?.[1]), 4, metrics.split('\n').filter((l) => l.includes('lookup')).join('\n'));
});

test('entity errors are 4xx naming the row and the key: unknown entity, wrong key type or name, a model without feature views', async () => {
  const error = async (m: string, body: unknown) => {
    const r = await predict(m, body);
    return { status: r.statusCode, ...(r.json() as { error: { code: string; field: string; message: string } }).error };
  };
  const unknown = await error(MODEL, { instances: [{ entity: { penguin_id: 1 } }, { entity: { penguin_id: 99999 } }, { entity: { penguin_id: 99998 } }] });
  assert.equal(unknown.status, 422);
  assert.equal(unknown.code, 'unknown_entity');
  assert.equal(unknown.field, 'instances[1].entity');
  assert.match(unknown.message, /no online features for penguin_id=99999 in feature view penguin_measures v1 \(and 1 more row\)/);

  const asText = await error(MODEL, { instances: [{ entity: { penguin_id: '7' } }] });
  assert.equal(asText.status, 400);
  assert.equal(asText.field, 'instances[0].entity.penguin_id');
  assert.match(asText.message, /expected an integer/);
  const wrongName = await error(MODEL, { instances: [{ entity: { id: 7 } }] });
  assert.equal(wrongName.field, 'instances[0].entity.id');
  assert.match(wrongName.message, /keyed by penguin_id/);
  const missingFeature = await error(MODEL, { instances: [{ island: 'Biscoe' }] });
  assert.equal(missingFeature.field, 'instances[0].beak_length_mm', 'a row without keys still needs every value');
  const noViews = await error(INLINE_MODEL, { instances: [{ entity: { penguin_id: 1 } }] });
  assert.equal(noViews.status, 400);
  assert.equal(noViews.field, 'instances[0].entity');
  assert.match(noViews.message, /reads no feature view/);
});

test('concurrent requests look their keys up in one query per micro-batch', async () => {
  let lookups = 0;
  const counting = {
    query: (...args: Parameters<Db['query']>) => {
      if (typeof args[0] === 'string' && args[0].includes('WITH ORDINALITY')) lookups++;
      return (db.query as (...a: unknown[]) => unknown)(...args);
    },
  } as unknown as Db;
  const online = await OnlineFeatures.forVersion(counting, MODEL, { featureViews: [{ name: 'penguin_measures', version: 1 }] }, featuresOf(model), { maxRows: 1000, maxWaitMs: 20 });
  assert.ok(online);
  const rows = await Promise.all(Array.from({ length: 20 }, (_, i) => online.rows([{ entity: { penguin_id: i + 1 } }, { entity: { penguin_id: i + 21 } }], (j) => `instances[${j}]`)));
  assert.equal(lookups, 1, '20 requests of 2 keys: one query');
  assert.deepEqual(rows[4]![1], features(25));

  // A store that cannot answer is the server's trouble (503), not the client's, and says so without the details.
  const down = {
    query: (...args: Parameters<Db['query']>) =>
      typeof args[0] === 'string' && args[0].includes('WITH ORDINALITY') ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })) : (db.query as (...a: unknown[]) => unknown)(...args),
  } as unknown as Db;
  const unreachable = await OnlineFeatures.forVersion(down, MODEL, { featureViews: [{ name: 'penguin_measures', version: 1 }] }, featuresOf(model), { maxRows: 1000, maxWaitMs: 1 });
  await assert.rejects(unreachable!.rows([{ entity: { penguin_id: 1 } }], (j) => `instances[${j}]`), (e: ServingError) => {
    assert.equal(e.statusCode, 503);
    assert.equal(e.code, 'online_features_unavailable');
    assert.doesNotMatch(e.message, /127\.0\.0\.1/);
    return true;
  });
});

test('a logged online window reaches the drift monitor as a scored batch, and feedback labels as its labels', async () => {
  const start = new Date(Date.now() - 60_000);
  const ids = Array.from({ length: 30 }, (_, i) => i + 1);
  const r = await predict(MODEL, { instances: ids.map((id) => ({ entity: { penguin_id: id } })) });
  assert.equal(r.statusCode, 200, r.body);
  const answers = (r.json() as Answer).predictions;
  // Labels for the first 10, the truth for all but one (which gets a wrong label, then its truth: the last counts).
  for (const [i, p] of answers.slice(0, 10).entries()) {
    const truth = String(penguins[i]!.species);
    if (i === 0) await server.app.inject({ method: 'POST', url: '/v1/feedback', payload: { prediction_id: p.id, label: 'Nonesuch' } });
    const fb = await server.app.inject({ method: 'POST', url: '/v1/feedback', payload: { prediction_id: p.id, label: truth } });
    assert.equal(fb.statusCode, 202, fb.body);
  }
  await server.predictionLog.flush();
  const window = { start, end: new Date(Date.now() + 1000) };
  const feed = await onlineMonitorFeed({ db, store }, MODEL, window);
  // Every live answer of this file's tests so far is in the window (the errors answered nothing).
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM online_predictions WHERE model_name = $1 AND error IS NULL`, [MODEL]);
  assert.equal(feed.predictions, rows[0]!.n);
  assert.equal(feed.labelled, 10);
  assert.ok(feed.batch && feed.labels);
  assert.deepEqual(feed.batch.window, { column: PREDICTED_AT, start: window.start.toISOString(), end: window.end.toISOString() });
  assert.deepEqual(new Set(feed.batch.dataset.schema.map((c) => c.name)), new Set([PREDICTION_ID, PREDICTED_AT, ...FEATURES]));
  assert.equal(feed.batch.dataset.rows, feed.predictions);
  assert.equal((await onlineMonitorFeed({ db, store }, MODEL, window)).batch!.batchId, feed.batch.batchId, 'the same window is the same batch');

  // The monitor's own logic, as the workflow runs it: a drift check of the window against the training data…
  const state = new MonitorState(monitorStart.parse({ model: MODEL, reference: train, target: 'species' }), `drift-monitor-${MODEL}`);
  const next = state.batchArrived(feed.batch, new Date());
  assert.ok('check' in next);
  const drift = (await detectDrift.run(detectDriftInput.parse(next.check), testStepContext({ store, db }))) as { evaluated: number; columns: Record<string, unknown> };
  assert.deepEqual(Object.keys(drift.columns).sort(), [...FEATURES].sort(), 'the served features are compared, not the id or the time');
  assert.equal(drift.evaluated, FEATURES.length);

  // …and the feedback labels joined with the window's predictions by prediction id.
  const labels = state.labelsArrived(labelsArrivedSignal.parse(feed.labels), new Date());
  assert.ok(labels.join, JSON.stringify(labels.decision));
  const joined = await joinLabels({ db, store, dataRoots: [] }, labels.join);
  assert.equal(joined.batches.length, 1);
  assert.equal(joined.batches[0]!.rows, 10);
  const expected = answers.slice(0, 10).filter((p, i) => p.prediction === penguins[i]!.species).length / 10;
  assert.equal(joined.batches[0]!.metrics.accuracy, expected, 'accuracy of the logged predictions against the last label given for each');
  assert.equal(joined.labelled?.rows, 10);
});

test('sluice monitor online sends whole windows: the last one before now, or the one ending where asked', () => {
  const hour = 3_600_000;
  const at = Date.parse('2026-12-03T14:07:30Z');
  assert.deepEqual(alignedWindow(hour, undefined, at), { start: new Date('2026-12-03T13:00:00Z'), end: new Date('2026-12-03T14:00:00Z') });
  assert.deepEqual(alignedWindow(hour, undefined, Date.parse('2026-12-03T14:59:59Z')), alignedWindow(hour, undefined, at), 'any time in an hour sends the same window');
  assert.deepEqual(alignedWindow(24 * hour, new Date('2026-12-01T06:00:00Z'), at), { start: new Date('2026-11-30T06:00:00Z'), end: new Date('2026-12-01T06:00:00Z') });
  assert.throws(() => alignedWindow(0), /longer than zero/);
});

test('a shadow version reading the same view as the live one scores the live rows: the keys are looked up once', async () => {
  const lookedUp = async () => Number(/^sluice_serving_lookup_keys_sum (\S+)$/m.exec((await server.app.inject({ method: 'GET', url: '/metrics' })).body)?.[1] ?? 0);
  const { version } = await registerModelVersion(db, { name: MODEL, source: { uri: model.uri, sha256: model.sha256, size: model.size }, signature: model.signature, createdBy: 'test', lineage: { featureViews: [{ name: 'penguin_measures', version: 1 }] } });
  await writeRoutes(db, MODEL, [
    { variant: 'champion', version: 1, mode: 'live', weight: 1 },
    { variant: 'candidate', version: version.version, mode: 'shadow', weight: 0 },
  ]);
  await server.router.reload(MODEL);
  try {
    const before = await lookedUp();
    const r = await predict(MODEL, { instances: [{ entity: { penguin_id: 5 } }, { entity: { penguin_id: 6 }, body_mass_g: 6300 }] });
    assert.equal(r.statusCode, 200, r.body);
    const ids = (r.json() as Answer).predictions.map((p) => p.id);
    const shadows = async () => (await db.query<{ shadow_of: string; features: Record<string, unknown> }>(`SELECT shadow_of, features FROM online_predictions WHERE mode = 'shadow' AND shadow_of = ANY($1::uuid[])`, [ids])).rows;
    for (let i = 0; i < 50 && (await server.predictionLog.flush(), (await shadows()).length < 2); i++) await new Promise((res) => setTimeout(res, 20));
    const mirrored = new Map((await shadows()).map((s) => [s.shadow_of, s.features]));
    assert.deepEqual(mirrored.get(ids[0]!), features(5), 'the shadow scored the stored features');
    assert.deepEqual(mirrored.get(ids[1]!), { ...features(6), body_mass_g: 6300 }, 'and the inline override, as the live row did');
    assert.equal((await lookedUp()) - before, 2, 'two keys looked up, once, for both versions');
  } finally {
    await clearRoutes(db, MODEL);
    await server.router.reload(MODEL);
  }
});
