import pl, { type DataType } from 'nodejs-polars';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import type { DriftThresholds, StatTestNameValue } from '../../pipelines/steps/drift';
import { SluiceFailure } from '../../pipelines/failures';
import { columnDrift, DEFAULT_SAMPLE_SIZE_CUTOFF, DEFAULT_THRESHOLDS, StatTestNotApplicable, type ColumnDriftResult, type ColumnKind, type ColumnSample } from './column-drift';
import { categoryCounts, isNumericDtype, numericSeriesValues, numericValues } from './stats/clean';

/**
 * Drift of a whole dataset: every compared column through column-drift.ts, the share of drifted
 * columns against `datasetDriftShare` (Evidently's DatasetDriftMetric: drifted / evaluated >= 0.5),
 * and prediction drift, the same machinery on the model's output.
 *
 * Column types: numeric dtypes are numeric unless named in `categorical`; booleans, strings and
 * polars categoricals are categorical; a column that is all null on one side (polars type Null)
 * takes its type from the other side and is then skipped for having no value. Dates, times,
 * lists and structs are not compared (skipped, with the reason; name a date column in
 * `categorical` to compare its values as categories). Skipped columns are not counted in the share.
 *
 * Prediction: a scalar column is compared as any other column. Probabilities — a list column, or
 * several columns in class order — are compared as the positive-class probability (numeric) for
 * one or two classes, and as the predicted class (argmax, categorical) for more; this mirrors
 * what Evidently compares for probabilistic classification. Prediction drift is reported on its own
 * and does not count in the dataset share.
 */

/** Columns or options that cannot be compared: bad input, never retried. */
export class DriftInputError extends SluiceFailure {
  constructor(message: string) {
    super('InvalidInput', message);
  }
}

export interface DatasetDriftOptions {
  columns?: string[];
  categorical?: string[];
  prediction?: string | string[];
  thresholds?: DriftThresholds;
  stattest?: StatTestNameValue;
  columnStattests?: Record<string, StatTestNameValue>;
  columnThresholds?: Record<string, number>;
  datasetDriftShare?: number;
  sampleSizeCutoff?: number;
  /** Called after each column (progress, cancellation checks). */
  onColumn?: (done: number, total: number) => void;
}

export type ColumnReport = ColumnDriftResult & {
  column: string;
  /** Polars dtypes as read on each side. */
  dtype: { reference: string; current: string };
};

export type PredictionReport = ColumnDriftResult & { column: string; source: 'column' | 'probability' | 'argmax' };

export interface DatasetDriftResult {
  datasetDrift: boolean;
  share: number;
  driftShare: number;
  evaluated: number;
  drifted: string[];
  columns: ColumnReport[];
  prediction?: PredictionReport;
  /** Columns present on one side only (not compared). */
  unmatched: { referenceOnly: string[]; currentOnly: string[] };
  /** The policy as applied (every threshold resolved). */
  policy: {
    thresholds: Record<StatTestNameValue, number>;
    stattest?: StatTestNameValue;
    columnStattests?: Record<string, StatTestNameValue>;
    columnThresholds?: Record<string, number>;
    datasetDriftShare: number;
    sampleSizeCutoff: number;
  };
}

type SideKind = ColumnKind | 'null' | { unsupported: string };

const TEMPORAL = new Set(['Date', 'Datetime', 'Time', 'Duration']);
const CATEGORICAL = new Set(['Bool', 'String', 'Utf8', 'Categorical', 'Enum']);

function sideKind(dtype: DataType, forcedCategorical: boolean): SideKind {
  const v = dtype.variant;
  if (v === 'Null') return 'null';
  if (forcedCategorical) {
    if (isNumericDtype(dtype) || CATEGORICAL.has(v) || TEMPORAL.has(v)) return 'categorical';
    return { unsupported: `type ${String(dtype)} cannot be compared as categories` };
  }
  if (isNumericDtype(dtype)) return 'numeric';
  if (CATEGORICAL.has(v)) return 'categorical';
  if (TEMPORAL.has(v)) return { unsupported: `date/time column (${v}): not compared; name it in \`categorical\` to compare its values as categories` };
  return { unsupported: `type ${String(dtype)} is not supported for drift` };
}

function sample(kind: ColumnKind, ref: pl.DataFrame, cur: pl.DataFrame, column: string): ColumnSample {
  return kind === 'numeric'
    ? { kind, reference: numericValues(ref, column), current: numericValues(cur, column) }
    : { kind, reference: countsOrEmpty(ref, column), current: countsOrEmpty(cur, column) };
}

function countsOrEmpty(df: pl.DataFrame, column: string): Map<string, number> {
  return df.getColumn(column).dtype.variant === 'Null' ? new Map() : categoryCounts(df, column);
}

function skippedResult(kind: ColumnKind, ref: pl.DataFrame, cur: pl.DataFrame, column: string, reason: string): ColumnDriftResult {
  return {
    kind,
    test: null,
    statistic: null,
    threshold: null,
    drift: false,
    referenceCount: ref.getColumn(column).len() - ref.getColumn(column).nullCount(),
    currentCount: cur.getColumn(column).len() - cur.getColumn(column).nullCount(),
    distinct: 0,
    skipped: reason,
  };
}

export function datasetDrift(reference: pl.DataFrame, current: pl.DataFrame, o: DatasetDriftOptions = {}): DatasetDriftResult {
  const refCols = reference.columns;
  const curCols = current.columns;
  const curSet = new Set(curCols);
  const refSet = new Set(refCols);
  const predictionCols = o.prediction === undefined ? [] : typeof o.prediction === 'string' ? [o.prediction] : o.prediction;
  const categorical = new Set(o.categorical ?? []);
  const thresholds = { ...DEFAULT_THRESHOLDS, ...stripUndefined(o.thresholds ?? {}) } as Record<StatTestNameValue, number>;
  const driftShare = o.datasetDriftShare ?? 0.5;
  const sampleSizeCutoff = o.sampleSizeCutoff ?? DEFAULT_SAMPLE_SIZE_CUTOFF;

  const missing = (cols: string[]) => cols.filter((c) => !refSet.has(c) || !curSet.has(c));
  if (o.columns) {
    const absent = missing(o.columns);
    if (absent.length) throw new DriftInputError(`columns not in both datasets: ${absent.map((c) => JSON.stringify(c)).join(', ')}${sidesOf(absent, refSet, curSet)}`);
  }
  const absentPrediction = missing(predictionCols);
  if (absentPrediction.length) throw new DriftInputError(`prediction column(s) not in both datasets: ${absentPrediction.map((c) => JSON.stringify(c)).join(', ')}${sidesOf(absentPrediction, refSet, curSet)}`);
  const dupes = o.columns ? o.columns.filter((c, i) => o.columns!.indexOf(c) !== i) : [];
  if (dupes.length) throw new DriftInputError(`columns listed twice: ${[...new Set(dupes)].join(', ')}`);

  const predictionSet = new Set(predictionCols);
  const columns = o.columns ?? refCols.filter((c) => curSet.has(c) && !predictionSet.has(c));
  const unmatched = { referenceOnly: refCols.filter((c) => !curSet.has(c)), currentOnly: curCols.filter((c) => !refSet.has(c)) };

  const optionsFor = (column: string) => ({
    thresholds,
    stattest: o.columnStattests?.[column] ?? o.stattest,
    threshold: o.columnThresholds?.[column],
    sampleSizeCutoff,
  });
  const run = (column: string, data: ColumnSample): ColumnDriftResult => {
    try {
      return columnDrift(data, optionsFor(column));
    } catch (e) {
      if (e instanceof StatTestNotApplicable) throw new DriftInputError(`column ${JSON.stringify(column)}: ${e.message}`);
      throw e;
    }
  };

  const results: ColumnReport[] = [];
  const total = columns.length + (predictionCols.length ? 1 : 0);
  for (const column of columns) {
    const rd = reference.getColumn(column).dtype;
    const cd = current.getColumn(column).dtype;
    const dtype = { reference: String(rd.variant), current: String(cd.variant) };
    const forced = categorical.has(column);
    let rk = sideKind(rd, forced);
    let ck = sideKind(cd, forced);
    if (rk === 'null') rk = ck === 'null' ? 'numeric' : ck;
    if (ck === 'null') ck = rk;
    let result: ColumnDriftResult;
    if (typeof rk === 'object' || typeof ck === 'object') {
      const reason = typeof rk === 'object' ? rk.unsupported : (ck as { unsupported: string }).unsupported;
      result = skippedResult(typeof rk === 'object' ? 'categorical' : rk, reference, current, column, reason);
    } else if (rk !== ck) {
      result = skippedResult(rk, reference, current, column, `types differ: ${dtype.reference} (${rk}) in the reference, ${dtype.current} (${ck}) in the current dataset`);
    } else {
      result = run(column, sample(rk, reference, current, column));
    }
    results.push({ column, dtype, ...result });
    o.onColumn?.(results.length, total);
  }

  let prediction: PredictionReport | undefined;
  if (predictionCols.length) {
    const p = predictionSample(reference, current, predictionCols, categorical);
    const key = predictionCols.join(',');
    prediction = p.skipped
      ? { column: key, source: p.source, ...skippedResult('categorical', reference, current, predictionCols[0]!, p.skipped) }
      : { column: key, source: p.source, ...run(predictionCols.length === 1 ? predictionCols[0]! : key, p.data!) };
    o.onColumn?.(total, total);
  }

  const evaluatedResults = results.filter((r) => r.test !== null);
  const drifted = evaluatedResults.filter((r) => r.drift).map((r) => r.column);
  const evaluated = evaluatedResults.length;
  const share = evaluated === 0 ? 0 : drifted.length / evaluated;
  return {
    datasetDrift: evaluated > 0 && share >= driftShare,
    share,
    driftShare,
    evaluated,
    drifted,
    columns: results,
    ...(prediction ? { prediction } : {}),
    unmatched,
    policy: {
      thresholds,
      ...(o.stattest ? { stattest: o.stattest } : {}),
      ...(o.columnStattests && Object.keys(o.columnStattests).length ? { columnStattests: o.columnStattests } : {}),
      ...(o.columnThresholds && Object.keys(o.columnThresholds).length ? { columnThresholds: o.columnThresholds } : {}),
      datasetDriftShare: driftShare,
      sampleSizeCutoff,
    },
  };
}

function sidesOf(cols: string[], ref: Set<string>, cur: Set<string>): string {
  const parts = cols.map((c) => `${c}: ${ref.has(c) ? '' : 'missing in the reference'}${!ref.has(c) && !cur.has(c) ? ' and ' : ''}${cur.has(c) ? '' : 'missing in the current dataset'}`);
  return ` (${parts.join('; ')})`;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** What the prediction drift compares (see the module comment). */
function predictionSample(
  reference: pl.DataFrame,
  current: pl.DataFrame,
  cols: string[],
  categorical: Set<string>,
): { source: PredictionReport['source']; data?: ColumnSample; skipped?: string } {
  if (cols.length === 1) {
    const c = cols[0]!;
    const rd = reference.getColumn(c).dtype;
    const cd = current.getColumn(c).dtype;
    if (rd.variant === 'List' || cd.variant === 'List') {
      const width = Math.max(listWidth(reference, c), listWidth(current, c));
      if (width === 0) return { source: 'probability', skipped: 'the probability lists are empty' };
      if (width <= 2) {
        const k = width - 1;
        const pick = (df: pl.DataFrame) => numericSeriesValues(df.select(pl.col(c).lst.get(k).alias('p')).getColumn('p'));
        return { source: 'probability', data: { kind: 'numeric', reference: pick(reference), current: pick(current) } };
      }
      const label = (df: pl.DataFrame) => categoryCounts(df.select(pl.col(c).lst.argMax().cast(pl.Int64).alias('label')), 'label');
      return { source: 'argmax', data: { kind: 'categorical', reference: label(reference), current: label(current) } };
    }
    let rk = sideKind(rd, categorical.has(c));
    let ck = sideKind(cd, categorical.has(c));
    if (rk === 'null') rk = ck === 'null' ? 'numeric' : ck;
    if (ck === 'null') ck = rk;
    if (typeof rk === 'object') return { source: 'column', skipped: rk.unsupported };
    if (typeof ck === 'object') return { source: 'column', skipped: ck.unsupported };
    if (rk !== ck) return { source: 'column', skipped: `types differ: ${rd.variant} in the reference, ${cd.variant} in the current dataset` };
    return { source: 'column', data: sample(rk, reference, current, c) };
  }
  for (const c of cols) {
    for (const df of [reference, current]) {
      const dt = df.getColumn(c).dtype;
      if (!isNumericDtype(dt) && dt.variant !== 'Null') return { source: 'probability', skipped: `probability column ${JSON.stringify(c)} is not numeric (${dt.variant})` };
    }
  }
  if (cols.length === 2) {
    const c = cols[1]!;
    return { source: 'probability', data: { kind: 'numeric', reference: numericValues(reference, c), current: numericValues(current, c) } };
  }
  // The predicted class: the column with the largest probability (the first one on a tie), by name.
  const label = (df: pl.DataFrame): Map<string, number> => {
    const idx = categoryCounts(
      df.select(pl.concatList(cols.map((c) => pl.col(c).cast(pl.Float64))).lst.argMax().cast(pl.Int64).alias('label')),
      'label',
    );
    return new Map([...idx].map(([k, n]) => [cols[Number(k)] ?? k, n]));
  };
  return { source: 'argmax', data: { kind: 'categorical', reference: label(reference), current: label(current) } };
}

function listWidth(df: pl.DataFrame, column: string): number {
  if (df.getColumn(column).dtype.variant !== 'List') return 0;
  const m = df.select(pl.col(column).lst.lengths().max().alias('w')).getColumn('w').toArray()[0];
  return typeof m === 'number' ? m : typeof m === 'bigint' ? Number(m) : 0;
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

export const DRIFT_REPORT_FORMAT = 'sluice.drift-report/1';

export interface DatasetIdentity {
  name: string;
  version: number;
  uri: string;
  sha256: string;
  rows: number;
}

/**
 * The drift report (JSON artifact; the HTML page is drawn from it). It holds no timestamps or run
 * ids, so the same inputs and policy give the same bytes, hence the same content-addressed artifact.
 */
export interface DriftReport {
  format: typeof DRIFT_REPORT_FORMAT;
  reference: DatasetIdentity;
  current: DatasetIdentity;
  /** The current rows compared: a scoring run's window of the current dataset (absent: every row). */
  currentWindow?: { column: string; start: string; end: string; rows: number };
  summary: { datasetDrift: boolean; share: number; driftShare: number; evaluated: number; drifted: string[]; skipped: string[] };
  policy: DatasetDriftResult['policy'];
  columns: ColumnReport[];
  prediction?: PredictionReport;
  unmatched: DatasetDriftResult['unmatched'];
}

export function datasetIdentity(ref: DatasetRef): DatasetIdentity {
  return { name: ref.name, version: ref.version, uri: ref.uri, sha256: ref.sha256, rows: ref.rows };
}

export function assembleDriftReport(result: DatasetDriftResult, reference: DatasetRef, current: DatasetRef, currentWindow?: DriftReport['currentWindow']): DriftReport {
  return {
    format: DRIFT_REPORT_FORMAT,
    reference: datasetIdentity(reference),
    current: datasetIdentity(current),
    ...(currentWindow ? { currentWindow } : {}),
    summary: {
      datasetDrift: result.datasetDrift,
      share: result.share,
      driftShare: result.driftShare,
      evaluated: result.evaluated,
      drifted: result.drifted,
      skipped: result.columns.filter((c) => c.test === null).map((c) => c.column),
    },
    policy: result.policy,
    columns: result.columns,
    ...(result.prediction ? { prediction: result.prediction } : {}),
    unmatched: result.unmatched,
  };
}
