import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { binaryTerms, EPS, LOSS_GROUP, lossChunkBound, lossGroups, meanLoss } from '../activities/training/gbdt/binary-loss';
import { addLeafValues, expFactors } from '../activities/training/gbdt/leaf-margins';
import { Rng } from '../activities/training/rng';

/**
 * GBDT binary loss terms (gbdt/binary-loss.ts): gradients and hessians per row, the loss from one
 * logarithm per group of rows; the same, bit for bit, however the rows are chunked over threads;
 * exp(-F) as a running product of the leaves' factors.
 */

const expNegOf = (F: Float64Array) => F.map((f) => Math.exp(-f));

function margins(n: number, seed: number) {
  const rng = new Rng(seed);
  const F = Float64Array.from({ length: n }, () => (rng.next() - 0.5) * 8);
  F[3] = 60; // p rounds to 1: its label's probability is clamped
  F[4] = -60;
  const y = Int32Array.from({ length: n }, () => (rng.next() < 0.3 ? 1 : 0));
  y[3] = 0;
  y[4] = 1;
  return { F, y };
}

describe('GBDT binary loss terms', () => {
  test('gradients, hessians and the mean log loss of every row', () => {
    const n = 1000 + 7; // a last group that is not full
    const { F, y } = margins(n, 1);
    const grad = new Float64Array(n);
    const hess = new Float64Array(n);
    const logp = new Float64Array(lossGroups(n));
    binaryTerms(F, expNegOf(F), y, grad, hess, logp, 0, n);
    let expected = 0;
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-F[i]!));
      assert.equal(grad[i], p - y[i]!);
      assert.equal(hess[i], Math.max(p * (1 - p), 1e-16));
      expected -= Math.log(Math.min(1 - EPS, Math.max(EPS, y[i] === 1 ? p : 1 - p)));
    }
    expected /= n;
    const loss = meanLoss(logp, n);
    assert.ok(Math.abs(loss - expected) < 1e-12 * expected, `${loss} vs ${expected}`);
    assert.ok(loss > 34 / n, 'the clamped rows count log(1e-15) each');
  });

  test('chunks on group boundaries give the same terms, bit for bit', () => {
    const n = 5 * LOSS_GROUP * 37 + 3;
    const { F, y } = margins(n, 2);
    const E = expNegOf(F);
    const run = (T: number) => {
      const out = { grad: new Float64Array(n), hess: new Float64Array(n), logp: new Float64Array(lossGroups(n)) };
      for (let t = 0; t < T; t++) {
        const start = lossChunkBound(n, T, t);
        const end = lossChunkBound(n, T, t + 1);
        assert.equal(start % LOSS_GROUP, 0, `chunk ${t} of ${T} starts on a group`);
        binaryTerms(F, E, y, out.grad, out.hess, out.logp, start, end);
      }
      assert.equal(lossChunkBound(n, T, T), n);
      return out;
    };
    const one = run(1);
    for (const T of [2, 3, 8]) assert.deepEqual(run(T), one, `${T} chunks`);
  });

  test('exp(-F) kept as a product of leaf factors stays within 1e-12 of exp(-F); a product out of range falls back to exp(-F)', () => {
    const n = 4000;
    const rng = new Rng(3);
    const F = new Float64Array(n).fill(-0.8);
    const E = new Float64Array(n).fill(Math.exp(0.8));
    const rows = Uint32Array.from({ length: n }, (_, i) => i);
    // 200 trees of 8 leaves, rows shuffled into leaves as partitions would
    for (let t = 0; t < 200; t++) {
      rng.shuffle(Array.from(rows)).forEach((r, j) => (rows[j] = r));
      const bounds = Int32Array.from([0, 1, 500, 900, 900, 2000, 3100, 3999, n]);
      const values = Float64Array.from({ length: 8 }, () => Math.fround((rng.next() - 0.5) * 0.3));
      addLeafValues(F, 1, 0, rows, { count: 8, bounds, values }, 0, n, { values: E, factors: expFactors(values, 8) });
    }
    for (let i = 0; i < n; i++) assert.ok(Math.abs(E[i]! / Math.exp(-F[i]!) - 1) < 1e-12, `row ${i}: ${E[i]} vs ${Math.exp(-F[i]!)}`);
    // products that underflowed or overflowed while F came back into range
    E[0] = 0;
    E[1] = Infinity;
    const y = new Int32Array(n);
    const grad = new Float64Array(n);
    const hess = new Float64Array(n);
    binaryTerms(F, E, y, grad, hess, new Float64Array(lossGroups(n)), 0, 16);
    for (const i of [0, 1]) assert.equal(grad[i], 1 / (1 + Math.exp(-F[i]!)), `row ${i}`);
  });
});
