import type { FeatureColumn, RawTable } from './data/design-matrix';
import { designMatrix, fitLinearPreprocess } from './data/linear-features';
import { toFloat32, type LinearModel } from './linear-model';

/**
 * Linear regression with an optional ridge penalty, solved in closed form:
 *   minimise mean (y - b - x·w)² + l2 · ||w||²   (intercept not penalised)
 * on standardised / one-hot features, through the normal equations of the centred design
 * (Cholesky). A one-hot block next to the intercept is collinear; a jitter of 1e-10 of the
 * average diagonal keeps the system positive definite without changing the fit measurably.
 * One pass over the data: there is no iteration to checkpoint.
 */

export interface LinearParams {
  l2: number;
  maxCategories: number;
}

export function trainLinear(data: { target: string; features: FeatureColumn[]; raw: RawTable; y: Float64Array }, params: LinearParams): LinearModel {
  const pre = fitLinearPreprocess(data.raw, data.features, { maxCategories: params.maxCategories });
  const n = data.raw.n;
  const d = pre.dim;
  const X = designMatrix(data.raw, pre);
  const y = data.y;
  const xMean = new Float64Array(d);
  let yMean = 0;
  for (let i = 0; i < n; i++) {
    yMean += y[i]!;
    for (let j = 0; j < d; j++) xMean[j] = xMean[j]! + X[i * d + j]!;
  }
  yMean /= n;
  for (let j = 0; j < d; j++) xMean[j] = xMean[j]! / n;

  const A = new Float64Array(d * d);
  const b = new Float64Array(d);
  const xc = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) xc[j] = X[i * d + j]! - xMean[j]!;
    const yc = y[i]! - yMean;
    for (let j = 0; j < d; j++) {
      const v = xc[j]!;
      if (v === 0) continue;
      b[j] = b[j]! + v * yc;
      for (let k = j; k < d; k++) A[j * d + k] = A[j * d + k]! + v * xc[k]!;
    }
  }
  let trace = 0;
  for (let j = 0; j < d; j++) {
    for (let k = 0; k < j; k++) A[j * d + k] = A[k * d + j]!;
    trace += A[j * d + j]!;
  }
  for (let j = 0; j < d * d; j++) A[j] = A[j]! / n;
  for (let j = 0; j < d; j++) b[j] = b[j]! / n;
  const jitter = 1e-10 * Math.max(trace / n / Math.max(d, 1), 1e-12);
  for (let j = 0; j < d; j++) A[j * d + j] = A[j * d + j]! + params.l2 + jitter;
  const w = choleskySolve(A, b, d);
  let intercept = yMean;
  for (let j = 0; j < d; j++) intercept -= w[j]! * xMean[j]!;
  return {
    trainer: 'linear',
    task: 'regression',
    target: data.target,
    features: data.features,
    pre,
    coef: toFloat32(w),
    intercept: toFloat32([intercept]),
  };
}

/** Solves A x = b for symmetric positive definite A (d × d, row-major). */
export function choleskySolve(A: Float64Array, b: Float64Array, d: number): Float64Array {
  const L = new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    let s = A[j * d + j]!;
    for (let k = 0; k < j; k++) s -= L[j * d + k]! ** 2;
    if (!(s > 0)) throw new Error(`the normal equations are not positive definite at column ${j}: a constant or duplicated feature? set l2 > 0`);
    const ljj = Math.sqrt(s);
    L[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let t = A[i * d + j]!;
      for (let k = 0; k < j; k++) t -= L[i * d + k]! * L[j * d + k]!;
      L[i * d + j] = t / ljj;
    }
  }
  const z = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i * d + k]! * z[k]!;
    z[i] = s / L[i * d + i]!;
  }
  const x = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = z[i]!;
    for (let k = i + 1; k < d; k++) s -= L[k * d + i]! * x[k]!;
    x[i] = s / L[i * d + i]!;
  }
  return x;
}
