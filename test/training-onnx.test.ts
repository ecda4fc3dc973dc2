import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pl from 'nodejs-polars';
import ort from 'onnxruntime-node';
import { LocalArtifactStore } from '../infra/artifacts/index';
import { createPool, type Db } from '../infra/db/pool';
import { projectRoot } from '../infra/paths';
import { writeFrame } from '../activities/data/frames';
import type { DatasetRef } from '../pipelines/steps/dataset';
import type { ModelSignature, ModelTask } from '../pipelines/steps/model';
import { gbdtParams, inspectOnnxStep, linearParams, logisticParams, trainGbdtGpuStep, trainGbdtStep, trainLinearStep, trainLogisticStep } from '../pipelines/steps/training';
import { extractRaw, type TargetData } from '../activities/training/data/design-matrix';
import { feedsFromFrame } from './helpers/onnx-feeds';
import { exportGbdtOnnx } from '../activities/training/export/gbdt-onnx';
import { exportLinearOnnx } from '../activities/training/export/linear-onnx';
import { trainGbdt } from '../activities/training/gbdt/boost';
import { predictGbdt } from '../activities/training/gbdt/model';
import type { Prediction } from '../activities/training/head';
import { trainLinear } from '../activities/training/linear';
import { predictLinear } from '../activities/training/linear-model';
import { trainLogistic } from '../activities/training/logistic';
import { DataType, GraphBuilder, ML, attr } from '../activities/onnx/builders';
import { inspectOnnx, prepareOnnx } from '../activities/onnx/inspect';
import { decodeModel } from '../activities/onnx/proto-reader';
import { Rng } from '../activities/training/rng';
import { ProtoWriter, encodeModel } from '../activities/onnx/proto-writer';
import { inspectOnnxImpl, loadTrainingData, trainGbdtGpuImpl, trainGbdtImpl, trainLinearImpl, trainLogisticImpl, trainingImplementations } from '../activities/training/index';
import { testStepContext } from './helpers/step-context';
import { tempDir } from './helpers/stack';
import { columnInputsOf } from '../pipelines/steps/model';

/**
 * Training → ONNX: the protobuf encoder, parity between each trainer's own predictions and
 * onnxruntime-node running the exported file (every trainer and task, on penguins and Seattle
 * weather, rows with nulls included), determinism by seed, that the models learn, and bringing
 * your own ONNX model (scikit-learn fixtures made with skl2onnx).
 *
 * The training steps never touch the database: the pool below is never connected.
 */

const DATA = path.join(projectRoot, 'node_modules', 'vega-datasets', 'data');
const FIXTURES = path.join(projectRoot, 'test', 'fixtures', 'onnx');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let store: LocalArtifactStore;
let db: Db;
let root: string;
const ctx = (opts: Parameters<typeof testStepContext>[1] = {}) => testStepContext({ store, db }, opts);

before(async () => {
  root = tempDir('training');
  store = await LocalArtifactStore.open(path.join(root, 'artifacts'));
  db = createPool('postgres://unused@127.0.0.1:1/unused');
});
after(async () => {
  await db.end();
  fs.rmSync(root, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// data

function penguins(): pl.DataFrame {
  return pl.DataFrame(JSON.parse(fs.readFileSync(path.join(DATA, 'penguins.json'), 'utf8')));
}

/** Seattle weather with nulls put in (every 13th precipitation, 17th wind, 19th weather, 23rd temp_min). */
function seattle(): pl.DataFrame {
  const rows = pl.readCSV(path.join(DATA, 'seattle-weather.csv')).toRecords() as Record<string, unknown>[];
  rows.forEach((r, i) => {
    if (i % 13 === 5) r.precipitation = null;
    if (i % 17 === 3) r.wind = null;
    if (i % 19 === 7) r.weather = null;
    if (i % 23 === 11) r.temp_min = null;
  });
  return pl.DataFrame(rows);
}

const TYPES: Record<string, DatasetRef['schema'][number]['type']> = { Float64: 'float64', Int64: 'int64', String: 'string', Utf8: 'string', Bool: 'bool' };

async function dataset(df: pl.DataFrame, name: string): Promise<DatasetRef> {
  const ref = await writeFrame(store, df);
  const schema = df.columns.map((c) => ({ name: c, type: TYPES[df.getColumn(c).dtype.variant as string] ?? 'string', nullable: df.getColumn(c).nullCount() > 0 }));
  return { ...ref, name, version: 1, rows: df.height, schema };
}

// ---------------------------------------------------------------------------------------------
// helpers

async function runOnnx(bytes: Uint8Array, signature: ModelSignature, df: pl.DataFrame): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    return await session.run(feedsFromFrame(signature, df));
  } finally {
    await session.release();
  }
}

/** Asserts onnxruntime's outputs equal the trainer's predictions within 1e-5 (relative to max(1, |v|) for values). */
function assertParity(what: string, out: ort.InferenceSession.OnnxValueMapType, pred: Prediction, signature: ModelSignature): void {
  if (pred.kind === 'value') {
    const v = out[signature.outputs.value!]!;
    assert.deepEqual(v.dims, [pred.n, 1], `${what}: value shape`);
    const data = v.data as Float32Array;
    for (let i = 0; i < pred.n; i++) {
      const d = Math.abs(data[i]! - pred.values[i]!) / Math.max(1, Math.abs(pred.values[i]!));
      assert.ok(d <= 1e-5, `${what}: row ${i}: onnx ${data[i]} vs trainer ${pred.values[i]}`);
    }
    return;
  }
  const p = out[signature.outputs.probabilities!]!;
  assert.deepEqual(p.dims, [pred.n, pred.classes], `${what}: probabilities shape`);
  const probs = p.data as Float32Array;
  for (let i = 0; i < probs.length; i++) {
    assert.ok(Math.abs(probs[i]! - pred.probabilities[i]!) <= 1e-5, `${what}: probability ${i}: onnx ${probs[i]} vs trainer ${pred.probabilities[i]}`);
  }
  const labels = out[signature.outputs.label!]!;
  assert.deepEqual(labels.dims, [pred.n], `${what}: label shape`);
  const classes = signature.classes!;
  const got = Array.from(labels.data as ArrayLike<unknown>, (x) => String(x));
  for (let i = 0; i < pred.n; i++) {
    // a label may only differ where two probabilities tie within float32 rounding
    if (got[i] !== String(classes[pred.labels[i]!])) {
      const row = Array.from(pred.probabilities.subarray(i * pred.classes, (i + 1) * pred.classes)).sort((a, b) => b - a);
      assert.ok(row[0]! - row[1]! < 1e-5, `${what}: row ${i}: label ${got[i]} vs ${classes[pred.labels[i]!]}`);
    }
  }
}

interface Case {
  name: string;
  trainer: 'logistic' | 'linear' | 'gbdt';
  task: ModelTask;
  data: () => pl.DataFrame;
  target: string;
  features?: string[];
  categorical?: string[];
  params?: Record<string, unknown>;
}

const penguinsSex = () => penguins().filter(pl.col('Sex').isIn(['MALE', 'FEMALE']).or(pl.col('Sex').isNull()));
const seattleFeatures = ['precipitation', 'temp_max', 'temp_min', 'wind'];

const CASES: Case[] = [
  { name: 'penguins species, logistic (multinomial)', trainer: 'logistic', task: 'multiclass', data: penguins, target: 'Species' },
  { name: 'penguins sex, logistic (binary)', trainer: 'logistic', task: 'binary', data: penguinsSex, target: 'Sex' },
  { name: 'penguins body mass, linear', trainer: 'linear', task: 'regression', data: penguins, target: 'Body Mass (g)' },
  { name: 'penguins species, gbdt multiclass', trainer: 'gbdt', task: 'multiclass', data: penguins, target: 'Species', params: { minDataInLeaf: 5, subsample: 0.8, colsample: 0.8 } },
  { name: 'penguins sex, gbdt binary', trainer: 'gbdt', task: 'binary', data: penguinsSex, target: 'Sex', params: { minDataInLeaf: 5 } },
  { name: 'penguins body mass, gbdt regression', trainer: 'gbdt', task: 'regression', data: penguins, target: 'Body Mass (g)', params: { minDataInLeaf: 5 } },
  { name: 'seattle weather, logistic (multinomial)', trainer: 'logistic', task: 'multiclass', data: seattle, target: 'weather', features: seattleFeatures },
  { name: 'seattle weather, gbdt multiclass', trainer: 'gbdt', task: 'multiclass', data: seattle, target: 'weather', features: seattleFeatures, params: { nEstimators: 60 } },
  { name: 'seattle temp_max, linear (ridge)', trainer: 'linear', task: 'regression', data: seattle, target: 'temp_max', features: ['precipitation', 'temp_min', 'wind', 'weather'], params: { l2: 0.01 } },
  { name: 'seattle temp_max, gbdt regression', trainer: 'gbdt', task: 'regression', data: seattle, target: 'temp_max', features: ['precipitation', 'temp_min', 'wind', 'weather'] },
  { name: 'seattle rain, gbdt binary (weather as categorical feature)', trainer: 'gbdt', task: 'binary', data: () => seattle().withColumns(pl.col('precipitation').gt(0).alias('wet')), target: 'wet', features: ['temp_max', 'temp_min', 'wind', 'weather'] },
];

/**
 * The step's model, and the same model trained directly from the same data (same code path):
 * their ONNX bytes must be identical, so the parity shown on the direct one is the step's.
 */
async function trainCase(c: Case) {
  const df = c.data();
  const train = await dataset(df, 'train');
  const base = { train, target: c.target, ...(c.features ? { features: c.features } : {}), ...(c.categorical ? { categorical: c.categorical } : {}) };
  const context = ctx();
  let out;
  let pred: Prediction;
  let direct: Uint8Array;
  if (c.trainer === 'logistic') {
    const input = trainLogisticStep.input.parse({ ...base, params: c.params ?? {} });
    out = await trainLogisticImpl.run(input, context);
    const data = await loadTrainingData(context, input, () => c.task, { fraction: input.params.validationFraction, seed: input.params.seed });
    const { model } = await trainLogistic({ target: c.target, features: data.features, raw: data.train.raw, y: data.train.y as TargetData & { kind: 'class' } }, input.params);
    pred = predictLinear(model, extractRaw(df, data.features));
    direct = exportLinearOnnx(model);
  } else if (c.trainer === 'linear') {
    const input = trainLinearStep.input.parse({ ...base, params: c.params ?? {} });
    out = await trainLinearImpl.run(input, context);
    const data = await loadTrainingData(context, input, () => 'regression', { fraction: input.params.validationFraction, seed: input.params.seed });
    const model = trainLinear({ target: c.target, features: data.features, raw: data.train.raw, y: (data.train.y as TargetData & { kind: 'value' }).y }, input.params);
    pred = predictLinear(model, extractRaw(df, data.features));
    direct = exportLinearOnnx(model);
  } else {
    const input = trainGbdtStep.input.parse({ ...base, params: { task: c.task, ...c.params } });
    out = await trainGbdtImpl.run(input, context);
    const data = await loadTrainingData(context, input, () => c.task, { fraction: input.params.validationFraction, seed: input.params.seed });
    const { model } = await trainGbdt({ target: c.target, task: c.task, features: data.features, train: data.train, validation: data.validation }, input.params);
    pred = predictGbdt(model, extractRaw(df, data.features));
    direct = exportGbdtOnnx(model);
  }
  const bytes = await store.getBuffer(out.model);
  assert.equal(sha(bytes), sha(direct), `${c.name}: the step's ONNX differs from the directly trained model's`);
  return { df, out, pred, bytes, heartbeats: context.heartbeats };
}

// ---------------------------------------------------------------------------------------------

describe('ONNX protobuf encoder', () => {
  test('varints and fields are encoded as protobuf specifies', () => {
    assert.deepEqual(Array.from(new ProtoWriter().varint(1).finish()), [0x01]);
    assert.deepEqual(Array.from(new ProtoWriter().varint(300).finish()), [0xac, 0x02]);
    assert.deepEqual(Array.from(new ProtoWriter().varint(2 ** 40).finish()), [0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
    // negative int64: ten bytes of two's complement
    assert.deepEqual(Array.from(new ProtoWriter().varint(-1).finish()), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    // field 1, varint: key 0x08; field 2 float (wire 5): key 0x15, little-endian IEEE 754
    assert.deepEqual(Array.from(new ProtoWriter().intField(1, 8).finish()), [0x08, 0x08]);
    assert.deepEqual(Array.from(new ProtoWriter().floatField(2, 1).finish()), [0x15, 0x00, 0x00, 0x80, 0x3f]);
    // length-delimited string, field 4: key 0x22
    assert.deepEqual(Array.from(new ProtoWriter().stringField(4, 'Add').finish()), [0x22, 0x03, 0x41, 0x64, 0x64]);
    // packed ints, field 8: key 0x42, byte length, varints
    assert.deepEqual(Array.from(new ProtoWriter().packedVarints(8, [1, 300]).finish()), [0x42, 0x03, 0x01, 0xac, 0x02]);
  });

  test('a ModelProto starts with ir_version 8 and carries the opsets', () => {
    const bytes = encodeModel({ irVersion: 8, opsets: [{ domain: '', version: 17 }, { domain: ML, version: 3 }], graph: { name: 'g', nodes: [], inputs: [], outputs: [] } });
    assert.deepEqual(Array.from(bytes.subarray(0, 2)), [0x08, 0x08]); // field 1 (ir_version), varint 8
    const m = decodeModel(bytes);
    assert.equal(m.irVersion, 8);
    assert.deepEqual(m.opsets, [{ domain: '', version: 17 }, { domain: ML, version: 3 }]);
  });

  test('onnxruntime loads and runs a model built with the writer (initializers, attributes of every kind)', async () => {
    const g = new GraphBuilder('tiny');
    const x = g.input('x', DataType.FLOAT, ['N', 2]);
    const s = g.input('s', DataType.STRING, ['N', 1]);
    const w = g.constFloat([2, -1], [1, 2], 'w');
    const y = g.op('Mul', [x, w]);
    const sum = g.op('ReduceSum', [y, g.constInt64([1], [1], 'axes')], { attrs: { keepdims: attr.i(1) } });
    g.op('Add', [sum, g.constFloat([0.5], [1])], { output: 'y' });
    g.output('y', DataType.FLOAT, ['N', 1]);
    const code = g.op('LabelEncoder', [s], { domain: ML, attrs: { keys_strings: attr.ss(['a', 'b']), values_floats: attr.fs([1.5, -3]), default_float: attr.f(NaN) } });
    g.op('Identity', [code], { output: 'code' });
    g.output('code', DataType.FLOAT, ['N', 1]);
    const bytes = g.encode({ metadata: { hello: 'world' } });
    const session = await ort.InferenceSession.create(bytes);
    const r = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 3, 1]), [2, 2]), s: new ort.Tensor('string', ['b', 'zzz'], [2, 1]) });
    assert.deepEqual(Array.from(r.y!.data as Float32Array), [0.5, 5.5]);
    const code2 = Array.from(r.code!.data as Float32Array);
    assert.equal(code2[0], -3);
    assert.ok(Number.isNaN(code2[1]));
    await session.release();
    const m = decodeModel(bytes);
    assert.deepEqual(m.graph.inputs.map((i) => i.name), ['x', 's']);
    assert.deepEqual(m.graph.outputs.map((o) => o.name), ['y', 'code']);
    assert.equal(m.metadata.hello, 'world');
    const le = m.graph.nodes.find((n) => n.opType === 'LabelEncoder')!;
    assert.equal(le.domain, ML);
    assert.deepEqual(le.attributes.get('keys_strings')!.strings, ['a', 'b']);
    assert.deepEqual(le.attributes.get('values_floats')!.floats, [1.5, -3]);
  });
});

describe('trainers: onnxruntime output equals the trainer’s own predictions (1e-5)', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const { df, out, pred, bytes } = await trainCase(c);
      const sig = out.model.signature;
      assert.equal(sig.task, c.task);
      assert.equal(sig.target, c.target);
      assert.ok(sig.inputs.every((i) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(i.name)), 'input names are identifiers');
      // every row of the dataset, nulls in features (and rows without a target) included
      const onnxOut = await runOnnx(bytes, sig, df);
      assertParity(c.name, onnxOut, pred, sig);
      // the model JSON describes it
      const doc = JSON.parse((await store.getBuffer(out.modelJson)).toString('utf8'));
      assert.equal(doc.trainer, c.trainer);
      assert.deepEqual(doc.signature, sig);
      assert.equal(doc.onnx.file.sha256, out.model.sha256);
      assert.ok(out.metrics.iterations >= 1 && out.metrics.best_iteration >= 1 && out.metrics.best_iteration <= out.metrics.iterations);
      assert.ok(Number.isFinite(out.metrics.train_loss));
    });
  }

  test('edge shapes: only categorical features, a single numeric feature, an all-null column; default features skip identifiers', async () => {
    const n = 60;
    const df = pl.DataFrame({
      id: Array.from({ length: n }, (_, i) => `row-${i}`),
      colour: Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : ['red', 'green', 'blue'][i % 3]!)),
      size: Array.from({ length: n }, (_, i) => (i % 5 === 0 ? null : i % 10)),
      nothing: Array.from({ length: n }, () => null as number | null),
      y: Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 'a' : 'b')),
      v: Array.from({ length: n }, (_, i) => (i % 3) * 2.5 + (i % 10) * 0.1),
    }).withColumns(pl.col('nothing').cast(pl.Float64));
    const train = await dataset(df, 'edge');
    const cases = [
      await trainLogisticImpl.run(trainLogisticStep.input.parse({ train, target: 'y', features: ['colour'] }), ctx()),
      await trainGbdtImpl.run(trainGbdtStep.input.parse({ train, target: 'y', features: ['colour'], params: { minDataInLeaf: 2, validationFraction: 0 } }), ctx()),
      await trainLinearImpl.run(trainLinearStep.input.parse({ train, target: 'v', features: ['size'] }), ctx()),
      await trainGbdtImpl.run(trainGbdtStep.input.parse({ train, target: 'v', features: ['size', 'nothing'], params: { minDataInLeaf: 2, validationFraction: 0 } }), ctx()),
      await trainLinearImpl.run(trainLinearStep.input.parse({ train, target: 'v', features: ['size', 'nothing', 'colour'] }), ctx()),
    ];
    for (const out of cases) {
      const r = await runOnnx(await store.getBuffer(out.model), out.model.signature, df);
      const first = r[out.model.signature.outputs.label ?? out.model.signature.outputs.value!]!;
      assert.equal(first.dims[0], n);
    }
    const c = cases[1]!; // colour alone separates a/b imperfectly, but learns something
    assert.ok(c.metrics.train_accuracy! >= 0.6);
    const auto = await trainGbdtImpl.run(trainGbdtStep.input.parse({ train, target: 'v', params: { minDataInLeaf: 2, nEstimators: 5 } }), ctx());
    assert.deepEqual(columnInputsOf(auto.model.signature).map((i) => i.column), ['colour', 'size', 'nothing', 'y']);
  });

  test('the data really has nulls where the models must impute / route them', () => {
    const p = penguins();
    assert.ok(p.getColumn('Beak Length (mm)').nullCount() > 0 && p.getColumn('Sex').nullCount() > 0);
    const s = seattle();
    for (const c of ['precipitation', 'wind', 'weather', 'temp_min']) assert.ok(s.getColumn(c).nullCount() > 0, c);
  });
});

describe('determinism and learning', () => {
  test('the same seed gives the same model bytes; another seed (with sampling) another model', async () => {
    const train = await dataset(seattle(), 'seattle');
    const input = (seed: number) => trainGbdtStep.input.parse({ train, target: 'weather', features: seattleFeatures, params: { nEstimators: 30, subsample: 0.7, colsample: 0.5, seed } });
    const a = await trainGbdtImpl.run(input(7), ctx());
    const b = await trainGbdtImpl.run(input(7), ctx());
    const c = await trainGbdtImpl.run(input(8), ctx());
    assert.equal(a.model.sha256, b.model.sha256);
    assert.equal(a.modelJson.sha256, b.modelJson.sha256);
    assert.notEqual(a.model.sha256, c.model.sha256);
    const l1 = await trainLogisticImpl.run(trainLogisticStep.input.parse({ train, target: 'weather', features: seattleFeatures }), ctx());
    const l2 = await trainLogisticImpl.run(trainLogisticStep.input.parse({ train, target: 'weather', features: seattleFeatures }), ctx());
    assert.equal(l1.model.sha256, l2.model.sha256);
  });

  test('models learn: penguins species accuracy > 0.9 and body mass R² > 0.7 on a holdout, run through onnxruntime', async () => {
    const rows = JSON.parse(fs.readFileSync(path.join(DATA, 'penguins.json'), 'utf8')) as unknown[];
    const all = pl.DataFrame(new Rng(42).shuffle(rows));
    const holdout = all.head(100);
    const train = await dataset(all.tail(all.height - 100), 'penguins-train');
    const accuracy = async (bytes: Uint8Array, sig: ModelSignature) => {
      const r = await runOnnx(bytes, sig, holdout);
      const truth = holdout.getColumn('Species').toArray() as string[];
      const got = r[sig.outputs.label!]!.data as string[];
      return truth.filter((t, i) => t === got[i]).length / truth.length;
    };
    const r2 = async (bytes: Uint8Array, sig: ModelSignature, target: string) => {
      const keep = holdout.filter(pl.col(target).isNotNull());
      const r = await runOnnx(bytes, sig, keep);
      const y = keep.getColumn(target).toArray() as number[];
      const p = r[sig.outputs.value!]!.data as Float32Array;
      const mean = y.reduce((s, v) => s + v, 0) / y.length;
      return 1 - y.reduce((s, v, i) => s + (v - p[i]!) ** 2, 0) / y.reduce((s, v) => s + (v - mean) ** 2, 0);
    };
    const lr = await trainLogisticImpl.run(trainLogisticStep.input.parse({ train, target: 'Species' }), ctx());
    const gb = await trainGbdtImpl.run(trainGbdtStep.input.parse({ train, target: 'Species', params: { minDataInLeaf: 5 } }), ctx());
    const accLr = await accuracy(await store.getBuffer(lr.model), lr.model.signature);
    const accGb = await accuracy(await store.getBuffer(gb.model), gb.model.signature);
    assert.ok(accLr > 0.9, `logistic holdout accuracy ${accLr}`);
    assert.ok(accGb > 0.9, `gbdt holdout accuracy ${accGb}`);
    assert.ok(gb.metrics.validation_loss !== undefined && gb.metrics.validation_rows > 0, 'gbdt held out a validation split for early stopping');

    const lin = await trainLinearImpl.run(trainLinearStep.input.parse({ train, target: 'Body Mass (g)' }), ctx());
    const gbr = await trainGbdtImpl.run(trainGbdtStep.input.parse({ train, target: 'Body Mass (g)', params: { minDataInLeaf: 5 } }), ctx());
    const r2Lin = await r2(await store.getBuffer(lin.model), lin.model.signature, 'Body Mass (g)');
    const r2Gb = await r2(await store.getBuffer(gbr.model), gbr.model.signature, 'Body Mass (g)');
    assert.ok(r2Lin > 0.7, `linear holdout R² ${r2Lin}`);
    assert.ok(r2Gb > 0.7, `gbdt holdout R² ${r2Gb}`);
  });

  test('gbdt early stopping keeps the best round', async () => {
    const train = await dataset(seattle(), 'seattle');
    const out = await trainGbdtImpl.run(
      trainGbdtStep.input.parse({ train, target: 'weather', features: seattleFeatures, params: { nEstimators: 500, learningRate: 0.3, earlyStoppingRounds: 5, validationFraction: 0.25 } }),
      ctx(),
    );
    assert.ok(out.metrics.iterations < 500, `stopped early (${out.metrics.iterations} rounds)`);
    assert.equal(out.metrics.iterations - out.metrics.best_iteration, 5);
    const doc = JSON.parse((await store.getBuffer(out.modelJson)).toString('utf8'));
    assert.equal(doc.trees, out.metrics.best_iteration * 5);
  });
});

describe('queues and devices', () => {
  test('train.gbdt runs on cpu and train.gbdt-gpu on gpu, sharing one implementation', () => {
    assert.equal(trainGbdtStep.queue, 'cpu');
    assert.equal(trainGbdtGpuStep.queue, 'gpu');
    assert.equal(trainGbdtImpl.module, trainGbdtGpuImpl.module);
    assert.deepEqual(trainingImplementations.map((i) => i.step.name).sort(), ['inspect-onnx', 'train.gbdt', 'train.gbdt-gpu', 'train.linear', 'train.logistic']);
    for (const impl of trainingImplementations) assert.ok(impl.module.endsWith(path.join('activities', 'training', 'steps.ts')));
  });

  test('on a GPU worker the step reports CUDA and that the trainer ran on the CPU; without CUDA, the fallback', async () => {
    const train = await dataset(penguins(), 'penguins');
    const input = trainGbdtGpuStep.input.parse({ train, target: 'Species', params: { nEstimators: 5 } });
    const withCuda = { ...ctx(), device: { count: 1, provider: 'cuda' as const } };
    const a = await trainGbdtGpuImpl.run(input, withCuda);
    assert.deepEqual({ queue: a.compute.queue, device: a.compute.device, cuda: a.compute.cudaAvailable }, { queue: 'gpu', device: 'cpu', cuda: true });
    assert.match(a.compute.note, /CUDA.*ran on the CPU/);
    const b = await trainGbdtGpuImpl.run(input, ctx());
    assert.equal(b.compute.cudaAvailable, false);
    assert.match(b.compute.note, /no CUDA on this worker \(test\)/);
    assert.equal(a.model.sha256, b.model.sha256, 'same model either way');
  });
});

describe('bring your own ONNX model', () => {
  const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name));
  const columns = { beak_length: 'Beak Length (mm)', beak_depth: 'Beak Depth (mm)', flipper_length: 'Flipper Length (mm)', body_mass: 'Body Mass (g)', island: 'Island' };

  test('scikit-learn pipeline without ZipMap: label + probabilities, classes from the classifier, string input', async () => {
    const bytes = fixture('penguins-species-logreg.onnx');
    const info = inspectOnnx(bytes, { columns, target: 'Species' });
    assert.match(info.producer, /skl2onnx/);
    const sig = info.signature;
    assert.equal(sig.task, 'multiclass');
    assert.deepEqual(sig.outputs, { label: 'label', probabilities: 'probabilities' });
    assert.deepEqual(sig.classes, ['Adelie', 'Chinstrap', 'Gentoo']);
    assert.deepEqual(columnInputsOf(sig).map((i) => [i.name, i.column, i.type]), [
      ['beak_length', 'Beak Length (mm)', 'float'],
      ['beak_depth', 'Beak Depth (mm)', 'float'],
      ['flipper_length', 'Flipper Length (mm)', 'float'],
      ['body_mass', 'Body Mass (g)', 'float'],
      ['island', 'Island', 'string'],
    ]);
    const df = penguins().filter(pl.col('Beak Length (mm)').isNotNull());
    const r = await runOnnx(bytes, sig, df);
    assert.deepEqual(r.probabilities!.dims, [df.height, 3]);
    const truth = df.getColumn('Species').toArray() as string[];
    const got = r.label!.data as string[];
    assert.ok(truth.filter((t, i) => t === got[i]).length / truth.length > 0.95);
  });

  test('scikit-learn forest with ZipMap: label + output_probability; its probability tensor exposed for onnxruntime-node', async () => {
    const bytes = fixture('penguins-sex-forest-zipmap.onnx');
    const { island: _, ...numeric } = columns;
    const info = inspectOnnx(bytes, { columns: numeric });
    assert.equal(info.signature.task, 'binary');
    assert.deepEqual(info.signature.outputs, { label: 'output_label', probabilityMap: 'output_probability' });
    assert.deepEqual(info.signature.classes, ['FEMALE', 'MALE']);
    assert.deepEqual(info.zipMap, { input: 'probabilities', output: 'output_probability', exposed: false });
    const df = penguins().filter(pl.col('Sex').isIn(['MALE', 'FEMALE']));
    // onnxruntime-node cannot return a sequence of maps…
    await assert.rejects(runOnnx(bytes, info.signature, df), /Non tensor type/);
    // …so the ZipMap's input becomes an output of its own
    const prepared = prepareOnnx(bytes, { columns: numeric });
    assert.deepEqual(prepared.addedOutputs, ['probabilities']);
    const sig = prepared.info.signature;
    assert.deepEqual(sig.outputs, { label: 'output_label', probabilities: 'probabilities', probabilityMap: 'output_probability' });
    const session = await ort.InferenceSession.create(prepared.bytes);
    const r = await session.run(feedsFromFrame(sig, df), [sig.outputs.label!, sig.outputs.probabilities!]);
    await session.release();
    assert.deepEqual(r.probabilities!.dims, [df.height, 2]);
    const p = r.probabilities!.data as Float32Array;
    const truth = df.getColumn('Sex').toArray() as string[];
    const got = r.output_label!.data as string[];
    for (let i = 0; i < df.height; i++) {
      assert.ok(Math.abs(p[2 * i]! + p[2 * i + 1]! - 1) < 1e-5);
      assert.equal(got[i], p[2 * i + 1]! > p[2 * i]! ? 'MALE' : 'FEMALE');
    }
    assert.ok(truth.filter((t, i) => t === got[i]).length / truth.length > 0.85);
  });

  test('the inspect-onnx step records the fixture with its signature; a Sluice model reads back its own signature', async () => {
    const ref = await store.putContent(fixture('penguins-species-logreg.onnx'));
    const out = await inspectOnnxImpl.run(inspectOnnxStep.input.parse({ model: ref, columns, target: 'Species' }), ctx());
    assert.equal(out.model.sha256, ref.sha256);
    assert.equal(out.model.signature.outputs.probabilities, 'probabilities');
    assert.ok(out.onnx.operators.includes('ai.onnx.ml:LinearClassifier'));
    assert.deepEqual(out.onnx.addedOutputs, []);
    const zipRef = await store.putContent(fixture('penguins-sex-forest-zipmap.onnx'));
    const zip = await inspectOnnxImpl.run(inspectOnnxStep.input.parse({ model: zipRef }), ctx());
    assert.deepEqual(zip.onnx.addedOutputs, ['probabilities']);
    assert.notEqual(zip.model.sha256, zipRef.sha256, 'the rewritten file is the model');
    assert.equal(zip.model.signature.outputs.probabilities, 'probabilities');

    const train = await dataset(penguins(), 'penguins');
    const trained = await trainLogisticImpl.run(trainLogisticStep.input.parse({ train, target: 'Species' }), ctx());
    const back = await inspectOnnxImpl.run(inspectOnnxStep.input.parse({ model: trained.model }), ctx());
    assert.deepEqual(back.model.signature, trained.model.signature);
    assert.equal(back.onnx.producer, 'sluice 0.1.0');
  });

  test('rejects what a signature cannot describe (a multi-column input) and bytes that are not ONNX', async () => {
    const g = new GraphBuilder('wide');
    g.input('X', DataType.FLOAT, ['N', 4]);
    g.op('Identity', ['X'], { output: 'variable' });
    g.output('variable', DataType.FLOAT, ['N', 4]);
    assert.throws(() => inspectOnnx(g.encode()), /input "X" is one tensor\(float\)\[N, 4\] for 4 columns: declare which dataset columns/);
    assert.throws(() => inspectOnnx(Buffer.from('definitely not a model')), /not a readable ONNX model|no graph/);
    const ref = await store.putContent(Buffer.from([0x3a, 0x02, 0x12, 0x00]));
    await assert.rejects(inspectOnnxImpl.run({ model: ref }, ctx()), /no inputs|cannot load/);
  });

  test('regression outputs (skl2onnx `variable`) map to value', () => {
    const g = new GraphBuilder('reg');
    const a = g.input('a', DataType.FLOAT, ['N', 1]);
    g.op('Identity', [a], { output: 'variable' });
    g.output('variable', DataType.FLOAT, ['N', 1]);
    const sig = inspectOnnx(g.encode()).signature;
    assert.equal(sig.task, 'regression');
    assert.deepEqual(sig.outputs, { value: 'variable' });
  });
});

// parameter schemas have defaults for everything
test('params default', () => {
  assert.equal(logisticParams.parse({}).l2, 1e-3);
  assert.equal(linearParams.parse({}).l2, 0);
  assert.equal(gbdtParams.parse({}).nEstimators, 100);
});
