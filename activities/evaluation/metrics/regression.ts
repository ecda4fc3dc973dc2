/**
 * Regression metrics over typed arrays: pure functions, no I/O (definitions in
 * pipelines/steps/evaluation.ts).
 */

export type Values = Float32Array | Float64Array | readonly number[];

export interface RegressionResult {
  rows: number;
  metrics: {
    rmse: number | null;
    mse: number | null;
    mae: number | null;
    /** 1 − SS_res / SS_tot; null when y_true is constant (SS_tot = 0): undefined, not 0 or 1. */
    r2: number | null;
    /** Mean |y − ŷ| / |y| (a fraction) over rows with y ≠ 0; null when every y is 0. */
    mape: number | null;
    /** Rows MAPE skipped because their target is 0. */
    mape_zero_targets: number;
    max_error: number | null;
  };
}

export function regressionMetrics(yTrue: Values, yPred: Values): RegressionResult {
  const n = yTrue.length;
  if (yPred.length !== n) throw new RangeError(`yTrue has ${n} rows, yPred ${yPred.length}`);
  if (n === 0) {
    return { rows: 0, metrics: { rmse: null, mse: null, mae: null, r2: null, mape: null, mape_zero_targets: 0, max_error: null } };
  }
  let mean = 0;
  for (let i = 0; i < n; i++) mean += yTrue[i]!;
  mean /= n;
  let sse = 0;
  let sae = 0;
  let sst = 0;
  let maxErr = 0;
  let ape = 0;
  let nonZero = 0;
  for (let i = 0; i < n; i++) {
    const y = yTrue[i]!;
    const e = y - yPred[i]!;
    const ae = Math.abs(e);
    sse += e * e;
    sae += ae;
    sst += (y - mean) ** 2;
    if (ae > maxErr || Number.isNaN(ae)) maxErr = ae;
    if (y !== 0) {
      ape += ae / Math.abs(y);
      nonZero++;
    }
  }
  const mse = sse / n;
  return {
    rows: n,
    metrics: {
      rmse: Math.sqrt(mse),
      mse,
      mae: sae / n,
      r2: sst === 0 ? null : 1 - sse / sst,
      mape: nonZero === 0 ? null : ape / nonZero,
      mape_zero_targets: n - nonZero,
      max_error: maxErr,
    },
  };
}

/** Equal-width histogram of values (e.g. residuals), for reports. */
export function histogram(values: Values, nBins: number): { edges: number[]; counts: number[] } {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo === Infinity) return { edges: [], counts: [] };
  if (lo === hi) return { edges: [lo, hi], counts: [values.length] };
  const w = (hi - lo) / nBins;
  const counts = new Array<number>(nBins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    counts[Math.min(nBins - 1, Math.floor((v - lo) / w))]! += 1;
  }
  return { edges: Array.from({ length: nBins + 1 }, (_, i) => (i === nBins ? hi : lo + i * w)), counts };
}
