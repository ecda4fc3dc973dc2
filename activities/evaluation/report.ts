import type { EvaluationSummary, MetricDelta, MetricSet, SliceSet } from '../../pipelines/steps/evaluation';
import { metricDirection } from '../../pipelines/steps/evaluation';
import type { ModelTask } from '../../pipelines/steps/model';
import { classificationMetrics, type Calibration, type PrCurve, type RocCurve } from './metrics/classification';
import { histogram, regressionMetrics } from './metrics/regression';
import { groupSlices, perSlice, take } from './metrics/slices';

/**
 * The evaluation report: everything computed from a model's predictions on a holdout, as plain
 * JSON. Pure: typed arrays in, report out. It holds no timestamps or run ids, so the same model
 * and data give the same bytes, hence the same content-addressed artifact.
 */

export const EVALUATION_REPORT_FORMAT = 'sluice.evaluation-report/1';
export const COMPARISON_REPORT_FORMAT = 'sluice.model-comparison/1';

/** Curves in reports keep at most this many points (metrics use the full curves). */
export const MAX_CURVE_POINTS = 500;
/** Regression reports keep this many (actual, predicted) pairs for the scatter plot. */
export const MAX_SCATTER_POINTS = 1000;

export interface CurvePoints {
  x: number[];
  y: number[];
  /** Score threshold per point; null for the +∞ start point. */
  thresholds: (number | null)[];
}

export interface ClassReport {
  class: string;
  support: number;
  predicted: number;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  rocAuc: number | null;
  averagePrecision: number | null;
}

export interface EvaluationReport {
  format: typeof EVALUATION_REPORT_FORMAT;
  title?: string;
  task: ModelTask;
  model: EvaluationSummary['model'];
  dataset: EvaluationSummary['dataset'] & { rows: number };
  target: string;
  rows: number;
  skippedRows: number;
  /** What a reader should know to interpret the numbers (undefined metrics, skipped rows). */
  notes: string[];
  metrics: MetricSet;
  classification?: {
    classes: string[];
    /** Binary only: classes[1]. */
    positiveClass?: string;
    perClass: ClassReport[];
    /** Rows: true class, columns: predicted class, in `classes` order. */
    confusionMatrix: number[][];
    /** ROC (x = FPR, y = TPR): binary, the positive class; multiclass, one per class (one-vs-rest). */
    roc: { class: string; auc: number | null; points: CurvePoints | null }[];
    /** PR (x = recall, y = precision), same classes; `prevalence` is the no-skill precision. */
    pr: { class: string; averagePrecision: number | null; prevalence: number; points: CurvePoints | null }[];
    calibration: (Calibration & { kind: 'positive-class' | 'top-label' }) | null;
  };
  regression?: {
    residuals: { edges: number[]; counts: number[] };
    /** Every k-th row's (actual, predicted), at most MAX_SCATTER_POINTS. */
    sample: { actual: number[]; predicted: number[] };
  };
  slices: SliceSet[];
}

export interface ComparisonReport {
  format: typeof COMPARISON_REPORT_FORMAT;
  title?: string;
  challenger: EvaluationReport;
  champion: EvaluationReport | null;
  deltas: Record<string, MetricDelta>;
}

/** A finite number, else null (NaN and ±∞ are not JSON). */
export const finite = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function cleanMetrics(m: Record<string, number | null>): MetricSet {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, finite(v)]));
}

/** Evenly spaced indices (first and last kept) of a curve of n points, at most `max`. */
function sampleIndices(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  for (let j = 0; j < max; j++) out.push(Math.round((j * (n - 1)) / (max - 1)));
  return [...new Set(out)];
}

function points(x: Float64Array, y: Float64Array, thresholds: Float64Array, max = MAX_CURVE_POINTS): CurvePoints {
  const idx = sampleIndices(x.length, max);
  return { x: idx.map((i) => x[i]!), y: idx.map((i) => y[i]!), thresholds: idx.map((i) => finite(thresholds[i]!)) };
}

const rocPoints = (c: RocCurve | null) => (c ? points(c.fpr, c.tpr, c.thresholds) : null);
const prPoints = (c: PrCurve | null) => (c ? points(c.recall, c.precision, c.thresholds) : null);

export interface ReportInput {
  task: ModelTask;
  model: EvaluationSummary['model'];
  dataset: EvaluationSummary['dataset'] & { rows: number };
  target: string;
  title?: string;
  /** Rows left out before scoring metrics (null target). */
  skippedRows: number;
  classes: readonly (string | number)[];
  /** Kept rows only. Classification: */
  yTrue?: Int32Array;
  yPred?: Int32Array;
  proba?: Float32Array | null;
  /** Regression: */
  actual?: Float64Array;
  predicted?: Float64Array;
  /** Per slice column, the kept rows' values as text (null = missing). */
  sliceValues: { column: string; values: (string | null)[] }[];
  maxSlices: number;
  calibrationBins: number;
  /** Called between phases (overall metrics, each slice), e.g. to heartbeat during long computations. */
  onPhase?: (phase: string) => void;
}

export function buildReport(a: ReportInput): EvaluationReport {
  const notes: string[] = [];
  if (a.skippedRows) notes.push(`${a.skippedRows} row(s) without a target value were left out.`);
  const kept = a.task === 'regression' ? a.actual!.length : a.yTrue!.length;
  if (kept === 0) notes.push('No row to evaluate: every metric is undefined (null).');
  const base = {
    format: EVALUATION_REPORT_FORMAT,
    ...(a.title ? { title: a.title } : {}),
    task: a.task,
    model: a.model,
    dataset: a.dataset,
    target: a.target,
    skippedRows: a.skippedRows,
  } as const;

  if (a.task === 'regression') {
    const actual = a.actual!;
    const predicted = a.predicted!;
    a.onPhase?.('metrics');
    const r = regressionMetrics(actual, predicted);
    if (r.metrics.mape_zero_targets) {
      notes.push(`MAPE skipped ${r.metrics.mape_zero_targets} row(s) whose target is 0 (their percentage error is undefined).`);
    }
    if (r.metrics.r2 === null && r.rows) notes.push('R² is undefined (null): the target is constant on this holdout.');
    const residuals = new Float64Array(actual.length);
    for (let i = 0; i < actual.length; i++) residuals[i] = actual[i]! - predicted[i]!;
    const step = Math.max(1, Math.ceil(actual.length / MAX_SCATTER_POINTS));
    const sample = { actual: [] as number[], predicted: [] as number[] };
    for (let i = 0; i < actual.length; i += step) {
      if (!Number.isFinite(actual[i]!) || !Number.isFinite(predicted[i]!)) continue;
      sample.actual.push(actual[i]!);
      sample.predicted.push(predicted[i]!);
    }
    const slices = a.sliceValues.map(({ column, values }) => {
      const groups = groupSlices(values, a.maxSlices);
      return {
        column,
        slices: perSlice(groups, (idx) => {
          a.onPhase?.(`slice ${column}`);
          return cleanMetrics(regressionMetrics(take(actual, idx), take(predicted, idx)).metrics);
        }).map((s) => ({ value: s.value, rows: s.rows, metrics: s.result })),
        omittedSlices: groups.omittedSlices,
        omittedRows: groups.omittedRows,
      };
    });
    noteOmitted(notes, slices);
    return {
      ...base,
      rows: r.rows,
      notes,
      metrics: cleanMetrics(r.metrics),
      regression: { residuals: histogram(residuals, 30), sample },
      slices,
    };
  }

  const yTrue = a.yTrue!;
  const yPred = a.yPred!;
  const proba = a.proba ?? null;
  const C = a.classes.length;
  const names = a.classes.map(String);
  a.onPhase?.('metrics');
  const r = classificationMetrics({ yTrue, yPred, proba, nClasses: C }, { curves: true, calibrationBins: a.calibrationBins });
  if (a.task === 'binary') notes.push(`Positive class: "${names[1]}" (classes[1]); precision, recall, F1, ROC AUC and PR AUC are about it.`);
  const absent = r.perClass.flatMap((p, k) => (p.support === 0 ? [names[k]!] : []));
  const unpredicted = r.perClass.flatMap((p, k) => (p.predicted === 0 && p.support > 0 ? [names[k]!] : []));
  if (absent.length) {
    notes.push(
      `Class(es) absent from the holdout: ${absent.map((c) => `"${c}"`).join(', ')}. Their recall, ROC AUC and average precision are undefined (null) and left out of macro and weighted averages.`,
    );
  }
  if (unpredicted.length) {
    notes.push(`Class(es) never predicted: ${unpredicted.map((c) => `"${c}"`).join(', ')}. Their precision is undefined (null) and left out of the averages; their F1 is 0.`);
  }
  if (!proba) notes.push('The model gives no probabilities: ROC AUC, PR AUC, log loss and calibration are not reported.');
  const prevalence = (k: number) => (yTrue.length ? r.perClass[k]!.support / yTrue.length : 0);
  const slices = a.sliceValues.map(({ column, values }) => {
    const groups = groupSlices(values, a.maxSlices);
    return {
      column,
      slices: perSlice(groups, (idx) => {
        a.onPhase?.(`slice ${column}`);
        return cleanMetrics(
          classificationMetrics(
            { yTrue: take(yTrue, idx), yPred: take(yPred, idx), proba: proba ? take(proba, idx, C) : null, nClasses: C },
            { calibrationBins: a.calibrationBins },
          ).metrics,
        );
      }).map((s) => ({ value: s.value, rows: s.rows, metrics: s.result })),
      omittedSlices: groups.omittedSlices,
      omittedRows: groups.omittedRows,
    };
  });
  noteOmitted(notes, slices);
  return {
    ...base,
    rows: r.rows,
    notes,
    metrics: cleanMetrics(r.metrics),
    classification: {
      classes: names,
      ...(a.task === 'binary' ? { positiveClass: names[1]! } : {}),
      perClass: r.perClass.map((p, k) => ({
        class: names[k]!,
        support: p.support,
        predicted: p.predicted,
        precision: finite(p.precision),
        recall: finite(p.recall),
        f1: finite(p.f1),
        rocAuc: finite(p.rocAuc),
        averagePrecision: finite(p.averagePrecision),
      })),
      confusionMatrix: r.confusionMatrix,
      roc: r.curves.map((c) => ({ class: names[c.classIndex]!, auc: finite(r.perClass[c.classIndex]!.rocAuc), points: rocPoints(c.roc) })),
      pr: r.curves.map((c) => ({ class: names[c.classIndex]!, averagePrecision: finite(r.perClass[c.classIndex]!.averagePrecision), prevalence: prevalence(c.classIndex), points: prPoints(c.pr) })),
      calibration: r.calibration ? { ...r.calibration, ece: finite(r.calibration.ece) } : null,
    },
    slices,
  };
}

function noteOmitted(notes: string[], slices: SliceSet[]): void {
  for (const s of slices) {
    if (s.omittedSlices) notes.push(`Slices of "${s.column}": ${s.omittedSlices} smaller value(s) (${s.omittedRows} rows) not reported one by one.`);
  }
}

export function summarize(r: EvaluationReport): EvaluationSummary {
  return {
    task: r.task,
    model: r.model,
    dataset: { name: r.dataset.name, version: r.dataset.version, uri: r.dataset.uri, sha256: r.dataset.sha256 },
    target: r.target,
    rows: r.rows,
    skippedRows: r.skippedRows,
    metrics: r.metrics,
    slices: r.slices,
  };
}

/** Per metric both report: values, challenger − champion, and which is better. */
export function metricDeltas(challenger: MetricSet, champion: MetricSet | null): Record<string, MetricDelta> {
  if (!champion) return {};
  const out: Record<string, MetricDelta> = {};
  for (const k of Object.keys(challenger)) {
    if (!(k in champion)) continue;
    const a = challenger[k] ?? null;
    const b = champion[k] ?? null;
    const direction = metricDirection(k) ?? null;
    const delta = a !== null && b !== null ? a - b : null;
    let better: MetricDelta['better'] = null;
    if (delta !== null && direction) better = delta === 0 ? 'tie' : (direction === 'higher') === delta > 0 ? 'challenger' : 'champion';
    out[k] = { challenger: a, champion: b, delta, direction, better };
  }
  return out;
}

export function compareReports(challenger: EvaluationReport, champion: EvaluationReport | null, title?: string): ComparisonReport {
  return {
    format: COMPARISON_REPORT_FORMAT,
    ...(title ? { title } : {}),
    challenger,
    champion,
    deltas: metricDeltas(challenger.metrics, champion?.metrics ?? null),
  };
}
