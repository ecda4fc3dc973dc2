import { MISSING_STRING, numericStats, vocabulary, type FeatureColumn, type RawTable } from './design-matrix';

/**
 * Preprocessing of linear models, fitted on the training rows and exported into the ONNX graph:
 * - numeric: mean imputation, then standardisation (x - mean) / std (std 0 → scale 1);
 * - categorical: one-hot over the vocabulary; when the training rows had missing values, '' is
 *   a category of its own (missing gets its own weight); unknown values encode as all zeros.
 * Constants are float32, as stored in the ONNX file, so the trainer computes with exactly them.
 * The design matrix is [numeric block in feature order | one-hot blocks in feature order].
 */

export interface LinearPreprocess {
  numeric: { column: string; input: string; impute: number; offset: number; scale: number }[];
  categorical: { column: string; input: string; vocab: string[] }[];
  dim: number;
}

export function fitLinearPreprocess(raw: RawTable, features: readonly FeatureColumn[], opts: { maxCategories: number }): LinearPreprocess {
  const pre: LinearPreprocess = { numeric: [], categorical: [], dim: 0 };
  for (const f of features) {
    if (f.kind !== 'numeric') continue;
    const s = numericStats(raw.numeric.get(f.column)!);
    const mean = Math.fround(s.mean);
    pre.numeric.push({ column: f.column, input: f.input, impute: mean, offset: mean, scale: Math.fround(s.std > 1e-12 ? 1 / s.std : 1) });
  }
  for (const f of features) {
    if (f.kind !== 'categorical') continue;
    const v = vocabulary(raw.strings.get(f.column)!, opts.maxCategories);
    pre.categorical.push({ column: f.column, input: f.input, vocab: v.missing > 0 ? [...v.vocab, MISSING_STRING] : v.vocab });
  }
  pre.dim = pre.numeric.length + pre.categorical.reduce((s, c) => s + c.vocab.length, 0);
  return pre;
}

/** Row-major n × dim design matrix. */
export function designMatrix(raw: RawTable, pre: LinearPreprocess): Float64Array {
  const n = raw.n;
  const d = pre.dim;
  const X = new Float64Array(n * d);
  pre.numeric.forEach((c, j) => {
    const x = raw.numeric.get(c.column)!;
    for (let i = 0; i < n; i++) {
      const v = x[i]!;
      X[i * d + j] = ((Number.isNaN(v) ? c.impute : v) - c.offset) * c.scale;
    }
  });
  let off = pre.numeric.length;
  for (const c of pre.categorical) {
    const index = new Map(c.vocab.map((v, k) => [v, k]));
    const s = raw.strings.get(c.column)!;
    for (let i = 0; i < n; i++) {
      const k = index.get(s[i]!);
      if (k !== undefined) X[i * d + off + k] = 1;
    }
    off += c.vocab.length;
  }
  return X;
}

/** Margins n × k of coefficients (k × dim, row-major) and intercepts (k). */
export function linearMargins(X: Float64Array, n: number, dim: number, coef: Float64Array, intercept: Float64Array): Float64Array {
  const k = intercept.length;
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      let s = intercept[c]!;
      for (let j = 0; j < dim; j++) s += coef[c * dim + j]! * X[i * dim + j]!;
      out[i * k + c] = s;
    }
  }
  return out;
}
