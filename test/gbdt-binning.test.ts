import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { binValues, MISSING_BIN, type BinnedFeature } from '../activities/training/gbdt/binning';
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
});
