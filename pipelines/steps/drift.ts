import { z } from 'zod';
import { passedOnValue } from '../dsl/passed-on';
import { step } from '../dsl/step';
import { artifactRef } from './artifact-ref';
import { datasetRef } from './dataset';

/**
 * Data drift between a reference and a current dataset version, with Evidently's semantics
 * (/work/shared/notes/mlops-semantics.md, Drift):
 *
 * - each column is cleaned (±inf → NaN, NaN and nulls dropped on both sides), then tested with
 *   the default test for its type and size, or the one asked for:
 *     numeric, more than 5 distinct values: KS (drift if p <= 0.05) when the reference has at most
 *       1000 values, normed Wasserstein (W1 / max(std_ref, 0.001), drift if >= 0.1) above;
 *     categorical, or numeric with at most 5 distinct values: chi-square (p < 0.05) with more than
 *       2 values, two-proportion z-test (p < 0.05) with 1 or 2, when the reference has at most 1000
 *       values; Jensen–Shannon distance (natural log, drift if >= 0.1) above;
 *     PSI (>= 0.1) on request;
 * - the dataset drifts when the share of drifted columns reaches `datasetDriftShare` (0.5);
 * - prediction drift: the same machinery on the prediction column (or on the probabilities:
 *   the positive-class probability of a binary model, the predicted class of a multiclass one),
 *   reported on its own and not counted in the share.
 *
 * This module is imported by workflow code: schemas only.
 */

export const statTestName = z.enum(['ks', 'chisquare', 'z', 'wasserstein', 'jensenshannon', 'psi']);
export type StatTestNameValue = z.infer<typeof statTestName>;

/** The notes' thresholds: p-values for ks/chisquare/z, distances for the others. */
export const DEFAULT_DRIFT_THRESHOLDS: Readonly<Record<StatTestNameValue, number>> = Object.freeze({
  ks: 0.05,
  chisquare: 0.05,
  z: 0.05,
  wasserstein: 0.1,
  jensenshannon: 0.1,
  psi: 0.1,
});

const pValueThreshold = z.number().min(0).max(1);
const distanceThreshold = z.number().nonnegative();

/** Per-test thresholds; a missing one keeps its default. */
export const driftThresholds = z.strictObject({
  ks: pValueThreshold.optional().describe('drift if p <= this (default 0.05)'),
  chisquare: pValueThreshold.optional().describe('drift if p < this (default 0.05)'),
  z: pValueThreshold.optional().describe('drift if p < this (default 0.05)'),
  wasserstein: distanceThreshold.optional().describe('drift if the normed distance >= this (default 0.1)'),
  jensenshannon: distanceThreshold.optional().describe('drift if the distance >= this (default 0.1)'),
  psi: distanceThreshold.optional().describe('drift if PSI >= this (default 0.1)'),
});
export type DriftThresholds = z.infer<typeof driftThresholds>;

const columnName = z.string().min(1).max(256);

/** How drift is decided: tests, thresholds, the dataset share. */
export const driftPolicyShape = {
  thresholds: driftThresholds.optional(),
  /** One test for every column (instead of the default choice). */
  stattest: statTestName.optional(),
  /** A test per column (wins over `stattest`). */
  columnStattests: z.record(columnName, statTestName).optional(),
  /** A threshold per column, whatever its test (wins over `thresholds`). */
  columnThresholds: z.record(columnName, z.number().nonnegative()).optional(),
  /** The dataset drifts when drifted / evaluated columns >= this. */
  datasetDriftShare: z.number().gt(0).max(1).default(0.5),
  /** A reference of at most this many values gets the small-sample tests (KS, chi-square, z). */
  sampleSizeCutoff: z.number().int().nonnegative().default(1000),
};
export const driftPolicy = z.strictObject(driftPolicyShape);
export type DriftPolicy = z.output<typeof driftPolicy>;

export const detectDriftInput = z.strictObject({
  reference: datasetRef,
  current: datasetRef,
  /** Columns to compare; default: every column both datasets have (except the prediction). */
  columns: z.array(columnName).min(1).optional(),
  /** Columns compared as categories even if numeric. */
  categorical: z.array(columnName).optional(),
  /**
   * The model's output: a column (a label or score; a list column of class probabilities), or the
   * probability columns in class order.
   */
  prediction: z.union([columnName, z.array(columnName).min(1)]).optional(),
  /** Compare only the current rows with `column` in [start, end) (what a scoring run scored). */
  currentWindow: passedOnValue(z.object({ column: columnName, start: z.string(), end: z.string() })).optional(),
  ...driftPolicyShape,
});
export type DetectDriftInput = z.input<typeof detectDriftInput>;

export const columnKind = z.enum(['numeric', 'categorical']);

/** One column's verdict. */
export const columnDriftSummary = z.object({
  kind: columnKind,
  /** null when the column could not be compared (see `skipped`). */
  test: statTestName.nullable(),
  /** KS D, chi-square, z, or the distance; null when infinite (a category unseen in the reference, under chi-square) or not computed. */
  statistic: z.number().nullable(),
  /** For ks, chisquare and z. */
  pValue: z.number().min(0).max(1).optional(),
  threshold: z.number().nullable(),
  drift: z.boolean(),
  referenceCount: z.number().int().nonnegative(),
  currentCount: z.number().int().nonnegative(),
  /** Why the column was not compared (no value left on a side, unsupported or mismatched type). */
  skipped: z.string().optional(),
});
export type ColumnDriftSummary = z.infer<typeof columnDriftSummary>;

export const predictionDriftSummary = columnDriftSummary.extend({
  /** The column(s) it was computed from. */
  column: z.string(),
  /** What was compared: the column itself, a class probability, or the predicted class (argmax). */
  source: z.enum(['column', 'probability', 'argmax']),
});
export type PredictionDriftSummary = z.infer<typeof predictionDriftSummary>;

export const detectDriftOutput = z.object({
  datasetDrift: z.boolean(),
  /** Drifted / evaluated columns (0 when none could be evaluated). */
  share: z.number().min(0).max(1),
  /** The share that counts as dataset drift. */
  driftShare: z.number(),
  evaluated: z.number().int().nonnegative(),
  drifted: z.array(z.string()),
  columns: z.record(z.string(), columnDriftSummary),
  prediction: predictionDriftSummary.optional(),
  report: artifactRef,
  html: artifactRef,
});
export type DetectDriftOutput = z.infer<typeof detectDriftOutput>;

export const detectDriftStep = step({
  name: 'detect-drift',
  description: 'compare a current dataset with a reference per column (KS, chi-square, z, Wasserstein, Jensen-Shannon, PSI); JSON and HTML drift reports',
  input: detectDriftInput,
  output: detectDriftOutput,
  queue: 'cpu',
  timeouts: { startToClose: '30m', heartbeat: '30s' },
});
