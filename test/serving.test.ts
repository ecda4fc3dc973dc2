import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import pl from 'nodejs-polars';
import { openModel } from '../activities/onnx/scoring';
import { openArtifactStore, type ArtifactStore } from '../infra/artifacts/index';
import { migrate } from '../infra/db/migrate';
import { createPool, type Db } from '../infra/db/pool';
import { copyPredictions, feedbackStats, getPrediction, variantCounts, type OnlinePrediction } from '../infra/db/serving';
import { createLogger } from '../infra/log';
import { buildServingApp } from '../serving/app';
import { servingMetrics } from '../serving/metrics';
import { startServing, type ServeOptions, type ServingServer } from '../serving/server';
import { registerPenguinModels, SERVING_MODEL, testServeOptions, type PenguinModels } from './helpers/serving-models';
import { tempDir, usePostgres } from './helpers/stack';

/**
 * The serving process through fastify's inject() (no sockets): both protocols, bad input answered
 * with 4xx naming the field, the prediction log and feedback, the token and the rate limit.
 * Routing across replicas is serving-routes.test.ts.
 */

let pgh: Awaited<ReturnType<typeof usePostgres>>;
let db: Db;
let store: ArtifactStore;
let models: PenguinModels;
let server: ServingServer;
let home: string;

const quiet = createLogger({ test: 'serving' }, 'error');

function options(extra: Partial<ServeOptions> = {}): ServeOptions {
  return testServeOptions(pgh.url, home, quiet, extra);
}

before(async () => {
  pgh = await usePostgres();
  home = tempDir('serving');
  db = createPool(pgh.url, { max: 2 });
  await migrate(db);
  store = await openArtifactStore({ kind: 'local', root: path.join(home, 'artifacts') });
  models = await registerPenguinModels(db, store, home);
  server = await startServing(options());
});
after(async () => {
  await server?.close();
  await db?.end();
  await pgh?.stop();
});

function inject(s: ServingServer, method: 'GET' | 'POST', url: string, payload?: unknown, headers: Record<string, string> = {}) {
  if (payload === undefined) return s.app.inject({ method, url, headers });
  // A string is sent as is (malformed JSON on purpose).
  if (typeof payload === 'string') return s.app.inject({ method, url, payload, headers: { 'content-type': 'application/json', ...headers } });
  return s.app.inject({ method, url, payload: payload as object, headers });
}

const predictUrl = `/v1/models/${SERVING_MODEL}:predict`;

test('rows in, predictions out: each with an id, a class of the model and probabilities; v2 tensors give the same answer', async () => {
  const rows = models.rows.slice(0, 5);
  const r = await inject(server, 'POST', predictUrl, { instances: rows });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json() as { model: string; version: number; variant: string; predictions: { id: string; prediction: string; probabilities: Record<string, number> }[] };
  assert.equal(body.version, 1, 'the champion (v1) answers when there are no routes');
  assert.equal(body.variant, 'champion');
  assert.equal(body.predictions.length, 5);
  const classes = models.v1.signature.classes!.map(String);
  for (const p of body.predictions) {
    assert.match(p.id, /^[0-9a-f-]{36}$/);
    assert.ok(classes.includes(p.prediction), p.prediction);
    const sum = Object.values(p.probabilities).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
    assert.equal(p.prediction, Object.entries(p.probabilities).sort((a, b) => b[1] - a[1])[0]![0], 'the label is the likeliest class');
  }
  assert.equal(new Set(body.predictions.map((p) => p.id)).size, 5, 'ids are distinct');
  // The first rows of penguins are Adelie; the logistic model gets them right.
  assert.equal(body.predictions[0]!.prediction, 'Adelie');
  // Online scores what batch scoring scores: the same loader over a frame of the same rows.
  const offline = await openModel(store, models.v1);
  try {
    const p = await offline.run(pl.readRecords(rows));
    for (const [i, online] of body.predictions.entries()) {
      for (const [k, c] of classes.entries()) assert.equal(online.probabilities[c], p.probabilities![i * classes.length + k], `row ${i}, p(${c})`);
    }
  } finally {
    await offline.release();
  }

  // The same rows as named tensors (Open Inference Protocol).
  const features = Object.keys(rows[0]!);
  const inputs = features.map((f) => {
    const numeric = typeof rows[0]![f] === 'number';
    return { name: f, shape: [rows.length, 1], datatype: numeric ? 'FP64' : 'BYTES', data: rows.map((row) => row[f]) };
  });
  const v2 = await inject(server, 'POST', `/v2/models/${SERVING_MODEL}/infer`, { id: 'req-1', inputs });
  assert.equal(v2.statusCode, 200, v2.body);
  const out = v2.json() as { model_name: string; model_version: string; id: string; outputs: { name: string; shape: number[]; data: unknown[] }[] };
  assert.equal(out.model_version, '1');
  assert.equal(out.id, 'req-1');
  const pred = out.outputs.find((o) => o.name === 'prediction')!;
  assert.deepEqual(pred.shape, [5]);
  assert.deepEqual(pred.data, body.predictions.map((p) => p.prediction));
  const proba = out.outputs.find((o) => o.name === 'probabilities')!;
  assert.deepEqual(proba.shape, [5, classes.length]);
  assert.equal(out.outputs.find((o) => o.name === 'prediction_id')!.data.length, 5);
});

test('metadata, readiness, health and the OpenAPI document', async () => {
  assert.deepEqual((await inject(server, 'GET', '/v2/health/live')).json(), { live: true });
  assert.deepEqual((await inject(server, 'GET', '/v2/health/ready')).json(), { ready: true });
  const meta = await inject(server, 'GET', `/v2/models/${SERVING_MODEL}`);
  assert.equal(meta.statusCode, 200);
  const m = meta.json() as { name: string; versions: string[]; inputs: { name: string; datatype: string }[] };
  assert.deepEqual(m.versions, ['1']);
  assert.ok(m.inputs.some((i) => i.name === 'Island' && i.datatype === 'BYTES'));
  assert.ok(m.inputs.some((i) => i.name === 'Beak Length (mm)'));
  assert.equal((await inject(server, 'GET', `/v2/models/${SERVING_MODEL}/ready`)).statusCode, 200);
  assert.equal((await inject(server, 'GET', '/v2/models/no-such-model/ready')).statusCode, 404);
  const doc = (await inject(server, 'GET', '/openapi.json')).json() as { openapi: string; paths: Record<string, unknown> };
  assert.match(doc.openapi, /^3\./);
  for (const p of ['/v2/models/{name}/infer', '/v1/models/{name}:predict', '/v1/feedback', '/v2/health/ready']) assert.ok(p in doc.paths, `${p} in ${Object.keys(doc.paths)}`);
});

test('bad input is a 4xx JSON error naming the field, never a 500', async () => {
  const row = models.rows[0]!;
  const cases: { name: string; url?: string; body: unknown; status: number; code: string; field?: RegExp; message?: RegExp }[] = [
    { name: 'malformed JSON', body: '{"instances": [', status: 400, code: 'malformed_json' },
    { name: 'no instances', body: { rows: [row] }, status: 400, code: 'invalid_input', field: /^body\.instances$/ },
    { name: 'instances not an array', body: { instances: row }, status: 400, code: 'invalid_input', field: /^body\.instances$/ },
    { name: 'an instance not an object', body: { instances: [row, 5] }, status: 400, code: 'invalid_input', field: /^body\.instances\[1\]$/ },
    { name: 'a missing feature', body: { instances: [row, { ...row, 'Beak Length (mm)': undefined }] }, status: 400, code: 'invalid_input', field: /^instances\[1\]\.Beak Length \(mm\)$/, message: /missing/ },
    { name: 'a string for a number', body: { instances: [{ ...row, 'Body Mass (g)': '3750' }] }, status: 400, code: 'invalid_input', field: /^instances\[0\]\.Body Mass \(g\)$/, message: /expected a number/ },
    { name: 'NaN spelled as a string', body: { instances: [{ ...row, 'Body Mass (g)': 'NaN' }] }, status: 400, code: 'invalid_input', field: /Body Mass/ },
    { name: 'NaN as a bare token', body: `{"instances":[{"Body Mass (g)": NaN}]}`, status: 400, code: 'malformed_json' },
    { name: 'a number for a string', body: { instances: [{ ...row, Island: 3 }] }, status: 400, code: 'invalid_input', field: /^instances\[0\]\.Island$/, message: /expected a string/ },
    { name: 'an unknown model', url: '/v1/models/no-such-model:predict', body: { instances: [row] }, status: 404, code: 'unknown_model', message: /no-such-model/ },
    { name: 'an invalid model name', url: '/v2/models/bad%20name/infer', body: { inputs: [] }, status: 400, code: 'invalid_input', field: /^params\.name$/ },
    { name: 'too many rows', body: { instances: Array.from({ length: 1001 }, () => row) }, status: 413, code: 'too_many_rows' },
    { name: 'an oversized body', body: { instances: [{ ...row, padding: 'x'.repeat(1.1 * 1024 * 1024) }] }, status: 413, code: 'body_too_large' },
    { name: 'a tensor of the wrong shape', url: `/v2/models/${SERVING_MODEL}/infer`, body: { inputs: [{ name: 'Island', shape: [2, 3], datatype: 'BYTES', data: ['a', 'b'] }] }, status: 400, code: 'invalid_input', field: /^inputs\[0\]\.shape$/ },
    { name: 'a tensor of the wrong datatype', url: `/v2/models/${SERVING_MODEL}/infer`, body: { inputs: [{ name: 'Island', shape: [1], datatype: 'FP32', data: [1] }] }, status: 400, code: 'invalid_input', field: /^inputs\[0\]\.datatype$/ },
    { name: 'a tensor of an unknown input', url: `/v2/models/${SERVING_MODEL}/infer`, body: { inputs: [{ name: 'Wingspan', shape: [1], datatype: 'FP32', data: [1] }] }, status: 400, code: 'invalid_input', field: /^inputs\[0\]\.name$/ },
    { name: 'a tensor missing inputs', url: `/v2/models/${SERVING_MODEL}/infer`, body: { inputs: [{ name: 'Island', shape: [1], datatype: 'BYTES', data: ['Dream'] }] }, status: 400, code: 'invalid_input', field: /^inputs$/, message: /Beak Length/ },
    { name: 'a string in a numeric tensor', url: `/v2/models/${SERVING_MODEL}/infer`, body: { inputs: [{ name: 'Beak Length (mm)', shape: [1], datatype: 'FP32', data: ['x'] }] }, status: 400, code: 'invalid_input', field: /^inputs\[0\]\.data\[0\]$/ },
    { name: 'feedback with neither label nor reward', url: '/v1/feedback', body: { prediction_id: '00000000-0000-4000-8000-000000000000' }, status: 400, code: 'invalid_input', field: /^label$/ },
    { name: 'feedback for a malformed id', url: '/v1/feedback', body: { prediction_id: 'abc', reward: 1 }, status: 400, code: 'invalid_input', field: /^body\.prediction_id$/ },
  ];
  for (const c of cases) {
    const r = await inject(server, 'POST', c.url ?? predictUrl, c.body);
    assert.equal(r.statusCode, c.status, `${c.name}: ${r.body.slice(0, 300)}`);
    const e = (r.json() as { error: { code: string; message: string; field?: string } }).error;
    assert.equal(e.code, c.code, `${c.name}: ${r.body.slice(0, 300)}`);
    if (c.field) assert.match(e.field ?? '', c.field, `${c.name}: ${r.body.slice(0, 300)}`);
    if (c.message) assert.match(e.message, c.message, c.name);
    assert.doesNotMatch(r.body, /\bat .*\.ts:\d+/, `${c.name}: no stack trace`);
  }
  const unknownRoute = await inject(server, 'GET', '/v3/anything');
  assert.equal(unknownRoute.statusCode, 404);
  assert.equal((unknownRoute.json() as { error: { code: string } }).error.code, 'not_found');
  // The process still serves.
  assert.equal((await inject(server, 'POST', predictUrl, { instances: [row] })).statusCode, 200);
});

test('every prediction is logged in batches with its version, variant, latency and features; feedback lands by prediction id', async () => {
  const since = new Date(Date.now() - 60_000);
  const r = await inject(server, 'POST', predictUrl, { instances: models.rows.slice(10, 13), key: 'user-7' });
  const preds = (r.json() as { predictions: { id: string; prediction: string }[] }).predictions;
  assert.equal(await getPrediction(db, preds[0]!.id), undefined, 'not written per request: the log buffers');
  await server.predictionLog.flush();
  const logged = await getPrediction(db, preds[0]!.id);
  assert.ok(logged, 'written by the flush');
  assert.equal(logged.version, 1);
  assert.equal(logged.variant, 'champion');
  assert.equal(logged.mode, 'live');
  assert.equal(logged.requestKey, 'user-7');
  assert.equal(logged.output?.prediction, preds[0]!.prediction);
  assert.equal(logged.features['Island'], models.rows[10]!['Island']);
  assert.ok(logged.latencyMs >= 0);

  const fb = await inject(server, 'POST', '/v1/feedback', { prediction_id: preds[0]!.id, label: preds[0]!.prediction });
  assert.equal(fb.statusCode, 202, fb.body);
  assert.equal((await inject(server, 'POST', '/v1/feedback', { prediction_id: preds[1]!.id, reward: 1 })).statusCode, 202);
  const stats = await feedbackStats(db, SERVING_MODEL, since);
  const champ = stats.find((s) => s.variant === 'champion')!;
  assert.equal(champ.labels, 1);
  assert.equal(champ.correct, 1, 'the label equals the logged prediction');
  assert.equal(champ.rewards, 1);
  assert.equal(champ.rewardSum, 1);
  const counts = await variantCounts(db, SERVING_MODEL, since);
  assert.ok(counts.find((c) => c.variant === 'champion')!.requests >= 3);

  const metrics = (await inject(server, 'GET', '/metrics')).body;
  assert.match(metrics, /sluice_serving_requests_total\{model="penguins-species",version="1",variant="champion"\} \d+/);
  assert.match(metrics, /sluice_serving_latency_seconds_bucket\{le="[^"]+",model="penguins-species",version="1",variant="champion"\}/);
  assert.match(metrics, /sluice_serving_rejected_total\{code="invalid_input"\} \d+/);
});

test('the prediction log keeps what it is given: tabs, newlines, backslashes, quotes and a literal \\N in keys, features and errors', async () => {
  const nasty = 'a\tb\nc\\d"e\r,\'f \\N';
  const live: OnlinePrediction = { id: randomUUID(), model: SERVING_MODEL, version: 1, variant: 'champion', mode: 'live', shadowOf: null, requestKey: nasty, createdAt: new Date('2026-01-02T03:04:05.678Z'), latencyMs: 1.25, features: { Island: nasty, 'Body Mass (g)': 3500, Sex: null }, output: null, error: nasty };
  const shadow: OnlinePrediction = { ...live, id: randomUUID(), variant: 'b', mode: 'shadow', shadowOf: live.id, requestKey: '\\N', error: null, output: { prediction: 'Adelie', probabilities: { Adelie: 0.75, Gentoo: 0.25 }, score: 0.75 } };
  await copyPredictions(db, [live, shadow]);
  assert.deepEqual(await getPrediction(db, live.id), live);
  assert.deepEqual(await getPrediction(db, shadow.id), shadow, 'the two characters \\N are a key, not a null');
});

test('a bearer token guards everything, and a client over its rate gets 429', async () => {
  // The same routes and models behind an app with a token and a limit (no second set of threads).
  const app = await buildServingApp({ db: server.db, router: server.router, predictor: server.predictor, metrics: servingMetrics(), log: quiet, token: 's3cret-token', rateLimit: 5, ready: () => true });
  const guarded = { app } as ServingServer;
  try {
    const row = models.rows[0]!;
    const none = await inject(guarded, 'POST', predictUrl, { instances: [row] });
    assert.equal(none.statusCode, 401);
    assert.equal((none.json() as { error: { code: string } }).error.code, 'unauthorized');
    assert.equal((await inject(guarded, 'GET', '/metrics', undefined, { authorization: 'Bearer wrong' })).statusCode, 401);
    const ok = await inject(guarded, 'POST', predictUrl, { instances: [row] }, { authorization: 'Bearer s3cret-token' });
    assert.equal(ok.statusCode, 200, ok.body);
    const replies = [];
    for (let i = 0; i < 12; i++) replies.push(await inject(guarded, 'GET', '/v2/health/live', undefined, { authorization: 'Bearer s3cret-token' }));
    const statuses = replies.map((r) => r.statusCode);
    assert.ok(statuses.includes(429), `${statuses}`);
    assert.ok(statuses.filter((c) => c === 200).length >= 2, `${statuses}`);
    const limited = replies.find((r) => r.statusCode === 429)!;
    assert.equal((limited.json() as { error: { code: string } }).error.code, 'rate_limited');
  } finally {
    await app.close();
  }
});
