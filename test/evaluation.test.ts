import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import pl from 'nodejs-polars';
import { LocalArtifactStore, type ArtifactStore } from '../infra/artifacts';
import type { Db } from '../infra/db/pool';
import { writeFrame } from '../activities/data/frames';
import { compareModels, evaluateModel, evaluationImplementations } from '../activities/evaluation/index';
import { scoreDataset } from '../activities/onnx/scoring';
import { exposeZipMapInput, OnnxFormatError } from '../activities/onnx/zipmap';
import { buildReport, compareReports, type ComparisonReport, type EvaluationReport } from '../activities/evaluation/report';
import { renderComparisonHtml, renderEvaluationHtml } from '../activities/evaluation/report-html';
import { esc } from '../activities/evaluation/charts-svg';
import { trainGbdtImpl, trainLogisticImpl } from '../activities/training/steps';
import { trainGbdtStep, trainLogisticStep } from '../pipelines/steps/training';
import {
  compareModelsInput,
  compareModelsOutput,
  compareModelsStep,
  evaluateModelInput,
  evaluateModelOutput,
  evaluateModelStep,
  type CompareModelsInput,
  type EvaluateModelInput,
} from '../pipelines/steps/evaluation';
import type { DatasetRef } from '../pipelines/steps/dataset';
import type { ModelRef, ModelSignature } from '../pipelines/steps/model';
import { tempDir } from './helpers/stack';
import { testStepContext } from './helpers/step-context';
import { SluiceFailure } from '../pipelines/failures';

/**
 * Evaluation end to end on real ONNX files (test/fixtures/onnx-eval, made with scikit-learn and
 * skl2onnx): scoring through onnxruntime-node, metrics against scikit-learn's on the same
 * outputs, reports as JSON and HTML, champion/challenger.
 */

const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'onnx-eval');

interface Fixture {
  holdout?: string;
  columns: Record<string, unknown[]>;
  dtypes: Record<string, 'float32' | 'float64' | 'int64' | 'string'>;
  signature: ModelSignature;
  expected: {
    label?: (string | number)[];
    probabilities?: number[][];
    value?: number[];
    metrics: Record<string, number | number[][]>;
    slices?: Record<string, Record<string, Record<string, number>>>;
  };
}

const fixture = (name: string): Fixture => {
  const fx = JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')) as Fixture;
  if (fx.holdout) {
    const h = JSON.parse(fs.readFileSync(path.join(FIXTURES, fx.holdout), 'utf8')) as Fixture;
    fx.columns = h.columns;
    fx.dtypes = h.dtypes;
  }
  return fx;
};

const DTYPES = { float32: pl.Float32, float64: pl.Float64, int64: pl.Int64, string: pl.String };
function frameOf(fx: Pick<Fixture, 'columns' | 'dtypes'>): pl.DataFrame {
  return pl.DataFrame(fx.columns).select(...Object.entries(fx.dtypes).map(([c, t]) => pl.col(c).cast(DTYPES[t])));
}

let store: ArtifactStore;
// The evaluation steps use no database.
const noDb = undefined as unknown as Db;
const ctx = () => testStepContext({ store, db: noDb });

async function datasetOf(df: pl.DataFrame, name = 'holdout', version = 1): Promise<DatasetRef> {
  const ref = await writeFrame(store, df);
  return { ...ref, name, version, rows: df.height, schema: [] };
}

async function modelOf(name: string, signature?: ModelSignature): Promise<ModelRef> {
  const ref = await store.putContent(fs.readFileSync(path.join(FIXTURES, `${name}.onnx`)));
  return { ...ref, signature: signature ?? fixture(name).signature };
}

function assertClose(actual: number | null | undefined, expected: number, what: string, tol = 1e-6) {
  assert.ok(typeof actual === 'number' && Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected}`);
}

async function rejectsWith(p: Promise<unknown>, type: string, re: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SluiceFailure, `a SluiceFailure (got ${String(e)})`);
    assert.equal(e.type, type);
    assert.equal(e.retryable, false);
    assert.match(e.message, re);
    return true;
  });
}

before(async () => {
  store = await LocalArtifactStore.open(path.join(tempDir('eval'), 'artifacts'));
});

describe('scoring with onnxruntime', () => {
  test('binary (probabilities tensor, string label): the same outputs as onnxruntime in Python, in any batch size', async () => {
    const fx = fixture('binary');
    const model = await modelOf('binary');
    const ds = await datasetOf(frameOf(fx));
    const big = await scoreDataset(store, model, ds, { batchSize: 100_000 });
    const small = await scoreDataset(store, model, ds, { batchSize: 7 });
    assert.equal(big.rows, 200);
    assert.deepEqual([...small.probabilities!], [...big.probabilities!], 'batching changes nothing');
    assert.deepEqual([...small.labelIndex!], [...big.labelIndex!]);
    const expected = fx.expected.probabilities!.flat();
    expected.forEach((v, i) => assertClose(big.probabilities![i], v, `probability ${i}`, 1e-6));
    assert.deepEqual([...big.labelIndex!].map((k) => fx.signature.classes![k]), fx.expected.label);
  });

  test('multiclass with ZipMap (a sequence of maps onnxruntime-node cannot return): read through the ZipMap input', async () => {
    const fx = fixture('multiclass');
    const p = await scoreDataset(store, await modelOf('multiclass'), await datasetOf(frameOf(fx)), { batchSize: 64 });
    fx.expected.probabilities!.flat().forEach((v, i) => assertClose(p.probabilities![i], v, `probability ${i}`, 1e-6));
    assert.deepEqual([...p.labelIndex!].map((k) => fx.signature.classes![k]), fx.expected.label);
  });

  test('regressor (tree ensemble): values', async () => {
    const fx = fixture('regressor');
    const p = await scoreDataset(store, await modelOf('regressor'), await datasetOf(frameOf(fx)), { batchSize: 33 });
    // Tree sums may differ in the last float32 bit between onnxruntime builds.
    fx.expected.value!.forEach((v, i) => assertClose(p.values![i], v, `row ${i}`, 1e-5));
  });

  test('progress is reported per batch', async () => {
    const fx = fixture('regressor');
    const seen: [number, number][] = [];
    await scoreDataset(store, await modelOf('regressor'), await datasetOf(frameOf(fx)), { batchSize: 50, onProgress: (a, b) => seen.push([a, b]) });
    assert.deepEqual(seen, [
      [50, 120],
      [100, 120],
      [120, 120],
    ]);
  });

  test('the ZipMap rewrite keeps the rest of the model and refuses what is not a ZipMap output', async () => {
    const bytes = fs.readFileSync(path.join(FIXTURES, 'multiclass.onnx'));
    const r = exposeZipMapInput(bytes, 'output_probability');
    assert.deepEqual(r.classLabels, [0, 1, 2]);
    const s = await ort.InferenceSession.create(r.model);
    assert.deepEqual([...s.outputNames].sort(), ['output_label', r.probabilities].sort());
    await s.release();
    assert.throws(() => exposeZipMapInput(bytes, 'output_label'), OnnxFormatError);
    assert.throws(() => exposeZipMapInput(Uint8Array.from([0x3a, 0x05, 1]), 'x'), OnnxFormatError);
  });

  test('a model that does not match its signature fails non-retryably, saying why', async () => {
    const fx = fixture('binary');
    const ds = await datasetOf(frameOf(fx));
    const sig = fx.signature;
    await rejectsWith(
      scoreDataset(store, await modelOf('binary', { ...sig, inputs: sig.inputs.slice(0, 2) }), ds),
      'InvalidInput',
      /graph inputs missing from the signature: color/,
    );
    await rejectsWith(
      scoreDataset(store, await modelOf('binary', { ...sig, inputs: sig.inputs.map((i) => (i.name === 'x1' ? { ...i, type: 'double' as const } : i)) }), ds),
      'InvalidInput',
      /input "x1" is float32 in the ONNX graph but double in the signature/,
    );
    await rejectsWith(scoreDataset(store, await modelOf('binary', { ...sig, outputs: { label: 'nope' } }), ds), 'InvalidInput', /output "nope" is not an output/);
    await rejectsWith(scoreDataset(store, await modelOf('binary', { ...sig, classes: ['no', 'yes', 'maybe'] }), ds), 'InvalidInput', /binary signature needs exactly 2 classes/);
    const mc = fixture('multiclass');
    await rejectsWith(
      scoreDataset(store, await modelOf('multiclass', { ...mc.signature, classes: [2, 1, 0] }), await datasetOf(frameOf(mc))),
      'InvalidInput',
      /ZipMap's classes \[0, 1, 2\] differ from the signature's \[2, 1, 0\]/,
    );
    const junk = { ...(await store.putContent('not an onnx model')), signature: sig };
    await rejectsWith(scoreDataset(store, junk, ds), 'InvalidModel', /onnxruntime cannot load it/);
  });

  test('dataset problems: a missing column, nulls in an int64 input, a string column for a float input', async () => {
    const fx = fixture('multiclass');
    const model = await modelOf('multiclass');
    await rejectsWith(scoreDataset(store, model, await datasetOf(frameOf(fx).drop('b'))), 'InvalidInput', /no column "b"/);
    const withNull = frameOf(fx).withColumn(pl.when(pl.col('a').gt(1)).then(pl.lit(null)).otherwise(pl.col('b')).cast(pl.Int64).alias('b'));
    await rejectsWith(scoreDataset(store, model, await datasetOf(withNull)), 'InvalidInput', /column "b" \(Int64\).*missing value/);
    const bin = fixture('binary');
    const bad = frameOf(bin).withColumn(pl.col('x1').cast(pl.String));
    await rejectsWith(scoreDataset(store, await modelOf('binary'), await datasetOf(bad)), 'InvalidInput', /column "x1" \(String\) cannot feed the model's float input/);
  });
});

const evalInput = (o: Partial<EvaluateModelInput> & Pick<EvaluateModelInput, 'model' | 'dataset'>): EvaluateModelInput => evaluateModelInput.parse(o);

async function readReport<T = EvaluationReport>(uri: string): Promise<T> {
  return JSON.parse((await store.getBuffer(uri)).toString('utf8')) as T;
}

describe('evaluate-model', () => {
  test('binary: metrics equal scikit-learn on the same outputs; slices; JSON and HTML reports', async () => {
    const fx = fixture('binary');
    const out = await evaluateModel.run(evalInput({ model: await modelOf('binary'), dataset: await datasetOf(frameOf(fx)), sliceBy: ['segment'] }), ctx());
    evaluateModelOutput.parse(out);
    assert.equal(out.rows, 200);
    assert.equal(out.skippedRows, 0);
    assert.equal(out.target, 'label');
    for (const k of ['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'pr_auc', 'brier', 'log_loss']) {
      assertClose(out.metrics[k], fx.expected.metrics[k] as number, k);
    }
    assert.ok(typeof out.metrics.ece === 'number' && out.metrics.ece >= 0 && out.metrics.ece < 0.2);
    // slices: every segment, largest first, each with scikit-learn's numbers
    const seg = out.slices[0]!;
    assert.equal(seg.column, 'segment');
    assert.deepEqual(
      seg.slices.map((s) => s.value),
      Object.entries(fx.expected.slices!.segment!).sort((a, b) => b[1].rows! - a[1].rows!).map(([v]) => v),
    );
    for (const s of seg.slices) {
      const exp = fx.expected.slices!.segment![s.value!]!;
      assert.equal(s.rows, exp.rows);
      for (const k of ['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'pr_auc', 'log_loss']) assertClose(s.metrics[k], exp[k]!, `${s.value} ${k}`);
    }

    const report = await readReport(out.report.uri);
    assert.equal(report.format, 'sluice.evaluation-report/1');
    assert.deepEqual(report.classification!.confusionMatrix, fx.expected.metrics.confusion_matrix);
    assert.equal(report.classification!.positiveClass, 'yes');
    assert.equal(report.classification!.roc.length, 1);
    const roc = report.classification!.roc[0]!.points!;
    assert.deepEqual([roc.x[0], roc.y[0], roc.thresholds[0]], [0, 0, null], 'the ROC curve starts at (0, 0), threshold +inf (null in JSON)');
    assert.deepEqual([roc.x.at(-1), roc.y.at(-1)], [1, 1]);
    assert.equal(report.classification!.calibration!.kind, 'positive-class');
    assert.equal(report.classification!.calibration!.bins.reduce((a, b) => a + b.count, 0), 200);

    const html = (await store.getBuffer(out.html.uri)).toString('utf8');
    assert.match(html, /^<!DOCTYPE html>/);
    assert.equal((html.match(/<svg /g) ?? []).length, 4, 'ROC, PR, calibration, confusion matrix');
    assert.match(html, /ROC curve/);
    assert.match(html, /Precision-recall curve/);
    assert.match(html, /Confusion matrix/);
    assertSelfContained(html);
  });

  test('deterministic: the same evaluation writes the same report bytes', async () => {
    const fx = fixture('binary');
    const input = evalInput({ model: await modelOf('binary'), dataset: await datasetOf(frameOf(fx)), sliceBy: ['segment', 'color'] });
    const a = await evaluateModel.run(input, ctx());
    const b = await evaluateModel.run(input, ctx());
    assert.equal(a.report.sha256, b.report.sha256);
    assert.equal(a.html.sha256, b.html.sha256);
  });

  test('multiclass (ZipMap): macro and weighted averages, one-vs-rest AUC, AP, log loss', async () => {
    const fx = fixture('multiclass');
    const out = await evaluateModel.run(evalInput({ model: await modelOf('multiclass'), dataset: await datasetOf(frameOf(fx)), sliceBy: ['region'], batchSize: 40 }), ctx());
    for (const k of ['accuracy', 'precision_macro', 'recall_macro', 'f1_macro', 'precision_weighted', 'recall_weighted', 'f1_weighted', 'roc_auc', 'pr_auc', 'log_loss']) {
      assertClose(out.metrics[k], fx.expected.metrics[k] as number, k);
    }
    assert.equal('precision' in out.metrics, false, 'no single-class precision for multiclass');
    const report = await readReport(out.report.uri);
    assert.deepEqual(report.classification!.confusionMatrix, fx.expected.metrics.confusion_matrix);
    assert.deepEqual(report.classification!.classes, ['0', '1', '2']);
    assert.equal(report.classification!.roc.length, 3, 'one curve per class');
    assert.equal(report.classification!.calibration!.kind, 'top-label');
    assert.deepEqual(out.slices[0]!.slices.map((s) => s.value).sort(), ['eu', 'us']);
    assert.equal(out.slices[0]!.slices.reduce((a, s) => a + s.rows, 0), 150);
  });

  test('regression: RMSE, MAE, R², MAPE without the zero targets, and says so', async () => {
    const fx = fixture('regressor');
    const out = await evaluateModel.run(evalInput({ model: await modelOf('regressor'), dataset: await datasetOf(frameOf(fx)) }), ctx());
    for (const k of ['rmse', 'mse', 'mae', 'r2', 'mape']) assertClose(out.metrics[k], fx.expected.metrics[k] as number, k, 1e-5);
    assert.equal(out.metrics.mape_zero_targets, fx.expected.metrics.mape_zero_targets);
    const report = await readReport(out.report.uri);
    assert.ok(report.notes.some((n) => n.includes(`MAPE skipped ${fx.expected.metrics.mape_zero_targets} row(s) whose target is 0`)), report.notes.join('\n'));
    assert.equal(report.regression!.sample.actual.length, 120);
    const html = (await store.getBuffer(out.html.uri)).toString('utf8');
    assert.match(html, /Predicted vs actual/);
    assertSelfContained(html);
  });

  test('rows without a target are left out and counted; a label the model does not know fails the step', async () => {
    const fx = fixture('binary');
    const df = frameOf(fx).withRowIndex('i').withColumn(pl.when(pl.col('i').modulo(10).eq(0)).then(pl.lit(null)).otherwise(pl.col('label')).alias('label')).drop('i');
    const out = await evaluateModel.run(evalInput({ model: await modelOf('binary'), dataset: await datasetOf(df) }), ctx());
    assert.equal(out.rows, 180);
    assert.equal(out.skippedRows, 20);
    const unknown = frameOf(fx).withColumn(pl.when(pl.col('x1').gt(1.5)).then(pl.lit('maybe')).otherwise(pl.col('label')).alias('label'));
    await rejectsWith(
      evaluateModel.run(evalInput({ model: await modelOf('binary'), dataset: await datasetOf(unknown) }), ctx()),
      'InvalidInput',
      /target column "label" holds label\(s\) the model does not know: "maybe" \(\d+ rows\)/,
    );
    await rejectsWith(
      evaluateModel.run(evalInput({ model: await modelOf('binary'), dataset: await datasetOf(frameOf(fx)), sliceBy: ['x2'] }), ctx()),
      'InvalidInput',
      /slice column "x2" is Float32/,
    );
    await rejectsWith(
      evaluateModel.run(evalInput({ model: await modelOf('binary'), dataset: await datasetOf(frameOf(fx)), target: 'nope' }), ctx()),
      'InvalidInput',
      /no column "nope"/,
    );
    // nothing left to evaluate: every metric null (a gate on any of them fails), and the report says so
    const none = await evaluateModel.run(evalInput({ model: await modelOf('binary'), dataset: await datasetOf(frameOf(fx).head(0)) }), ctx());
    assert.equal(none.rows, 0);
    assert.ok(Object.values(none.metrics).every((v) => v === null));
    assert.ok('roc_auc' in none.metrics, 'the same metric names as with rows');
    assert.ok((await readReport(none.report.uri)).notes.includes('No row to evaluate: every metric is undefined (null).'));
  });

  test('a class absent from the holdout: recall null and out of the macro average, and the report says so', async () => {
    const fx = fixture('multiclass');
    const df = frameOf(fx).filter(pl.col('y').neq(2));
    const out = await evaluateModel.run(evalInput({ model: await modelOf('multiclass'), dataset: await datasetOf(df) }), ctx());
    const report = await readReport(out.report.uri);
    const c2 = report.classification!.perClass[2]!;
    assert.equal(c2.support, 0);
    assert.equal(c2.recall, null);
    assert.equal(c2.rocAuc, null);
    const recalls = report.classification!.perClass.slice(0, 2).map((p) => p.recall!);
    assertClose(out.metrics.recall_macro, (recalls[0]! + recalls[1]!) / 2, 'macro recall over the present classes', 1e-12);
    assert.ok(report.notes.some((n) => n.includes('absent from the holdout: "2"')));
  });
});

describe('compare-models (champion/challenger)', () => {
  test('both models on the same holdout: both metric sets and the deltas', async () => {
    const strong = fixture('binary');
    const weak = fixture('binary_weak');
    const input: CompareModelsInput = compareModelsInput.parse({
      challenger: { ...(await modelOf('binary')), registered: { name: 'churn', version: 2 } },
      champion: { ...(await modelOf('binary_weak')), registered: { name: 'churn', version: 1 } },
      dataset: await datasetOf(frameOf(strong)),
      sliceBy: ['segment'],
      title: 'churn v2 vs v1',
    });
    const out = await compareModels.run(input, ctx());
    compareModelsOutput.parse(out);
    assert.equal(out.champion!.model.registered!.version, 1);
    for (const k of ['accuracy', 'roc_auc', 'pr_auc', 'log_loss']) {
      assertClose(out.challenger.metrics[k], strong.expected.metrics[k] as number, `challenger ${k}`);
      assertClose(out.champion!.metrics[k], weak.expected.metrics[k] as number, `champion ${k}`);
      assertClose(out.deltas[k]!.delta, (strong.expected.metrics[k] as number) - (weak.expected.metrics[k] as number), `delta ${k}`);
    }
    assert.deepEqual(out.deltas.roc_auc!.direction, 'higher');
    assert.equal(out.deltas.roc_auc!.better, 'challenger');
    assert.equal(out.deltas.log_loss!.direction, 'lower');
    assert.ok(out.deltas.log_loss!.delta! < 0);
    assert.equal(out.deltas.log_loss!.better, 'challenger', 'a lower log loss is better');
    const report = await readReport<ComparisonReport>(out.report.uri);
    assert.equal(report.format, 'sluice.model-comparison/1');
    assert.equal(report.champion!.model.registered!.version, 1);
    const html = (await store.getBuffer(out.html.uri)).toString('utf8');
    assert.match(html, /Deltas/);
    assert.match(html, /Curves, both models/);
    assert.match(html, /churn v2 vs v1/);
    assertSelfContained(html);
  });

  test('models that answer different questions are not compared', async () => {
    const bin = fixture('binary');
    await rejectsWith(
      compareModels.run(compareModelsInput.parse({ challenger: await modelOf('binary'), champion: await modelOf('multiclass'), dataset: await datasetOf(frameOf(bin)) }), ctx()),
      'InvalidInput',
      /not comparable: tasks differ \(challenger binary, champion multiclass\); targets differ \(challenger label, champion y\); classes differ/,
    );
    const flipped = await modelOf('binary_weak', { ...fixture('binary_weak').signature, classes: ['yes', 'no'] });
    await rejectsWith(
      compareModels.run(compareModelsInput.parse({ challenger: await modelOf('binary'), champion: flipped, dataset: await datasetOf(frameOf(bin)) }), ctx()),
      'InvalidInput',
      /classes differ \(challenger \[no, yes\], champion \[yes, no\]\)/,
    );
  });

  test('no champion yet: the challenger alone, no deltas', async () => {
    const fx = fixture('binary');
    const out = await compareModels.run(compareModelsInput.parse({ challenger: await modelOf('binary'), dataset: await datasetOf(frameOf(fx)) }), ctx());
    assert.equal(out.champion, null);
    assert.deepEqual(out.deltas, {});
    assertClose(out.challenger.metrics.roc_auc, fx.expected.metrics.roc_auc as number, 'roc_auc');
  });
});

test('models from the TypeScript trainers (train.logistic, train.gbdt) are evaluated and compared through the same contract', async () => {
  const fx = fixture('binary');
  const ds = await datasetOf(frameOf(fx));
  const features = ['x1', 'x2', 'color'];
  const logistic = await trainLogisticImpl.run(trainLogisticStep.input.parse({ train: ds, target: 'label', features }), ctx());
  const gbdt = await trainGbdtImpl.run(trainGbdtStep.input.parse({ train: ds, target: 'label', features, params: { nEstimators: 20 } }), ctx());
  const out = await compareModels.run(compareModelsInput.parse({ challenger: gbdt.model, champion: logistic.model, dataset: ds, sliceBy: ['segment'] }), ctx());
  for (const side of [out.challenger, out.champion!]) {
    assert.equal(side.rows, 200);
    assert.ok(side.metrics.roc_auc! > 0.85, `AUC ${side.metrics.roc_auc}`);
    assert.equal(side.slices[0]!.slices.length, 3);
  }
  assert.equal(typeof out.deltas.roc_auc!.delta, 'number');
});

describe('HTML reports', () => {
  const hostile = '<script>alert(1)</script>';
  const attr = '"><img src=x onerror=alert(1)>';

  function hostileReport(): EvaluationReport {
    const yTrue = Int32Array.from([0, 1, 1, 0, 1, 0]);
    const proba = Float32Array.from([0.8, 0.2, 0.3, 0.7, 0.4, 0.6, 0.6, 0.4, 0.1, 0.9, 0.5, 0.5]);
    return buildReport({
      task: 'binary',
      model: { uri: `file:///m/${attr}`, sha256: 'a'.repeat(64), registered: { name: 'x', version: 1 } },
      dataset: { name: 'holdout', version: 3, uri: 'file:///d', sha256: 'b'.repeat(64), rows: 6 },
      target: hostile,
      title: `report ${hostile}`,
      skippedRows: 0,
      classes: [attr, hostile],
      yTrue,
      yPred: Int32Array.from([0, 1, 1, 0, 1, 0]),
      proba,
      sliceValues: [{ column: `col${attr}`, values: [hostile, hostile, attr, attr, null, null] }],
      maxSlices: 10,
      calibrationBins: 5,
    });
  }

  test('user strings are escaped everywhere (titles, class labels, columns, slice values)', () => {
    const r = hostileReport();
    for (const html of [renderEvaluationHtml(r), renderComparisonHtml(compareReports(r, r, hostile))]) {
      assert.equal(html.includes(hostile), false, 'no raw <script>');
      assert.equal(html.includes(attr), false, 'no raw attribute breakout');
      assert.ok(html.includes(esc(hostile)));
      assert.ok(html.includes(esc(attr)));
      assertSelfContained(html);
    }
  });

  test('a comparison without a champion still renders', () => {
    const html = renderComparisonHtml(compareReports(hostileReport(), null));
    assert.match(html, /No champion to compare with/);
  });
});

test('steps: signatures and implementations', () => {
  assert.equal(evaluateModelStep.name, 'evaluate-model');
  assert.equal(compareModelsStep.name, 'compare-models');
  assert.deepEqual(
    evaluationImplementations.map((i) => i.step.name),
    ['evaluate-model', 'compare-models'],
  );
  for (const i of evaluationImplementations) assert.ok(i.module.endsWith(path.join('activities', 'evaluation', 'index.ts')));
});

/** No script, no external reference of any kind. */
function assertSelfContained(html: string) {
  assert.equal(/<script/i.test(html), false, 'no <script>');
  const tags = html.match(/<[a-zA-Z][^>]*>/g) ?? [];
  const withRefs = tags.filter((t) => /\s(?:src|href|xlink:href)\s*=/i.test(t.replace(/"[^"]*"/g, '""')));
  assert.deepEqual(withRefs, [], 'no src= or href= attributes');
  assert.equal(/https?:\/\//i.test(html), false, 'no URL to fetch');
  assert.equal(/@import|url\(/i.test(html), false, 'no CSS import or url()');
}
