import { z } from 'zod';
import { passedOnValue } from '../dsl/passed-on';
import { step } from '../dsl/step';
import { artifactRef } from './artifact-ref';
import { datasetRef } from './dataset';
import { modelRef, modelTask } from './model';

/**
 * Model evaluation: a model (ONNX artifact + signature) scored on a holdout dataset with
 * onnxruntime, metrics computed over the predictions, reports written as JSON and HTML.
 *
 * Metric definitions (activities/evaluation/metrics/*, scikit-learn's where one exists):
 * - Classification, from the model's own `label` output (argmax of the probabilities when it has
 *   none). Binary: the positive class is `classes[1]`; precision, recall, F1 of that class.
 *   Multiclass: macro (unweighted mean over classes) and weighted (by support) averages.
 * - Undefined ratios are `null`, never 0 (scikit-learn's `zero_division=np.nan`):
 *   precision of a class never predicted (TP+FP = 0), recall of a class absent from y_true
 *   (TP+FN = 0), F1 = 2TP/(2TP+FP+FN) of a class neither present nor predicted, ROC AUC and
 *   average precision of a class without positives (or, for AUC, without negatives). A `null`
 *   is left out of macro and weighted averages (the average is over the classes where the metric
 *   is defined; null when it is defined for none). So a class absent from the holdout does not
 *   drag macro recall down to 0; a class predicted but absent still counts (precision 0, F1 0).
 * - ROC AUC: area under the ROC curve by the trapezoidal rule over distinct thresholds, so tied
 *   scores count 1/2 (the Mann-Whitney statistic). Multiclass: one-vs-rest, macro average.
 * - PR AUC is average precision: Σ (Rₙ − Rₙ₋₁)·Pₙ over distinct thresholds (no interpolation).
 *   Multiclass: one-vs-rest, macro.
 * - Log loss: mean −ln p(true class), p clipped to [1e-15, 1 − 1e-15].
 * - Calibration: equal-width bins over [0, 1] (last bin closed). Binary: reliability of
 *   p(positive) against the positive rate; multiclass: top-label confidence against accuracy.
 *   ECE = Σ (n_b / N)·|observed_b − mean predicted_b|.
 * - Regression: RMSE, MSE, MAE, R² (null when y_true is constant: undefined), max error, MAPE as
 *   a fraction (not ×100) over rows whose target is not 0; `mape_zero_targets` says how many rows
 *   it skipped (MAPE is null when all are 0).
 * - Rows whose target is null are left out (counted in `skippedRows`). A target label the model
 *   does not know (not in `classes`) fails the step: no metric is meaningful for it.
 *
 * This module is imported by workflow code: schemas and plain data only.
 */

/** Metric name → value; `null` = undefined on this data (see above). */
export const metricSet = z.record(z.string(), z.number().nullable());
export type MetricSet = z.infer<typeof metricSet>;

export type MetricDirection = 'higher' | 'lower';

/** Which way is better, for every metric the evaluation reports (counts have none). */
export const METRIC_DIRECTIONS: Readonly<Record<string, MetricDirection>> = Object.freeze({
  accuracy: 'higher',
  precision: 'higher',
  recall: 'higher',
  f1: 'higher',
  precision_macro: 'higher',
  recall_macro: 'higher',
  f1_macro: 'higher',
  precision_weighted: 'higher',
  recall_weighted: 'higher',
  f1_weighted: 'higher',
  roc_auc: 'higher',
  pr_auc: 'higher',
  log_loss: 'lower',
  brier: 'lower',
  ece: 'lower',
  rmse: 'lower',
  mse: 'lower',
  mae: 'lower',
  r2: 'higher',
  mape: 'lower',
  max_error: 'lower',
});

export function metricDirection(metric: string): MetricDirection | undefined {
  return Object.prototype.hasOwnProperty.call(METRIC_DIRECTIONS, metric) ? METRIC_DIRECTIONS[metric] : undefined;
}

export const sliceResult = z.object({
  /** The slice column's value as text; null for missing values. */
  value: z.string().nullable(),
  rows: z.number().int().nonnegative(),
  metrics: metricSet,
});

export const sliceSet = z.object({
  column: z.string(),
  slices: z.array(sliceResult),
  /** Values beyond `maxSlices` (the smallest slices) are not reported one by one. */
  omittedSlices: z.number().int().nonnegative(),
  omittedRows: z.number().int().nonnegative(),
});
export type SliceSet = z.infer<typeof sliceSet>;

/** What an evaluation found: small enough for workflow history (no curves, no per-row data). */
export const evaluationSummary = passedOnValue(z.object({
  task: modelTask,
  model: z.object({
    uri: z.string(),
    sha256: z.string(),
    registered: z.object({ name: z.string(), version: z.number().int().positive() }).optional(),
  }),
  dataset: z.object({ name: z.string(), version: z.number().int().positive(), uri: z.string(), sha256: z.string() }),
  target: z.string(),
  /** Rows scored and counted in the metrics. */
  rows: z.number().int().nonnegative(),
  /** Rows left out because their target is null. */
  skippedRows: z.number().int().nonnegative(),
  metrics: metricSet,
  slices: z.array(sliceSet),
}));
export type EvaluationSummary = z.infer<typeof evaluationSummary>;

const evaluationOptions = {
  dataset: datasetRef,
  /** The label column; default: the signature's `target`. */
  target: z.string().min(1).optional(),
  /** Categorical columns to report metrics per value of (strings, categories, booleans, integers). */
  sliceBy: z.array(z.string().min(1)).max(10).default([]),
  /**
   * The largest slices reported per column; the rest are counted as omitted. Bounded so that a
   * summary (which travels through workflow history, twice for compare-models) stays well under
   * Temporal's 2 MB payload limit: ≤ 10 columns × 100 slices × ~0.4 kB.
   */
  maxSlices: z.number().int().positive().max(100).default(20),
  calibrationBins: z.number().int().min(2).max(100).default(10),
  /** Rows per onnxruntime call: bounds the memory of a batch's input and output tensors. */
  batchSize: z.number().int().positive().max(1_048_576).default(65_536),
  /** Shown at the top of the HTML report. */
  title: z.string().max(200).optional(),
};

export const evaluateModelInput = z.strictObject({ model: modelRef, ...evaluationOptions });
export type EvaluateModelInput = z.infer<typeof evaluateModelInput>;

export const evaluateModelOutput = evaluationSummary.extend({
  /** The full report (curves, confusion matrix, calibration, per-class metrics) as JSON. */
  report: artifactRef,
  /** The same as a self-contained HTML page (inline SVG charts). */
  html: artifactRef,
});
export type EvaluateModelOutput = z.infer<typeof evaluateModelOutput>;

export const evaluateModelStep = step({
  name: 'evaluate-model',
  description: 'score an ONNX model on a holdout dataset; metrics (overall and per slice), JSON and HTML reports',
  input: evaluateModelInput,
  output: evaluateModelOutput,
  queue: 'cpu',
  timeouts: { startToClose: '2h', heartbeat: '30s' },
});

export const metricDelta = z.object({
  challenger: z.number().nullable(),
  champion: z.number().nullable(),
  /** challenger − champion; null when either is. */
  delta: z.number().nullable(),
  direction: z.enum(['higher', 'lower']).nullable(),
  /** Which model is better on this metric; null when unknown (no direction, or a value missing). */
  better: z.enum(['challenger', 'champion', 'tie']).nullable(),
});
export type MetricDelta = z.infer<typeof metricDelta>;

export const compareModelsInput = z.strictObject({
  challenger: modelRef,
  /** The current champion; absent or null when there is none yet (the challenger is then evaluated alone). */
  champion: modelRef.nullish(),
  ...evaluationOptions,
});
export type CompareModelsInput = z.infer<typeof compareModelsInput>;

export const compareModelsOutput = z.object({
  challenger: evaluationSummary,
  champion: evaluationSummary.nullable(),
  /** Per metric both models report (empty without a champion). */
  deltas: z.record(z.string(), metricDelta),
  report: artifactRef,
  html: artifactRef,
});
export type CompareModelsOutput = z.infer<typeof compareModelsOutput>;

export const compareModelsStep = step({
  name: 'compare-models',
  description: 'champion/challenger: score both models on the same holdout; both metric sets, the deltas, JSON and HTML reports',
  input: compareModelsInput,
  output: compareModelsOutput,
  queue: 'cpu',
  timeouts: { startToClose: '4h', heartbeat: '30s' },
});
