import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pl from 'nodejs-polars';
import ort from 'onnxruntime-node';
import { gbdtParams, type trainGbdtStep } from '../pipelines/steps/training';
import type { z } from 'zod';
import { SluiceFailure } from '../pipelines/failures';
import { extractRaw, extractTarget, resolveFeatures } from '../activities/training/data/design-matrix';
import { feedsFromFrame } from './helpers/onnx-feeds';
import { exportGbdtOnnx } from '../activities/training/export/gbdt-onnx';
import { trainedSignature } from '../activities/training/export/signature';
import { bestCategoricalSplit } from '../activities/training/gbdt/categorical';
import { trainGbdt } from '../activities/training/gbdt/boost';
import { packTrees, predictGbdt, unpackTrees, type GbdtModel } from '../activities/training/gbdt/model';
import type { ModelTask } from '../pipelines/steps/model';
import { Rng } from '../activities/training/rng';

/**
 * Per-node categorical splits (gbdt/categorical.ts): a set that only a per-node ordering finds,
 * the scan's rules, the ONNX export (TreeEnsemble BRANCH_MEMBER) against the trainer's own
 * predictions with missing and unseen categories, and integer columns declared categorical.
 */

type GbdtParamsIn = z.input<typeof trainGbdtStep.input>['params'];
const params = (p: GbdtParamsIn = {}) => gbdtParams.parse({ earlyStoppingRounds: 0, validationFraction: 0, ...p });

async function fit(df: pl.DataFrame, target: string, task: ModelTask, p: GbdtParamsIn, categorical?: string[]) {
  const features = resolveFeatures(df, { target, ...(categorical ? { categorical } : {}) });
  const raw = extractRaw(df, features);
  const y = extractTarget(df, target, task);
  const { model } = await trainGbdt({ target, task, features, train: { raw, y } }, params(p));
  return { model, raw, y, features };
}

/** The codes a node sends left, as category names. */
function leftCategories(model: GbdtModel, tree: number, node: number): string[] {
  const t = model.trees[tree]!;
  const cats = t.cats[node]!;
  const names = model.features[t.feature[node]!]!.categories!;
  return names.filter((_, c) => cats[c] === 1).sort();
}

/**
 * y = (x = 0 and c in A) or (x = 1 and c not in A), A = {c0, c3}: every category is positive
 * half of the time, so a global order by target mean ties them all (and A is no prefix of any
 * tie-break by frequency or code); x alone has an effect (25% vs 75% positive), so it is the
 * root; under either x, A against the rest is the whole answer.
 */
const A = new Set([0, 3]);
function interaction(rowsPerCell = 60): pl.DataFrame {
  const c: string[] = [];
  const x: number[] = [];
  const y: boolean[] = [];
  for (let k = 0; k < 8; k++)
    for (const xv of [0, 1])
      for (let r = 0; r < rowsPerCell; r++) {
        c.push(`c${k}`);
        x.push(xv);
        y.push(xv === 0 ? A.has(k) : !A.has(k));
      }
  return pl.DataFrame({ c, x, y });
}

describe('per-node categorical splits', () => {
  test('an interaction: under each x the node sends exactly A (or its complement) one way, one round fits it', async () => {
    const { model, raw, y } = await fit(interaction(), 'y', 'binary', { nEstimators: 1, learningRate: 1, maxLeaves: 4, minDataInLeaf: 5, minDataPerGroup: 10, catL2: 0, l2: 0.1 });
    const t = model.trees[0]!;
    // a global order by target mean ties every category: by frequency (equal) then code, A is no prefix
    const order = model.features.find((f) => f.column === 'c')!.categories!;
    assert.deepEqual(order, ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7']);
    const xIndex = model.features.findIndex((f) => f.column === 'x');
    assert.equal(t.feature[0], xIndex, 'the root splits on x (categories alone gain nothing)');
    for (const child of [t.left[0]!, t.right[0]!]) {
      assert.ok(t.cats[child], `node ${child} is a categorical split`);
      const left = leftCategories(model, 0, child);
      assert.ok(
        left.join() === 'c0,c3' || left.join() === 'c1,c2,c4,c5,c6,c7',
        `node ${child} sends ${left.join(',')} left`,
      );
    }
    const pred = predictGbdt(model, raw);
    assert.ok(pred.kind === 'class');
    for (let i = 0; i < pred.n; i++) assert.equal(pred.labels[i], y.y[i], `row ${i} misclassified`);
  });

  test('the scan: categories sorted by G/(H + catSmooth) from both ends; rare ones go with missing values; maxCatThreshold caps the set', () => {
    // 6 categories: gradient sums make the order c3 < c1 < c5 < c0 < c2 < c4; c5 is rare (hessian < catSmooth)
    const g = [2, -8, 6, -12, 9, -1];
    const h = [20, 20, 20, 20, 20, 4];
    const n = [40, 40, 40, 40, 40, 8];
    const nb = 6;
    const hist = new Float64Array(3 * (nb + 1));
    for (let b = 0; b < nb; b++) hist.set([g[b]!, h[b]!, n[b]!], 3 * b);
    hist.set([-30, 10, 20], 3 * nb); // missing values: strongly negative
    const tot = (k: 0 | 1 | 2) => Array.from({ length: nb + 1 }, (_, b) => hist[3 * b + k]!).reduce((a, b) => a + b, 0);
    const node = { G: tot(0), H: tot(1), C: tot(2) };
    const base = { catSmooth: 10, catL2: 0, maxCatThreshold: 32, minDataPerGroup: 1, l2: 1, minDataInLeaf: 1, minSumHessian: 0 };
    const s = bestCategoricalSplit(hist, 0, nb, node, base)!;
    // best: the missing group (missing values, strongly negative, and the rare c5) apart from every ordered category
    assert.deepEqual([...s.cats], [1, 1, 1, 1, 1, 0]);
    assert.equal(s.missingLeft, false);
    // exhaustive check over all subsets: no partition of the ordered categories beats it
    const used = [0, 1, 2, 3, 4];
    const score = (gg: number, hh: number) => (gg * gg) / (hh + base.l2);
    let bestGain = -Infinity;
    for (let mask = 1; mask < 1 << used.length; mask++)
      for (const ml of [false, true]) {
        let gl = ml ? -30 + g[5]! : 0;
        let hl = ml ? 10 + h[5]! : 0;
        for (let j = 0; j < used.length; j++) if (mask & (1 << j)) (gl += g[used[j]!]!), (hl += h[used[j]!]!);
        if (hl === 0 || hl === node.H) continue;
        bestGain = Math.max(bestGain, score(gl, hl) + score(node.G - gl, node.H - hl) - score(node.G, node.H));
      }
    assert.ok(Math.abs(s.gain - bestGain) < 1e-9, `scan gain ${s.gain} vs exhaustive ${bestGain}`);
    // without the missing group, the scan finds the best prefix of the order c3 < c1 < c0 < c2 < c4
    const present = hist.slice();
    present.fill(0, 3 * (nb - 1));
    const sumOf = (k: number) => Array.from({ length: nb + 1 }, (_, b) => present[3 * b + k]!).reduce((a, b) => a + b, 0);
    const node2 = { G: sumOf(0), H: sumOf(1), C: sumOf(2) };
    const two = bestCategoricalSplit(present, 0, nb, node2, base)!;
    assert.deepEqual([...two.cats].slice(0, 5), [0, 1, 0, 1, 0]);
    // capped at one category on the scanned side: c3 alone (from the low end) or c4 alone (from the high end)
    const one = bestCategoricalSplit(present, 0, nb, node2, { ...base, maxCatThreshold: 1 })!;
    const left = [...one.cats].slice(0, 5).map((v, c) => (v === 1 ? c : -1)).filter((c) => c >= 0);
    assert.ok(left.join() === '3' || left.join() === '4', `one category on the scanned side: ${left}`);
    // minDataPerGroup larger than a side: no split
    assert.equal(bestCategoricalSplit(hist, 0, nb, node, { ...base, minDataPerGroup: 500 }), undefined);
  });

  test('checkpoint packing keeps category sets', async () => {
    const { model } = await fit(interaction(), 'y', 'binary', { nEstimators: 3, maxLeaves: 4, minDataInLeaf: 5, minDataPerGroup: 10 });
    assert.ok(model.trees.some((t) => t.cats.some((c) => c)));
    assert.deepEqual(unpackTrees(packTrees(model.trees)), model.trees);
  });
});

/** Many categories (60, so sets are large), a numeric feature, missing values; y depends on their interaction. */
function wide(n: number, seed: number, opts: { unseen?: boolean } = {}): pl.DataFrame {
  const rng = new Rng(seed);
  const effect = Array.from({ length: 60 }, (_, k) => Math.sin(k * 1.7) * 2);
  const cat: (string | null)[] = [];
  const num: (number | null)[] = [];
  const code: number[] = [];
  const yb: string[] = [];
  const yv: number[] = [];
  const yk: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = rng.int(60);
    const x = rng.next() * 4 - 2;
    const missingCat = rng.next() < 0.05;
    cat.push(missingCat ? null : opts.unseen && rng.next() < 0.1 ? `new${k}` : `k${k}`);
    num.push(rng.next() < 0.05 ? null : x);
    code.push((k * 7) % 13);
    const m = (missingCat ? 0.5 : effect[k]! * (x > 0 ? 1 : -1)) + 0.3 * x + (rng.next() - 0.5);
    yb.push(m > 0 ? 'yes' : 'no');
    yv.push(m);
    yk.push(m > 0.8 ? 'high' : m < -0.8 ? 'low' : 'mid');
  }
  return pl.DataFrame({ cat, num, code, yb, yv, yk });
}

async function onnxOutputs(model: GbdtModel, df: pl.DataFrame) {
  const session = await ort.InferenceSession.create(exportGbdtOnnx(model));
  try {
    return await session.run(feedsFromFrame(trainedSignature(model), df));
  } finally {
    await session.release();
  }
}

describe('ONNX export of categorical splits (TreeEnsemble, BRANCH_MEMBER)', () => {
  const cases: { task: ModelTask; target: string }[] = [
    { task: 'binary', target: 'yb' },
    { task: 'multiclass', target: 'yk' },
    { task: 'regression', target: 'yv' },
  ];
  for (const c of cases) {
    test(`${c.task}: onnxruntime equals the trainer's predictions, missing and unseen categories included`, async () => {
      const train = wide(3000, 1).drop(c.target === 'yb' ? ['yv', 'yk'] : c.target === 'yv' ? ['yb', 'yk'] : ['yb', 'yv']);
      const { model, features } = await fit(train, c.target, c.task, { nEstimators: 15, maxLeaves: 15, minDataPerGroup: 20, minDataInLeaf: 10 }, ['code']);
      const cats = model.trees.flatMap((t) => t.cats.filter((s): s is Uint8Array => s !== null));
      assert.ok(cats.length > 0, 'the model has categorical splits');
      assert.ok(
        cats.some((s) => s.reduce((a, b) => a + b, 0) > 30),
        'a set of more than 30 codes (onnxruntime runs those as a sorted set, not a bitmask)',
      );
      const test = wide(2000, 2, { unseen: true });
      const out = await onnxOutputs(model, test);
      const pred = predictGbdt(model, extractRaw(test, features));
      if (pred.kind === 'value') {
        const v = out.value!.data as Float32Array;
        for (let i = 0; i < pred.n; i++) assert.ok(Math.abs(v[i]! - pred.values[i]!) < 1e-4, `row ${i}: onnx ${v[i]} vs ${pred.values[i]}`);
      } else {
        const p = out.probabilities!.data as Float32Array;
        for (let i = 0; i < p.length; i++) assert.ok(Math.abs(p[i]! - pred.probabilities[i]!) < 1e-5, `entry ${i}: onnx ${p[i]} vs ${pred.probabilities[i]}`);
        const labels = out.label!.data as string[];
        for (let i = 0; i < pred.n; i++) assert.equal(labels[i], String(model.classes![pred.labels[i]!]));
      }
    });
  }
});

describe('declared categorical columns', () => {
  test('integer codes named in `categorical` are categories (split as sets), scored from the integer column', async () => {
    // y depends on the code non-monotonically: as a number no single threshold separates it
    const positive = new Set([3, 11, 4, 9]);
    const code: number[] = [];
    const y: boolean[] = [];
    for (let i = 0; i < 1300; i++) {
      const k = i % 13;
      code.push(k);
      y.push(positive.has(k));
    }
    const df = pl.DataFrame({ code, y });
    assert.equal(df.getColumn('code').dtype.variant, 'Float64');
    const ints = df.withColumns(pl.col('code').cast(pl.Int64));
    const { model, features } = await fit(ints, 'y', 'binary', { nEstimators: 1, learningRate: 1, maxLeaves: 2, minDataInLeaf: 5, minDataPerGroup: 10, catL2: 0 }, ['code']);
    assert.deepEqual(features.map((f) => [f.column, f.kind]), [['code', 'categorical']]);
    assert.equal(model.features[0]!.kind, 'categorical');
    assert.deepEqual([...model.features[0]!.categories!].sort(), Array.from({ length: 13 }, (_, k) => String(k)).sort());
    const left = leftCategories(model, 0, 0).map(Number).sort((a, b) => a - b).join();
    assert.ok(left === '3,4,9,11' || left === '0,1,2,5,6,7,8,10,12', `the root sends ${left} left`);
    const out = await onnxOutputs(model, ints);
    const labels = out.label!.data as string[];
    for (let i = 0; i < ints.height; i++) assert.equal(labels[i], String(y[i]), `row ${i} (code ${code[i]})`);
    // undeclared, the same column is a number
    const plain = await fit(ints, 'y', 'binary', { nEstimators: 1, maxLeaves: 2 });
    assert.equal(plain.model.features[0]!.kind, 'numeric');
  });

  test('an unknown categorical column is an error naming it and listing the columns', () => {
    const df = pl.DataFrame({ a: [1, 2, 3], b: ['x', 'y', 'z'], y: [0, 1, 0] });
    assert.throws(
      () => resolveFeatures(df, { target: 'y', categorical: ['origin'] }),
      (e: unknown) => e instanceof SluiceFailure && /"origin"/.test(e.message) && /columns: a, b, y/.test(e.message),
    );
  });
});
