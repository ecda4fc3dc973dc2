/**
 * From raw scores (margins) to what a model outputs, in JS, exactly as the ONNX head in
 * export/head.ts computes it:
 * - binary: one margin m, p = sigmoid(m), probabilities [1 - p, p];
 * - multiclass: C margins, probabilities = softmax;
 * - label = the class with the highest probability (the first one on a tie, as ArgMax does).
 */

export type Prediction =
  | { kind: 'class'; n: number; classes: number; probabilities: Float64Array; labels: Int32Array }
  | { kind: 'value'; n: number; values: Float64Array };

export function sigmoid(m: number): number {
  return 1 / (1 + Math.exp(-m));
}

/** Margins (n × k, row-major; k = 1 for binary) → probabilities (n × C) and labels. */
export function classHead(margins: Float64Array, n: number, nClasses: number): Prediction {
  const probabilities = new Float64Array(n * nClasses);
  const labels = new Int32Array(n);
  if (nClasses === 2) {
    for (let i = 0; i < n; i++) {
      const p = sigmoid(margins[i]!);
      const q = 1 - p;
      probabilities[2 * i] = q;
      probabilities[2 * i + 1] = p;
      labels[i] = p > q ? 1 : 0;
    }
  } else {
    for (let i = 0; i < n; i++) softmaxRow(margins, i * nClasses, nClasses, probabilities);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let k = 1; k < nClasses; k++) if (probabilities[i * nClasses + k]! > probabilities[i * nClasses + best]!) best = k;
      labels[i] = best;
    }
  }
  return { kind: 'class', n, classes: nClasses, probabilities, labels };
}

export function softmaxRow(m: ArrayLike<number>, off: number, k: number, out: Float64Array, outOff = off): void {
  let max = -Infinity;
  for (let j = 0; j < k; j++) max = Math.max(max, m[off + j]!);
  let sum = 0;
  for (let j = 0; j < k; j++) {
    const e = Math.exp(m[off + j]! - max);
    out[outOff + j] = e;
    sum += e;
  }
  for (let j = 0; j < k; j++) out[outOff + j] = out[outOff + j]! / sum;
}

const EPS = 1e-15;

/** Mean log loss of probabilities (n × C) against class indices. */
export function logLoss(probabilities: Float64Array, y: Int32Array, nClasses: number): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s -= Math.log(Math.min(1 - EPS, Math.max(EPS, probabilities[i * nClasses + y[i]!]!)));
  return y.length ? s / y.length : 0;
}

export function accuracy(labels: Int32Array, y: Int32Array): number {
  let ok = 0;
  for (let i = 0; i < y.length; i++) if (labels[i] === y[i]) ok++;
  return y.length ? ok / y.length : 0;
}

export function meanSquaredError(pred: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (pred[i]! - y[i]!) ** 2;
  return y.length ? s / y.length : 0;
}

export function r2Score(pred: Float64Array, y: Float64Array): number {
  let mean = 0;
  for (let i = 0; i < y.length; i++) mean += y[i]!;
  mean /= y.length || 1;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < y.length; i++) {
    ssRes += (pred[i]! - y[i]!) ** 2;
    ssTot += (y[i]! - mean) ** 2;
  }
  return ssTot > 0 ? 1 - ssRes / ssTot : 0;
}
