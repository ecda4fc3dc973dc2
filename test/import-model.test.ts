import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import pl from 'nodejs-polars';
import { openArtifactStore, type ArtifactStore } from '../infra/artifacts/index';
import { createPool, type Db } from '../infra/db/pool';
import { registerDatasetVersion } from '../infra/db/datasets';
import { projectRoot } from '../infra/paths';
import { schemaOf } from '../activities/scoring/common';
import { withLocalCopy, writeFrame } from '../activities/data/frames';
import type { AnyPipeline } from '../pipelines/dsl/pipeline';
import type { RunParams } from '../pipelines/dsl/start';
import { batchScoring } from '../pipelines/batch-scoring';
import { importModel } from '../pipelines/import-model';
import { runFailure, startRun } from './helpers/runs';
import { compactFrame, predictionColumns, shapeOf } from '../activities/scoring/prediction-frame';
import { trainedSignature } from '../activities/training/export/signature';
import { startTestWorkers, temporalClient, tempDir, usePostgres, useTemporal, type TestWorkers } from './helpers/stack';

/**
 * Bring your own model, end to end on Temporal: scikit-learn models exported by skl2onnx with the
 * usual single 2-D input X [N, 4] (test/fixtures/onnx/make-sklearn-2d.py made them and recorded
 * scikit-learn's own predictions) imported by the import-model pipeline, scored by batch-scoring,
 * and their predictions compared with scikit-learn's, typed as the model says.
 */

const FIXTURES = path.join(projectRoot, 'test', 'fixtures', 'onnx');
interface Expected {
  columns: string[];
  data: Record<string, number[]>;
  models: Record<string, { prediction: (number | string | boolean)[]; classes?: (number | string | boolean)[]; probabilities?: number[][] }>;
}
const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'skl-2d-expected.json'), 'utf8')) as Expected;
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, `${name}.onnx`));

let temporal: Awaited<ReturnType<typeof useTemporal>>;
let pgh: Awaited<ReturnType<typeof usePostgres>>;
let workers: TestWorkers;
let client: Client;
let db: Db;
let store: ArtifactStore;

before(async () => {
  [temporal, pgh] = await Promise.all([useTemporal(), usePostgres()]);
  workers = await startTestWorkers({ temporalAddress: temporal.address, databaseUrl: pgh.url, kinds: ['cpu'] });
  client = await temporalClient(temporal.address);
  db = createPool(pgh.url);
  store = await openArtifactStore(workers.config.artifacts);
  // The rows the models were fitted on, in another column order than the models' (and an id).
  const df = pl.DataFrame(Object.fromEntries(Object.entries(expected.data).map(([k, v]) => [k, k === 'id' ? pl.Series(k, v, pl.Int64) : pl.Series(k, v, pl.Float64)])));
  const ref = await writeFrame(store, df);
  await registerDatasetVersion(db, { name: 'skl-rows', uri: ref.uri, sha256: ref.sha256, sizeBytes: ref.size, rows: df.height, schema: schemaOf(df), source: { kind: 'test' } });
});
after(async () => {
  await workers?.stop();
  await client?.connection.close();
  await db?.end();
  await pgh?.stop();
  await temporal?.stop();
});

async function start<P extends AnyPipeline>(pipeline: P, input: RunParams<P>) {
  return (await (await startRun({ client, workers }, pipeline, input)).result()).outputs;
}

const failure = (pipeline: string, input: unknown) => runFailure({ client, workers }, pipeline, input);

async function upload(name: string): Promise<string> {
  return (await store.putContent(fixture(name))).uri;
}

async function predictionsOf(outputs: Record<string, any>): Promise<pl.DataFrame> {
  const df = await withLocalCopy(store, outputs.predictions, async (f) => pl.readParquet(f), { extension: '.parquet' });
  return df.sort('row_id');
}

describe('import-model → batch-scoring: scikit-learn models give scikit-learn predictions', () => {
  for (const name of Object.keys(expected.models)) {
    test(name, async () => {
      const want = expected.models[name]!;
      const booleans = want.classes?.every((c) => typeof c === 'boolean') ?? false;
      const imported = await start(importModel, { source: await upload(name), name, columns: expected.columns, booleanLabels: booleans });
      assert.equal(imported.created, true);
      assert.equal(imported.version, 1);
      assert.deepEqual(imported.model.signature.inputs, [{ name: 'X', columns: expected.columns, type: 'float' }]);
      assert.match(imported.onnx.producer, /skl2onnx/);
      const zipmap = name.includes('zipmap');
      assert.deepEqual(imported.onnx.addedOutputs, zipmap ? ['probabilities'] : []);

      const scored = await start(batchScoring, { model: `${name}/1`, dataset: { name: 'skl-rows' }, keep: ['id'] });
      const df = await predictionsOf(scored);
      const n = expected.data.id!.length;
      assert.equal(df.height, n);
      assert.deepEqual(df.getColumn('id').toArray().map(Number), expected.data.id);

      // The registered schema is the file's, column for column.
      assert.deepEqual(scored.predictions.schema, schemaOf(df));
      const types = Object.fromEntries(scored.predictions.schema.map((c: { name: string; type: string }) => [c.name, c.type]));
      const prediction = df.getColumn('prediction');
      if (!want.classes) {
        assert.equal(prediction.dtype.variant, 'Float64');
        const got = prediction.toArray() as number[];
        got.forEach((v, i) => assert.ok(Math.abs(v - (want.prediction[i] as number)) < 1e-4, `row ${i}: ${v} vs ${want.prediction[i]}`));
        return;
      }
      const integers = want.classes.every((c) => typeof c === 'number');
      const [variant, type] = booleans ? ['Bool', 'bool'] : integers ? ['Int64', 'int64'] : ['String', 'string'];
      assert.equal(prediction.dtype.variant, variant, 'integer classes are int64 (not 2.0), boolean labels booleans (not "true")');
      assert.equal(types.prediction, type);
      const labels = (prediction.toArray() as (number | bigint | string | boolean)[]).map((v) => (typeof v === 'bigint' ? Number(v) : v));
      assert.deepEqual(labels, want.prediction, 'the labels scikit-learn predicts');
      // skl2onnx names a boolean target's classes 0 and 1
      const classNames = booleans ? [0, 1] : want.classes;
      assert.deepEqual(imported.model.signature.classes, classNames);
      classNames.forEach((c, k) => {
        const col = df.getColumn(`proba_${c}`);
        assert.equal(col.dtype.variant, 'Float32');
        assert.equal(types[`proba_${c}`], 'float32', 'the schema says what the file holds');
        (col.toArray() as number[]).forEach((p, i) => assert.ok(Math.abs(p - want.probabilities![i]![k]!) < 1e-5, `row ${i} class ${c}: ${p} vs ${want.probabilities![i]![k]}`));
      });
    });
  }
});

test('importing the same file again returns its version; force makes a new one', async () => {
  const name = 'skl-again';
  const source = await upload('skl-logreg-int');
  const first = await start(importModel, { source, name, columns: expected.columns, aliases: ['challenger'] });
  const again = await start(importModel, { source, name, columns: expected.columns });
  assert.equal(first.created, true);
  assert.equal(again.created, false);
  assert.equal(again.version, first.version);
  const forced = await start(importModel, { source, name, columns: expected.columns, force: true });
  assert.equal(forced.created, true);
  assert.equal(forced.version, (first.version ?? 0) + 1);
  const { rows } = await db.query('SELECT version FROM model_versions WHERE model_name = $1 ORDER BY version', [name]);
  assert.deepEqual(rows.map((r) => r.version), [1, 2]);
  const alias = await db.query(`SELECT version FROM model_aliases WHERE model_name = $1 AND alias = 'challenger'`, [name]);
  assert.equal(alias.rows[0].version, 1);
});

test('a local path works too; a wrong column list or none fails naming the input and the counts', async () => {
  const file = path.join(tempDir('onnx'), 'model.onnx');
  fs.writeFileSync(file, fixture('skl-forest-str'));
  const out = await start(importModel, { source: file, name: 'skl-path', columns: expected.columns, task: 'binary', target: 'y' });
  assert.equal(out.model.signature.task, 'binary');
  assert.equal(out.model.signature.target, 'y');

  const three = await failure('import-model', { source: file, name: 'skl-bad', columns: ['length', 'width', 'depth'] });
  assert.match(three, /columns name 3 columns \(length, width, depth\) but input "X" has 4 \(shape \[\?, 4\]\)/);
  const none = await failure('import-model', { source: file, name: 'skl-bad' });
  assert.match(none, /input "X" is one tensor\(float\)\[\?, 4\] for 4 columns: declare which dataset columns feed it/);
  const task = await failure('import-model', { source: await upload('skl-logreg-int'), name: 'skl-bad', columns: expected.columns, task: 'binary' });
  assert.match(task, /cannot be binary: it has 3 classes \(0, 1, 2\)/);
  const { rows } = await db.query(`SELECT 1 FROM registered_models WHERE name = 'skl-bad'`);
  assert.equal(rows.length, 0, 'nothing registered by a failed import');
});

test('boolean labels are refused for classes that are not false and true', async () => {
  const refused = await failure('import-model', { source: await upload('skl-forest-int-zipmap'), name: 'skl-bool', columns: expected.columns, booleanLabels: true });
  assert.match(refused, /boolean labels need two classes, false and true .* the model's are \[3, 7\]/);
});

test('sluice models import: the CLI uploads the file and runs the pipeline', async () => {
  const file = path.join(tempDir('onnx'), 'logreg.onnx');
  fs.writeFileSync(file, fixture('skl-logreg-str-zipmap'));
  const sluice = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(projectRoot, 'cli', 'sluice.mjs'), ...args], { cwd: projectRoot, env: { ...workers.env, SLUICE_USER: 'tester' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  const args = ['models', 'import', file, '--name', 'skl-cli', '--columns', expected.columns.join(','), '--alias', 'champion'];
  const r = await sluice(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /registered models:\/skl-cli\/1/);
  assert.match(r.stdout, /input {4}X float \[N, 4\] ← length, width, depth, weight/);
  assert.match(r.stdout, /classes high, low, mid/);
  const again = await sluice(args);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /is already models:\/skl-cli\/1 \(same file/);
  const json = await sluice([...args, '--force', '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(JSON.parse(json.stdout).version, 2);
  const bad = await sluice(['models', 'import', file, '--name', 'skl-cli', '--columns', 'a,b']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /columns name 2 columns \(a, b\) but input "X" has 4/);
});

test('a model Sluice trains on a boolean target predicts booleans, integer classes int64', () => {
  const frame = pl.DataFrame([pl.Series('row_id', [0, 1, 2], pl.Int64)]);
  const p = { rows: 3, labelIndex: Int32Array.from([1, 0, 1]), probabilities: Float32Array.from([0.2, 0.8, 0.9, 0.1, 0.4, 0.6]) };
  const meta = { modelName: 'm', modelVersion: 1, runId: 'r' };
  const predict = (classes: (string | number)[]) => {
    const shape = shapeOf(trainedSignature({ task: 'binary', target: 'late', features: [], classes }));
    return compactFrame(frame, p, shape, []).select(...predictionColumns(shape, [], meta));
  };
  const bools = predict(['false', 'true']);
  assert.equal(bools.getColumn('prediction').dtype.variant, 'Bool');
  assert.deepEqual(bools.getColumn('prediction').toArray(), [true, false, true]);
  assert.equal(bools.getColumn('proba_true').dtype.variant, 'Float32');
  const ints = predict([0, 2]);
  assert.equal(ints.getColumn('prediction').dtype.variant, 'Int64');
  assert.deepEqual(ints.getColumn('prediction').toArray().map(Number), [2, 0, 2]);
  assert.equal(predict(['no', 'yes']).getColumn('prediction').dtype.variant, 'String');
});
