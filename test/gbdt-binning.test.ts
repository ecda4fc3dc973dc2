import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { binTable, binTraining, binValues, emptyBinMatrix, MISSING_BIN, type BinnedFeature } from '../activities/training/gbdt/binning';
import { MISSING_STRING, vocabulary, type RawTable } from '../activities/training/data/design-matrix';
import { Rng } from '../activities/training/rng';

/**
 * GBDT binning (gbdt/binning.ts): a value's bin is the first threshold it does not exceed (the
 * split "bin <= b" is "x <= threshold[b]"), whatever the search; a category code's bin is the code.
 */

describe('GBDT bin values', () => {
  test('numeric: the first threshold not below the value, on runs of repeated values, thresholds themselves and NaN', () => {
    const rng = new Rng(7);
    const thresholds = [...new Set(Array.from({ length: 200 }, () => Math.fround(rng.next() * 100)))].sort((a, b) => a - b);
    const f: BinnedFeature = { column: 'x', input: 'x', kind: 'numeric', thresholds, nBins: thresholds.length + 1 };
    const x = new Float32Array(5000);
    for (let i = 0; i < x.length; i++) {
      const r = rng.next();
      x[i] = r < 0.05 ? NaN : r < 0.3 && i > 0 ? x[i - 1]! : r < 0.4 ? thresholds[rng.int(thresholds.length)]! : rng.next() * 110 - 5;
    }
    const bins = binValues(x, f);
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      const expected = Number.isNaN(v) ? MISSING_BIN : (thresholds.findIndex((t) => v <= t) + thresholds.length + 1) % (thresholds.length + 1);
      assert.equal(bins[i], expected, `x = ${v}`);
    }
    for (const b of [0, thresholds.length]) assert.ok(bins.includes(b), `bin ${b} reached`);
  });

  test('categorical: a code is its bin, a missing code the missing bin', () => {
    const f: BinnedFeature = { column: 'c', input: 'c', kind: 'categorical', thresholds: [0.5, 1.5, 2.5], nBins: 4, categories: ['a', 'b', 'c', 'd'] };
    assert.deepEqual([...binValues(Float32Array.from([3, 0, NaN, 2, 1, 1]), f)], [3, 0, MISSING_BIN, 2, 1, 1]);
  });
  test('the training table: categories as vocabulary() keeps them (by count, then code point), each row binned as binTable bins it', () => {
    const rng = new Rng(9);
    const n = 4000;
    // 300 categories (more than kept), skewed counts with ties, missing values
    const cat = Array.from({ length: n }, () => (rng.next() < 0.05 ? MISSING_STRING : `c${Math.floor(300 * rng.next() ** 2)}`));
    const few = Array.from({ length: n }, () => ['b', 'a', 'c'][rng.int(3)]!);
    const x = Float32Array.from({ length: n }, () => (rng.next() < 0.1 ? NaN : Math.round(rng.next() * 500) / 7));
    const raw: RawTable = { n, numeric: new Map([['x', x]]), strings: new Map([['cat', cat], ['few', few]]) };
    const features = [
      { column: 'cat', input: 'cat', kind: 'categorical' as const },
      { column: 'x', input: 'x', kind: 'numeric' as const },
      { column: 'few', input: 'few', kind: 'categorical' as const },
    ];
    const into = emptyBinMatrix(n, 3);
    const binning = binTraining(raw, features, { maxBins: 255, maxCategories: 200 }, into);
    assert.deepEqual(binning[0]!.categories, vocabulary(cat, 200).vocab);
    assert.deepEqual(binning[2]!.categories, vocabulary(few, 200).vocab);
    const again = binTable(raw, binning);
    assert.deepEqual(into.bins, again.bins);
    assert.deepEqual(into.columns, again.columns);
    assert.ok(into.columns[0]!.includes(MISSING_BIN), 'missing and dropped categories in the missing bin');
  });
});
