/**
 * Binary log loss, per row of the training margins: the probability p = sigmoid(F) (as head.ts),
 * the next round's gradient p - y and hessian p(1 - p), and the row's probability of its label
 * (clamped to [EPS, 1 - EPS]) for the loss. Rows are independent, so histogram threads take chunks
 * of them.
 *
 * The loss takes one logarithm per LOSS_GROUP rows, of the product of their probabilities (each
 * at least EPS, so a product of 16 stays above 1e-240, far from underflow): Math.log cost as
 * much as the rest of the pass. Groups are fixed by row index (rows [16g, 16g + 16)), so chunk
 * boundaries (multiples of LOSS_GROUP, lossChunkBound) never split one and the caller sums the
 * groups' logs in order: the same loss, bit for bit, on any number of threads.
 *
 * p = 1 / (1 + e) reads e = exp(-F) from a running product the trainer keeps beside the margins
 * (expNeg: exp(-base score), times exp(-leaf value) for every tree, one exponential per leaf, see
 * leaf-margins.ts) rather than one Math.exp per row and round, which cost as much as the rest of
 * the pass. After 100 trees the product is within about 1e-14 of exp(-F), relatively. A product
 * that left the float range (0 or Infinity: a margin beyond ±709) is not trusted, and exp(-F) is
 * taken instead.
 */

export const EPS = 1e-15;
export const LOSS_GROUP = 16;

/** Entries of the log array binaryTerms fills for n rows (one per group). */
export function lossGroups(n: number): number {
  return Math.ceil(n / LOSS_GROUP);
}

/** Chunk t of T of rows [0, n), on a group boundary (the last chunk ends at n). */
export function lossChunkBound(n: number, T: number, t: number): number {
  return t >= T ? n : Math.min(n, LOSS_GROUP * Math.round((lossGroups(n) * t) / T));
}

/**
 * Rows [start, end): start is a multiple of LOSS_GROUP, end too unless it is the last row. y: labels 0 or 1. expNeg:
 * exp(-F) per row (the running product). logp[g]: log of group g's product.
 */
export function binaryTerms(F: Float64Array, expNeg: Float64Array, y: Int32Array, grad: Float64Array, hess: Float64Array, logp: Float64Array, start: number, end: number): void {
  for (let g0 = start; g0 < end; g0 += LOSS_GROUP) {
    const g1 = Math.min(end, g0 + LOSS_GROUP);
    let prod = 1;
    for (let i = g0; i < g1; i++) {
      let e = expNeg[i]!;
      if (!(e > 0 && e < Infinity)) e = Math.exp(-F[i]!);
      const p = 1 / (1 + e);
      const label = y[i]!;
      // the label's probability (p or 1 - p, the same doubles) with no branch on the label, which
      // the CPU cannot predict: 1 - 0 + p * -1, or 1 - 1 + p * 1
      prod *= Math.min(1 - EPS, Math.max(EPS, 1 - label + p * (2 * label - 1)));
      grad[i] = p - label;
      hess[i] = Math.max(p * (1 - p), 1e-16);
    }
    logp[g0 / LOSS_GROUP] = Math.log(prod);
  }
}

/** Mean log loss of n rows from the group logs binaryTerms wrote. */
export function meanLoss(logp: Float64Array, n: number): number {
  let s = 0;
  const groups = lossGroups(n);
  for (let g = 0; g < groups; g++) s -= logp[g]!;
  return n === 0 ? 0 : s / n;
}
