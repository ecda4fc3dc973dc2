/**
 * Binary log loss, per row of the training margins: the probability p = sigmoid(F) (as head.ts),
 * the row's log-probability of its label (clamped to [EPS, 1 - EPS]) and the next round's gradient
 * p - y and hessian p(1 - p). Rows are independent, so histogram threads take chunks of them; the
 * caller sums the terms in row order (the same loss, bit for bit, on any number of threads).
 */

export const EPS = 1e-15;

export function binaryTerms(F: Float64Array, y: ArrayLike<number>, grad: Float64Array, hess: Float64Array, logp: Float64Array, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const p = 1 / (1 + Math.exp(-F[i]!));
    const pos = y[i] === 1;
    logp[i] = Math.log(Math.min(1 - EPS, Math.max(EPS, pos ? p : 1 - p)));
    grad[i] = p - (pos ? 1 : 0);
    hess[i] = Math.max(p * (1 - p), 1e-16);
  }
}

/** Mean log loss from the terms binaryTerms wrote. */
export function meanLoss(logp: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s -= logp[i]!;
  return n === 0 ? 0 : s / n;
}
