/**
 * Classification metrics over typed arrays: pure functions, no I/O. Definitions and the handling
 * of undefined values are documented in pipelines/steps/evaluation.ts; in short, they follow
 * scikit-learn with `zero_division=np.nan`: an undefined ratio is `null` and is left out of
 * macro and weighted averages.
 *
 * Conventions: classes are indices 0..C−1 (in the model's `classes` order); probabilities are
 * row-major, N×C; binary labels for curves are 1 (positive) and 0.
 */

export type Scores = Float32Array | Float64Array | readonly number[];
export type Probabilities = Float32Array | Float64Array;

/** Probability clipping for log loss (scikit-learn's historical default). */
export const LOG_LOSS_EPS = 1e-15;

const ratio = (num: number, den: number): number | null => (den === 0 ? null : num / den);

// ---------------------------------------------------------------------------------------------
// Confusion matrix and per-class precision / recall / F1

/** counts[t][p]: rows are true classes, columns predicted classes. */
export function confusionMatrix(yTrue: Int32Array, yPred: Int32Array, nClasses: number): number[][] {
  if (yTrue.length !== yPred.length) throw new RangeError(`yTrue has ${yTrue.length} rows, yPred ${yPred.length}`);
  const flat = new Float64Array(nClasses * nClasses);
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i]!;
    const p = yPred[i]!;
    if (t < 0 || t >= nClasses || p < 0 || p >= nClasses) throw new RangeError(`row ${i}: class index out of range (true ${t}, predicted ${p}, ${nClasses} classes)`);
    flat[t * nClasses + p]! += 1;
  }
  return Array.from({ length: nClasses }, (_, t) => Array.from(flat.subarray(t * nClasses, (t + 1) * nClasses)));
}

export interface ClassStats {
  /** Rows whose true class is this one (TP + FN). */
  support: number;
  /** Rows predicted as this class (TP + FP). */
  predicted: number;
  tp: number;
  fp: number;
  fn: number;
  /** TP / (TP + FP); null when the class is never predicted. */
  precision: number | null;
  /** TP / (TP + FN); null when the class is absent from y_true. */
  recall: number | null;
  /** 2TP / (2TP + FP + FN); null when the class is neither present nor predicted. */
  f1: number | null;
}

export function classStats(cm: number[][]): ClassStats[] {
  const n = cm.length;
  return cm.map((row, k) => {
    const tp = row[k]!;
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let t = 0; t < n; t++) predicted += cm[t]![k]!;
    const fp = predicted - tp;
    const fn = support - tp;
    return { support, predicted, tp, fp, fn, precision: ratio(tp, predicted), recall: ratio(tp, support), f1: ratio(2 * tp, 2 * tp + fp + fn) };
  });
}

/** Mean over the defined values (null when none is). */
export function nanMean(values: readonly (number | null)[]): number | null {
  let s = 0;
  let n = 0;
  for (const v of values) {
    if (v === null || Number.isNaN(v)) continue;
    s += v;
    n++;
  }
  return n === 0 ? null : s / n;
}

/** Weighted mean over the defined values, weights renormalised over them (null when their weights sum to 0). */
export function nanWeightedMean(values: readonly (number | null)[], weights: readonly number[]): number | null {
  let s = 0;
  let w = 0;
  values.forEach((v, i) => {
    if (v === null || Number.isNaN(v)) return;
    s += v * weights[i]!;
    w += weights[i]!;
  });
  return w === 0 ? null : s / w;
}

export function accuracy(yTrue: Int32Array, yPred: Int32Array): number | null {
  let ok = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) ok++;
  return ratio(ok, yTrue.length);
}

// ---------------------------------------------------------------------------------------------
// Threshold curves (binary: labels 1 = positive, 0 = negative)

export interface ThresholdCounts {
  /** Distinct scores, descending. */
  thresholds: Float64Array;
  /** Cumulative true / false positives when predicting positive for score >= thresholds[i]. */
  tps: Float64Array;
  fps: Float64Array;
  positives: number;
  negatives: number;
}

/**
 * The counts behind ROC and PR curves: one point per distinct score, so tied scores move together.
 * Positives' and negatives' scores are sorted apart (native numeric sort, no comparator) and
 * merged from the top. Scores must not be NaN.
 */
export function thresholdCounts(labels: Uint8Array, scores: Scores): ThresholdCounts {
  if (labels.length !== scores.length) throw new RangeError(`labels has ${labels.length} rows, scores ${scores.length}`);
  let P = 0;
  for (let i = 0; i < labels.length; i++) {
    if (Number.isNaN(scores[i]!)) throw new RangeError(`score ${i} is NaN`);
    if (labels[i]) P++;
  }
  const pos = new Float64Array(P);
  const neg = new Float64Array(labels.length - P);
  for (let i = 0, a = 0, b = 0; i < labels.length; i++) {
    if (labels[i]) pos[a++] = scores[i]!;
    else neg[b++] = scores[i]!;
  }
  pos.sort();
  neg.sort();
  const n = labels.length;
  const th = new Float64Array(n);
  const tps = new Float64Array(n);
  const fps = new Float64Array(n);
  let m = 0;
  let i = pos.length - 1;
  let j = neg.length - 1;
  let tp = 0;
  let fp = 0;
  while (i >= 0 || j >= 0) {
    const t = i < 0 ? neg[j]! : j < 0 ? pos[i]! : Math.max(pos[i]!, neg[j]!);
    while (i >= 0 && pos[i] === t) {
      tp++;
      i--;
    }
    while (j >= 0 && neg[j] === t) {
      fp++;
      j--;
    }
    th[m] = t;
    tps[m] = tp;
    fps[m] = fp;
    m++;
  }
  return { thresholds: th.slice(0, m), tps: tps.slice(0, m), fps: fps.slice(0, m), positives: P, negatives: neg.length };
}

export interface RocCurve {
  /** Starts at (0, 0) with threshold +Infinity, ends at (1, 1). */
  fpr: Float64Array;
  tpr: Float64Array;
  thresholds: Float64Array;
}

/** null when y_true has no positive or no negative (the curve is undefined). */
export function rocCurve(counts: ThresholdCounts): RocCurve | null {
  const { positives: P, negatives: N } = counts;
  if (P === 0 || N === 0) return null;
  const m = counts.thresholds.length;
  const fpr = new Float64Array(m + 1);
  const tpr = new Float64Array(m + 1);
  const thresholds = new Float64Array(m + 1);
  thresholds[0] = Infinity;
  for (let i = 0; i < m; i++) {
    fpr[i + 1] = counts.fps[i]! / N;
    tpr[i + 1] = counts.tps[i]! / P;
    thresholds[i + 1] = counts.thresholds[i]!;
  }
  return { fpr, tpr, thresholds };
}

/** Trapezoidal area under a curve given as increasing x. */
export function trapezoid(x: Float64Array, y: Float64Array): number {
  let a = 0;
  for (let i = 1; i < x.length; i++) a += ((x[i]! - x[i - 1]!) * (y[i]! + y[i - 1]!)) / 2;
  return a;
}

/**
 * ROC AUC: the trapezoidal area over distinct thresholds, which equals the probability that a
 * random positive scores above a random negative, ties counting 1/2. null when undefined.
 */
export function rocAuc(labels: Uint8Array, scores: Scores): number | null {
  const curve = rocCurve(thresholdCounts(labels, scores));
  return curve ? trapezoid(curve.fpr, curve.tpr) : null;
}

export interface PrCurve {
  /** By descending threshold, then the conventional end point (recall 0, precision 1) first, as drawn from recall 0 up. */
  recall: Float64Array;
  precision: Float64Array;
  thresholds: Float64Array;
}

/** Precision/recall at each distinct threshold; null when y_true has no positive. */
export function prCurve(counts: ThresholdCounts): PrCurve | null {
  if (counts.positives === 0) return null;
  const m = counts.thresholds.length;
  const recall = new Float64Array(m + 1);
  const precision = new Float64Array(m + 1);
  const thresholds = new Float64Array(m + 1);
  recall[0] = 0;
  precision[0] = 1;
  thresholds[0] = Infinity;
  for (let i = 0; i < m; i++) {
    const tp = counts.tps[i]!;
    recall[i + 1] = tp / counts.positives;
    precision[i + 1] = tp / (tp + counts.fps[i]!);
    thresholds[i + 1] = counts.thresholds[i]!;
  }
  return { recall, precision, thresholds };
}

/** Average precision: Σ (Rₙ − Rₙ₋₁)·Pₙ over distinct thresholds (scikit-learn's; no interpolation). */
export function averagePrecisionFromCounts(counts: ThresholdCounts): number | null {
  if (counts.positives === 0) return null;
  let ap = 0;
  let prevRecall = 0;
  for (let i = 0; i < counts.thresholds.length; i++) {
    const tp = counts.tps[i]!;
    const recall = tp / counts.positives;
    ap += (recall - prevRecall) * (tp / (tp + counts.fps[i]!));
    prevRecall = recall;
  }
  return ap;
}

export function averagePrecision(labels: Uint8Array, scores: Scores): number | null {
  return averagePrecisionFromCounts(thresholdCounts(labels, scores));
}

// ---------------------------------------------------------------------------------------------
// Probability metrics

/** Mean −ln p(true class), p clipped to [eps, 1 − eps]. null for no rows. */
export function logLoss(yTrue: Int32Array, proba: Probabilities, nClasses: number, eps = LOG_LOSS_EPS): number | null {
  if (yTrue.length === 0) return null;
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const p = proba[i * nClasses + yTrue[i]!]!;
    s -= Math.log(Math.min(1 - eps, Math.max(eps, p)));
  }
  return s / yTrue.length;
}

/** Binary Brier score: mean (p(positive) − y)². */
export function brierScore(labels: Uint8Array, positiveProba: Scores): number | null {
  if (labels.length === 0) return null;
  let s = 0;
  for (let i = 0; i < labels.length; i++) s += (positiveProba[i]! - labels[i]!) ** 2;
  return s / labels.length;
}

export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean predicted probability (or confidence) in the bin; null when empty. */
  meanPredicted: number | null;
  /** Share of positives (or of correct predictions) in the bin; null when empty. */
  observed: number | null;
}

export interface Calibration {
  bins: CalibrationBin[];
  /** Expected calibration error: Σ (n_b / N)·|observed_b − meanPredicted_b|; null for no rows. */
  ece: number | null;
}

/** The equal-width bin of p in [0, 1] (n bins, the last one closed), robust to float rounding at the edges. */
export function binOf(p: number, n: number): number {
  let b = Math.floor(p * n);
  if (b > 0 && p < b / n) b--;
  else if (b < n - 1 && p >= (b + 1) / n) b++;
  return Math.min(n - 1, Math.max(0, b));
}

/** Reliability bins of `predicted` (in [0, 1]) against `observed` (1/0). */
export function calibration(predicted: Scores, observed: Uint8Array, nBins: number): Calibration {
  const count = new Float64Array(nBins);
  const sumP = new Float64Array(nBins);
  const sumO = new Float64Array(nBins);
  for (let i = 0; i < observed.length; i++) {
    const p = predicted[i]!;
    const b = binOf(p, nBins);
    count[b]! += 1;
    sumP[b]! += p;
    sumO[b]! += observed[i]!;
  }
  const N = observed.length;
  let ece = 0;
  const bins: CalibrationBin[] = [];
  for (let b = 0; b < nBins; b++) {
    const c = count[b]!;
    const meanPredicted = c ? sumP[b]! / c : null;
    const obs = c ? sumO[b]! / c : null;
    if (c) ece += (c / N) * Math.abs(obs! - meanPredicted!);
    bins.push({ lower: b / nBins, upper: (b + 1) / nBins, count: c, meanPredicted, observed: obs });
  }
  return { bins, ece: N ? ece : null };
}

// ---------------------------------------------------------------------------------------------
// Everything at once

export interface ClassificationData {
  /** True class index per row. */
  yTrue: Int32Array;
  /** Predicted class index per row (the model's label output, else the argmax). */
  yPred: Int32Array;
  /** N×C probabilities in class order; null when the model gives none. */
  proba: Probabilities | null;
  nClasses: number;
}

export interface PerClassMetrics extends ClassStats {
  /** One-vs-rest ROC AUC and average precision of this class's probability. */
  rocAuc: number | null;
  averagePrecision: number | null;
}

export interface CurveSet {
  /** Binary: the positive class only; multiclass: one per class (one-vs-rest). null curves are undefined. */
  classIndex: number;
  roc: RocCurve | null;
  pr: PrCurve | null;
}

export interface ClassificationResult {
  rows: number;
  /** Flat metrics (names as in METRIC_DIRECTIONS). */
  metrics: Record<string, number | null>;
  perClass: PerClassMetrics[];
  confusionMatrix: number[][];
  curves: CurveSet[];
  calibration: (Calibration & { kind: 'positive-class' | 'top-label' }) | null;
}

/** Argmax per row (first maximum wins). */
export function argmax(proba: Probabilities, nClasses: number): Int32Array {
  const n = proba.length / nClasses;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = proba[i * nClasses]!;
    for (let k = 1; k < nClasses; k++) {
      const v = proba[i * nClasses + k]!;
      if (v > bv) {
        bv = v;
        best = k;
      }
    }
    out[i] = best;
  }
  return out;
}

function column(proba: Probabilities, nClasses: number, k: number): Float64Array {
  const n = proba.length / nClasses;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = proba[i * nClasses + k]!;
  return out;
}

function oneVsRest(yTrue: Int32Array, k: number): Uint8Array {
  const out = new Uint8Array(yTrue.length);
  for (let i = 0; i < yTrue.length; i++) out[i] = yTrue[i] === k ? 1 : 0;
  return out;
}

export function classificationMetrics(d: ClassificationData, opts: { calibrationBins?: number; curves?: boolean } = {}): ClassificationResult {
  const { yTrue, yPred, proba, nClasses: C } = d;
  if (C < 2) throw new RangeError(`classification needs at least 2 classes, got ${C}`);
  if (proba && proba.length !== yTrue.length * C) throw new RangeError(`probabilities hold ${proba.length} values, expected ${yTrue.length}×${C}`);
  const binary = C === 2;
  const cm = confusionMatrix(yTrue, yPred, C);
  const stats = classStats(cm);
  const supports = stats.map((s) => s.support);
  const perClass: PerClassMetrics[] = stats.map((s) => ({ ...s, rocAuc: null, averagePrecision: null }));
  const curves: CurveSet[] = [];

  const metrics: Record<string, number | null> = { accuracy: accuracy(yTrue, yPred) };
  if (binary) {
    const pos = stats[1]!;
    metrics.precision = pos.precision;
    metrics.recall = pos.recall;
    metrics.f1 = pos.f1;
  }
  for (const m of ['precision', 'recall', 'f1'] as const) {
    metrics[`${m}_macro`] = nanMean(stats.map((s) => s[m]));
    metrics[`${m}_weighted`] = nanWeightedMean(stats.map((s) => s[m]), supports);
  }

  let cal: ClassificationResult['calibration'] = null;
  if (proba) {
    for (let k = 0; k < C; k++) {
      const counts = thresholdCounts(oneVsRest(yTrue, k), column(proba, C, k));
      const roc = rocCurve(counts);
      const pc = perClass[k]!;
      pc.rocAuc = roc ? trapezoid(roc.fpr, roc.tpr) : null;
      pc.averagePrecision = averagePrecisionFromCounts(counts);
      // Binary: the positive class's curves are the model's; multiclass: one-vs-rest per class.
      if (opts.curves && (!binary || k === 1)) curves.push({ classIndex: k, roc, pr: prCurve(counts) });
    }
    if (binary) {
      metrics.roc_auc = perClass[1]!.rocAuc;
      metrics.pr_auc = perClass[1]!.averagePrecision;
    } else {
      metrics.roc_auc = nanMean(perClass.map((p) => p.rocAuc));
      metrics.pr_auc = nanMean(perClass.map((p) => p.averagePrecision));
    }
    metrics.log_loss = logLoss(yTrue, proba, C);
    const bins = opts.calibrationBins ?? 10;
    if (binary) {
      const positive = column(proba, C, 1);
      const labels = oneVsRest(yTrue, 1);
      metrics.brier = brierScore(labels, positive);
      cal = { kind: 'positive-class', ...calibration(positive, labels, bins) };
    } else {
      const n = yTrue.length;
      const conf = new Float64Array(n);
      const correct = new Uint8Array(n);
      const top = argmax(proba, C);
      for (let i = 0; i < n; i++) {
        conf[i] = proba[i * C + top[i]!]!;
        correct[i] = top[i] === yTrue[i] ? 1 : 0;
      }
      cal = { kind: 'top-label', ...calibration(conf, correct, bins) };
    }
    metrics.ece = cal.ece;
  }
  return { rows: yTrue.length, metrics, perClass, confusionMatrix: cm, curves, calibration: cal };
}
