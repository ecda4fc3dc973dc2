import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pl from 'nodejs-polars';
import { gbdtParams } from '../pipelines/steps/training';
import { extractRaw, extractTarget, resolveFeatures } from '../activities/training/data/design-matrix';
import { trainGbdt } from '../activities/training/gbdt/boost';
import { accumulate, accumulateAll, accumulateBlocks, binCounts, BLOCK_ROWS, fillCounts, histogramBlockRows, newHistogram, SLOTS, STRIDE } from '../activities/training/gbdt/histogram';
import { HistogramThreads, MIN_PARALLEL_HISTOGRAM_ROWS, MIN_PARALLEL_ROWS } from '../activities/training/gbdt/histogram-threads';
import { partition } from '../activities/training/gbdt/partition';
import { binaryTerms, lossGroups } from '../activities/training/gbdt/binary-loss';
import { CTRL, CTRL_LENGTH, JOB, ThreadBlocks } from '../activities/training/gbdt/thread-blocks';
import { Rng } from '../activities/training/rng';

/**
 * GBDT histograms (gbdt/histogram.ts, gbdt/histogram-threads.ts): the grouped passes against a
 * plain per-row sum, row blocks against one pass, and histograms built over several threads
 * against the calling thread's: equal bit for bit, so the trees do not depend on the number of cores.
 */

const shared = <T extends Float64Array | Uint32Array | Uint8Array>(make: (b: SharedArrayBuffer) => T, bytes: number) => make(new SharedArrayBuffer(bytes));

function randomData(n: number, F: number, seed: number) {
  const rng = new Rng(seed);
  const bins = shared((b) => new Uint8Array(b), n * F);
  // some features with few bins, some with many; about 5% missing (bin 255)
  for (let i = 0; i < n; i++) for (let f = 0; f < F; f++) bins[i * F + f] = rng.next() < 0.05 ? 255 : rng.int(f % 2 ? 7 : 250);
  const grad = shared((b) => new Float64Array(b), 8 * 2 * n); // two classes: class k's at k * n
  const hess = shared((b) => new Float64Array(b), 8 * 2 * n);
  for (let i = 0; i < 2 * n; i++) {
    grad[i] = rng.next() - 0.5;
    hess[i] = rng.next() * 0.25;
  }
  // a node's rows: an ascending subset, as partitions leave them
  const rows = shared((b) => new Uint32Array(b), 4 * n);
  let m = 0;
  for (let i = 0; i < n; i++) if (rng.next() < 0.8) rows[m++] = i;
  const columns = Array.from({ length: F }, (_, f) => shared((b) => new Uint8Array(b), n).map((_, i) => bins[i * F + f]!));
  const scratch = shared((b) => new Uint32Array(b), 4 * n);
  return { data: { n, nFeatures: F, bins, columns }, grad, hess, rows, scratch, m };
}

describe('GBDT histograms', () => {
  test('grouped passes (6, 4, 3, 2, 1 features at a time) give the per-row sums, missing values in slot 255', () => {
    const F = 13;
    const { data, grad, hess, rows, m } = randomData(3000, F, 1);
    // not in order; 13 = 6 + 6 + 1, 11 = 6 + 3 + 2, 10 = 6 + 4, 9 = 6 + 3, 5 = 3 + 2
    for (const list of [[0, 1, 2, 4, 5, 6, 3, 12, 11, 10, 9, 8, 7], [12, 0, 3, 1, 5, 7, 9, 11, 2, 4, 6], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0], [1, 3, 5, 7, 9, 11, 0, 2, 4], [4, 2, 0, 1, 3]]) {
      const features = Int32Array.from(list);
      const hist = newHistogram(F);
      accumulate(hist, data, rows, 10, m, grad, hess, features);
      const expected = new Float64Array(hist.length);
      for (let r = 10; r < m; r++) {
        const i = rows[r]!;
        for (const f of features) {
          const s = STRIDE * (f * SLOTS + data.bins[i * F + f]!);
          expected[s] = expected[s]! + grad[i]!;
          expected[s + 1] = expected[s + 1]! + hess[i]!;
          expected[s + 2] = expected[s + 2]! + 1;
        }
      }
      assert.deepEqual(hist, expected, `${list.length} features`);
      assert.ok(hist[STRIDE * (list[0]! * SLOTS + 255) + 2]! > 0, 'missing rows counted in slot 255');
    }
  });

  test('a node of every row in order (accumulateAll, no row index, counts from binCounts) sums as accumulate over rows 0..n-1, in row blocks too', () => {
    const F = 13;
    const { data, grad, hess } = randomData(4000, F, 6);
    const identity = Uint32Array.from({ length: data.n }, (_, i) => i);
    const counts = binCounts(data);
    // 13 = 6 + 6 + 1 passes, 11 = 6 + 3 + 1 + 1, 4 = 3 + 1
    for (const list of [[12, 0, 3, 1, 5, 7, 9, 11, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9, 11, 0, 2, 4, 6, 8], [7, 2, 9, 4]]) {
      const features = Int32Array.from(list);
      const expected = newHistogram(F);
      accumulate(expected, data, identity, 0, data.n, grad, hess, features);
      const all = newHistogram(F);
      accumulateAll(all, data, 0, data.n, grad, hess, features);
      for (let s = 2; s < all.length; s += STRIDE) assert.equal(all[s], 0, 'no count added');
      fillCounts(all, counts, features);
      assert.deepEqual(all, expected, `${list.length} features`);
      // by blocks, from a block-sized start (a stale partial: zeroed per block)
      const blocks = newHistogram(F);
      const viaRows = newHistogram(F);
      accumulateBlocks(blocks, data, identity, 700, data.n, grad, hess, features, 900, newHistogram(F).fill(3), true);
      accumulateBlocks(viaRows, data, identity, 700, data.n, grad, hess, features, 900, newHistogram(F));
      for (let s = 0; s < blocks.length; s++) if (s % STRIDE !== 2) assert.equal(blocks[s], viaRows[s], `slot ${s}`);
    }
  });

  test('row blocks: block sums added in order, from the node’s first row; counts exact, sums as one pass’s to rounding', () => {
    const F = 7;
    const { data, grad, hess, rows, m } = randomData(5000, F, 5);
    const features = Int32Array.from([6, 0, 2, 3, 5, 1, 4]);
    const blockRows = 700;
    const hist = newHistogram(F);
    accumulateBlocks(hist, data, rows, 13, m, grad, hess, features, blockRows, newHistogram(F).fill(3)); // a stale partial: zeroed per block
    const expected = newHistogram(F);
    for (let from = 13; from < m; from += blockRows) {
      const block = newHistogram(F);
      accumulate(block, data, rows, from, Math.min(m, from + blockRows), grad, hess, features);
      for (let s = 0; s < expected.length; s++) expected[s] = expected[s]! + block[s]!;
    }
    assert.deepEqual(hist, expected);
    const onePass = newHistogram(F);
    accumulate(onePass, data, rows, 13, m, grad, hess, features);
    for (let s = 0; s < hist.length; s++) {
      if (s % STRIDE === 2) assert.equal(hist[s], onePass[s], `count slot ${s}`);
      else assert.ok(Math.abs(hist[s]! - onePass[s]!) < 1e-9, `slot ${s}: ${hist[s]} vs ${onePass[s]}`);
    }
    // blocks depend on the data only; large data gets larger blocks, not more partials than a bound
    assert.equal(histogramBlockRows(100_000, 6), BLOCK_ROWS);
    assert.ok(histogramBlockRows(50_000_000, 200) > BLOCK_ROWS);
  });

  test('histograms, partitions and margin updates made by several threads equal the calling thread’s', async () => {
    const F = 6;
    const n = 3 * MIN_PARALLEL_ROWS + 5000;
    const { data, grad, hess, rows, scratch, m } = randomData(n, F, 2);
    const margins = shared((b) => new Float64Array(b), 8 * 2 * n); // two classes: row i's class k at 2i + k
    for (let i = 0; i < 2 * n; i++) margins[i] = i / 7;
    const threads = await HistogramThreads.start(data, { margins, grad, hess, rows, scratch }, 3);
    assert.ok(threads, 'threads started');
    try {
      for (const [features, k] of [
        [[0, 1, 2, 3, 4, 5], 0],
        [[1, 3, 4, 5], 1],
        [[2], 1], // one feature: still one row block a job block
      ] as const) {
        const f = Int32Array.from(features);
        const one = newHistogram(F);
        accumulateBlocks(one, data, rows, 7, m, grad.subarray(k * n, (k + 1) * n), hess.subarray(k * n, (k + 1) * n), f, histogramBlockRows(n, F), newHistogram(F));
        // twice: the second job must not see the first's sums
        for (let rep = 0; rep < 2; rep++) {
          const many = newHistogram(F);
          threads.build(many, 7, m, k, f);
          assert.deepEqual(many, one, `features ${features}, class ${k}`);
        }
      }
      // a node of one row block: cut by features (two groups of three, on three threads)
      for (const [from, to] of [[100, 100 + MIN_PARALLEL_HISTOGRAM_ROWS + 10], [5, 5 + BLOCK_ROWS]] as const) {
        const f = Int32Array.from([4, 0, 1, 5, 2, 3]);
        const one = newHistogram(F);
        accumulateBlocks(one, data, rows, from, to, grad, hess, f, histogramBlockRows(n, F), newHistogram(F));
        const many = newHistogram(F);
        threads.build(many, from, to, 0, f);
        assert.deepEqual(many, one, `rows ${from} to ${to}`);
      }
      // a node of every row in order: each block's partial by accumulateAll, counts left to the caller
      const saved = rows.slice();
      rows.set(Uint32Array.from({ length: n }, (_, i) => i));
      const f = Int32Array.from([4, 0, 1, 5, 2, 3]);
      const one = newHistogram(F);
      accumulateBlocks(one, data, rows, 0, n, grad.subarray(n), hess.subarray(n), f, histogramBlockRows(n, F), newHistogram(F));
      const many = newHistogram(F);
      threads.build(many, 0, n, 1, f, true);
      fillCounts(many, binCounts(data), f);
      assert.deepEqual(many, one, 'every row');
      rows.set(saved);
      // partitions: bins under 100 or missing go left (feature 0), then bins 2 and 5 (feature 1)
      for (const [f, left] of [[0, (b: number) => b < 100 || b === 255], [1, (b: number) => b === 2 || b === 5]] as const) {
        const goesLeft = Uint8Array.from({ length: 256 }, (_, b) => (left(b) ? 1 : 0));
        const before = rows.slice(0, m);
        const isLeft = (i: number) => left(data.bins[i * F + f]!);
        const part = [...before.subarray(3)];
        const mid = threads.partition(3, m, f, goesLeft);
        assert.deepEqual([...rows.subarray(0, m)], [...before.subarray(0, 3), ...part.filter(isLeft), ...part.filter((i) => !isLeft(i))], `feature ${f}: stable`);
        assert.equal(mid, 3 + part.filter(isLeft).length);
        const threaded = rows.slice(0, m);
        rows.set(before);
        assert.equal(partition(rows, scratch, 3, m, data.columns[f]!, goesLeft), mid);
        assert.deepEqual(rows.subarray(0, m), threaded);
        rows.set(before);
      }
      // a tree's leaves tiling rows[0, m) (uneven sizes, one empty), class 1 of 2
      const bounds = Int32Array.from([0, 9, 9, 20_000, 20_001, 47_000, m]);
      const leaves = { count: 6, bounds, values: Float64Array.from([0.5, -1, 0.25, 3, -0.125, 2]) };
      const expected = margins.slice();
      for (let j = 0; j < 6; j++) for (let r = bounds[j]!; r < bounds[j + 1]!; r++) expected[2 * rows[r]! + 1] = expected[2 * rows[r]! + 1]! + leaves.values[j]!;
      threads.addLeafValues(leaves, 2, 1);
      assert.deepEqual(margins, expected);
    } finally {
      await threads.close();
    }
  });

  test('binary gradients with the next root’s histogram blocks (one job) equal the gradients, then a histogram job over every row', async () => {
    const F = 6;
    const n = 3 * MIN_PARALLEL_ROWS + 5000;
    const { data, grad, hess, rows, scratch } = randomData(n, F, 7);
    const rng = new Rng(8);
    const margins = shared((b) => new Float64Array(b), 8 * n);
    for (let i = 0; i < n; i++) margins[i] = rng.next() * 4 - 2;
    const binary = { y: new Int32Array(new SharedArrayBuffer(4 * n)), logp: shared((b) => new Float64Array(b), 8 * lossGroups(n)), expNeg: shared((b) => new Float64Array(b), 8 * n) };
    for (let i = 0; i < n; i++) {
      binary.y[i] = rng.next() < 0.3 ? 1 : 0;
      binary.expNeg[i] = Math.exp(-margins[i]!);
    }
    const g = grad.subarray(0, n);
    const h = hess.subarray(0, n);
    // expected: the terms on this thread, then the root's histogram by blocks over rows 0..n-1
    const eg = new Float64Array(n);
    const eh = new Float64Array(n);
    const elogp = new Float64Array(lossGroups(n));
    binaryTerms(margins, binary.expNeg, binary.y, eg, eh, elogp, 0, n);
    const features = Int32Array.from([3, 0, 5, 1, 2, 4]);
    const identity = Uint32Array.from({ length: n }, (_, i) => i);
    const expected = newHistogram(F);
    accumulateBlocks(expected, data, identity, 0, n, eg, eh, features, histogramBlockRows(n, F), newHistogram(F));
    const threads = await HistogramThreads.start(data, { margins, grad: g, hess: h, rows, scratch, binary }, 2);
    assert.ok(threads, 'threads started');
    try {
      rows.set(identity);
      threads.binaryTerms(features);
      assert.deepEqual(g, eg);
      assert.deepEqual(h, eh);
      assert.deepEqual(binary.logp, elogp);
      g.fill(0); // the root's sums come from the blocks built with the gradients, not from a pass after them
      const root = newHistogram(F);
      threads.build(root, 0, n, 0, features, true);
      fillCounts(root, binCounts(data), features);
      assert.deepEqual(root, expected);
      // used once: the next build over every row reads the gradients again
      g.set(eg);
      g[0] = g[0]! + 1;
      const again = newHistogram(F);
      threads.build(again, 0, n, 0, features, true);
      fillCounts(again, binCounts(data), features);
      assert.notDeepEqual(again, expected);
    } finally {
      await threads.close();
    }
  });

  test('a job whose other threads never wake is finished by the trainer thread alone, and claimed once', () => {
    const F = 6;
    const n = 5000;
    const { data, grad, hess, rows, scratch, m } = randomData(n, F, 4);
    const sab = (bytes: number) => new SharedArrayBuffer(bytes);
    const shape = {
      n,
      nFeatures: F,
      featureWidth: SLOTS * STRIDE,
      ctrl: sab(CTRL_LENGTH * 4),
      margins: sab(8 * n),
      leafBounds: sab(8),
      leafValues: sab(8),
      leafFactors: sab(8),
      claim: sab(8),
      jobs: sab((F + 1) * 4),
      bins: data.bins.buffer as SharedArrayBuffer,
      grad: grad.buffer as SharedArrayBuffer,
      hess: hess.buffer as SharedArrayBuffer,
      rows: rows.buffer as SharedArrayBuffer,
      scratch: scratch.buffer as SharedArrayBuffer,
      leftRows: sab(4),
      columns: [], // (no partition job here)
      goesLeft: sab(SLOTS),
      partials: sab(3 * F * SLOTS * STRIDE * 8),
    };
    const blocks = new ThreadBlocks(shape);
    const features = Int32Array.from([5, 0, 3, 1, 4]);
    new Int32Array(shape.jobs).set([features.length, ...features]);
    const blockRows = Math.ceil((m - 2) / 3);
    Object.assign(blocks.ctrl, { [CTRL.job]: JOB.histogram, [CTRL.start]: 2, [CTRL.end]: m, [CTRL.k]: 1, [CTRL.blockRows]: blockRows });
    blocks.partials.fill(7); // stale sums of an earlier job: each block zeroes its features first
    blocks.open(3);
    blocks.finish(3);
    assert.equal(blocks.work(), 0, 'no block left to claim once the job is done');
    const W = SLOTS * STRIDE;
    for (let b = 0; b < 3; b++) {
      const one = newHistogram(F);
      const from = 2 + b * blockRows;
      accumulate(one, data, rows, from, Math.min(m, from + blockRows), grad.subarray(n, 2 * n), hess.subarray(n, 2 * n), features);
      const partial = blocks.partials.subarray(b * F * W, (b + 1) * F * W);
      for (const f of features) assert.deepEqual(partial.subarray(f * W, (f + 1) * W), one.subarray(f * W, (f + 1) * W), `block ${b}, feature ${f}`);
    }
  });

  test('a model trained with histogram threads is the one trained without', async () => {
    const rng = new Rng(3);
    const n = 2 * MIN_PARALLEL_ROWS + 5000; // large enough for threaded partitions and margin updates
    const a = Array.from({ length: n }, () => rng.next() * 10);
    const b = Array.from({ length: n }, () => (rng.next() < 0.1 ? null : rng.int(40)));
    const c = Array.from({ length: n }, () => ['x', 'y', 'z', 'w'][rng.int(4)]!);
    const y = a.map((v, i) => v + (b[i] ?? 20) / 4 + (c[i] === 'x' ? 3 : 0) + rng.next() * 4 > 12);
    const df = pl.DataFrame({ a, b, c, y });
    const features = resolveFeatures(df, { target: 'y' });
    const data = { target: 'y', task: 'binary' as const, features, train: { raw: extractRaw(df, features), y: extractTarget(df, 'y', 'binary') } };
    const params = gbdtParams.parse({ nEstimators: 8, earlyStoppingRounds: 0, validationFraction: 0 });
    const single = await trainGbdt(data, params, { threads: 1 });
    const threaded = await trainGbdt(data, params, { threads: 2 });
    assert.ok(single.model.trees.every((t) => t.feature.length > 1));
    assert.deepEqual(threaded.model, single.model);
    assert.deepEqual(threaded.state.history, single.state.history);
  });
});
