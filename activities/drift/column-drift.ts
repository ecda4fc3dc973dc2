import { DEFAULT_DRIFT_THRESHOLDS, statTestName, type StatTestNameValue } from '../../pipelines/steps/drift';
import { alignCategoryCounts, alignValueCounts, binNumeric, distinctCountUnion, shares, type AlignedCounts, type Binned } from './stats/binning';
import { chisquare } from './stats/chisquare';
import { totalCount } from './stats/clean';
import { jensenShannon } from './stats/jensen-shannon';
import { ks2samp } from './stats/ks';
import { psiFromShares } from './stats/psi';
import { normedWasserstein } from './stats/wasserstein';
import { twoProportionZTest } from './stats/ztest';

/**
 * Drift of one column, as Evidently decides it (see /work/shared/notes/mlops-semantics.md):
 *
 * Default test, from the reference size n (after cleaning) and the number u of distinct values
 * across both samples:
 *   numeric, u > 5:           KS (drift if p <= 0.05) for n <= 1000, normed Wasserstein (>= 0.1) above;
 *   numeric with u <= 5, or categorical:
 *                             n <= 1000: chi-square (p < 0.05) when u > 2, two-proportion z (p < 0.05) when u <= 2;
 *                             n > 1000:  Jensen–Shannon distance (>= 0.1).
 * PSI (>= 0.1) is available on request. Every threshold can be changed per test or per column, the
 * test can be forced for all columns or per column, and the size cut-off (1000) is configurable.
 *
 * A numeric column with few values is compared value by value (chi-square / z over its values).
 * A side with no value left after cleaning is not compared (`skipped`, no drift): Evidently
 * raises an error there; a step should report it and carry on.
 */

export type StatTestName = StatTestNameValue;
export const STAT_TESTS: readonly StatTestName[] = statTestName.options;
export const DEFAULT_THRESHOLDS = DEFAULT_DRIFT_THRESHOLDS;

/** Tests whose score is a p-value (drift when it is small); the others are distances (drift when large). */
export const P_VALUE_TESTS: ReadonlySet<StatTestName> = new Set(['ks', 'chisquare', 'z']);
/** Tests that need an ordered, numeric column. */
export const NUMERIC_ONLY_TESTS: ReadonlySet<StatTestName> = new Set(['ks', 'wasserstein']);

export const DEFAULT_SAMPLE_SIZE_CUTOFF = 1000;

export const TEST_LABELS: Readonly<Record<StatTestName, string>> = Object.freeze({
  ks: 'K-S p-value',
  chisquare: 'chi-square p-value',
  z: 'Z-test p-value',
  wasserstein: 'Wasserstein distance (normed)',
  jensenshannon: 'Jensen-Shannon distance',
  psi: 'PSI',
});

export type ColumnKind = 'numeric' | 'categorical';

/** A cleaned column: sorted finite values, or counts per category. */
export type ColumnSample =
  | { kind: 'numeric'; reference: Float64Array; current: Float64Array }
  | { kind: 'categorical'; reference: Map<string, number>; current: Map<string, number> };

export interface ColumnDriftOptions {
  /** Force this test instead of the default choice. */
  stattest?: StatTestName;
  /** Threshold for this column, whatever its test. */
  threshold?: number;
  /** Thresholds per test (the notes' defaults otherwise). */
  thresholds?: Partial<Record<StatTestName, number>>;
  /** n <= this uses the small-sample tests (KS, chi-square, z); default 1000. */
  sampleSizeCutoff?: number;
}

/** What the report draws: counts per bin on both sides. */
export type ColumnChart =
  | { kind: 'bins'; edges: number[]; reference: number[]; current: number[] }
  | { kind: 'values'; labels: string[]; reference: number[]; current: number[]; other?: { categories: number; reference: number; current: number } };

export interface ColumnDriftResult {
  kind: ColumnKind;
  /** null when the column could not be compared (see `skipped`). */
  test: StatTestName | null;
  /** The test's statistic (KS D, chi-square, z, or the distance); null when infinite or not computed. */
  statistic: number | null;
  /** For KS, chi-square and z. */
  pValue?: number;
  threshold: number | null;
  drift: boolean;
  referenceCount: number;
  currentCount: number;
  /** Distinct values across both samples (u). */
  distinct: number;
  /** Categories (or values) present in the current sample only. */
  newCategories?: { count: number; sample: string[] };
  /** Test details: KS method, Wasserstein distance and norm. */
  details?: Record<string, number | string>;
  skipped?: string;
  chart?: ColumnChart;
}

export function defaultStatTest(kind: ColumnKind, referenceSize: number, distinct: number, o: { sampleSizeCutoff?: number } = {}): StatTestName {
  const cutoff = o.sampleSizeCutoff ?? DEFAULT_SAMPLE_SIZE_CUTOFF;
  const fewValues = kind === 'categorical' || distinct <= 5;
  if (referenceSize <= cutoff) {
    if (!fewValues) return 'ks';
    return distinct > 2 ? 'chisquare' : 'z';
  }
  return fewValues ? 'jensenshannon' : 'wasserstein';
}

/** Drift if p <= t (KS), p < t (chi-square, z), distance >= t (the others), as Evidently. */
export function isDrift(test: StatTestName, score: number, threshold: number): boolean {
  if (Number.isNaN(score)) return false;
  if (test === 'ks') return score <= threshold;
  if (P_VALUE_TESTS.has(test)) return score < threshold;
  return score >= threshold;
}

export class StatTestNotApplicable extends Error {}

const MAX_CHART_VALUES = 30;
const NEW_CATEGORY_SAMPLE = 20;
const fmt = (v: number) => String(v);

export function columnDrift(data: ColumnSample, o: ColumnDriftOptions): ColumnDriftResult {
  const numeric = data.kind === 'numeric';
  const nRef = numeric ? data.reference.length : totalCount(data.reference);
  const nCur = numeric ? data.current.length : totalCount(data.current);
  const base = { kind: data.kind, referenceCount: nRef, currentCount: nCur };
  if (o.stattest && NUMERIC_ONLY_TESTS.has(o.stattest) && !numeric) {
    throw new StatTestNotApplicable(`${o.stattest} needs a numeric column; this one is categorical (use chisquare, z, jensenshannon or psi)`);
  }
  if (nRef === 0 || nCur === 0) {
    const side = nRef === 0 && nCur === 0 ? 'reference and current' : nRef === 0 ? 'reference' : 'current';
    return { ...base, test: null, statistic: null, threshold: null, drift: false, distinct: 0, skipped: `no value left in the ${side} after dropping nulls, NaN and infinities` };
  }

  // Counts per value (categories, or the values of a numeric column), aligned on their union.
  let aligned: AlignedCounts<string | number> | undefined;
  const alignedCounts = (): AlignedCounts<string | number> =>
    (aligned ??= numeric ? alignValueCounts(data.reference, data.current) : alignCategoryCounts(data.reference, data.current));
  const distinct = numeric ? distinctCountUnion(data.reference, data.current) : alignedCounts().keys.length;
  let binned: Binned | undefined;
  const bins = (): Binned => {
    if (binned) return binned;
    if (numeric) binned = binNumeric(data.reference, data.current);
    else {
      const a = alignedCounts() as AlignedCounts<string>;
      binned = { kind: 'categories', keys: a.keys, reference: a.reference, current: a.current };
    }
    return binned;
  };

  const test = o.stattest ?? defaultStatTest(data.kind, nRef, distinct, o);
  const threshold = o.threshold ?? o.thresholds?.[test] ?? DEFAULT_THRESHOLDS[test];
  let statistic: number;
  let pValue: number | undefined;
  const details: Record<string, number | string> = {};
  switch (test) {
    case 'ks': {
      if (data.kind !== 'numeric') throw new StatTestNotApplicable('ks needs a numeric column');
      const r = ks2samp(data.reference, data.current);
      statistic = r.statistic;
      pValue = r.pValue;
      details.method = r.method;
      break;
    }
    case 'wasserstein': {
      if (data.kind !== 'numeric') throw new StatTestNotApplicable('wasserstein needs a numeric column');
      const r = normedWasserstein(data.reference, data.current);
      statistic = r.statistic;
      details.distance = r.distance;
      details.norm = r.norm;
      break;
    }
    case 'chisquare': {
      const a = alignedCounts();
      const kNorm = nCur / nRef;
      const r = chisquare(a.current, a.reference.map((c) => c * kNorm));
      statistic = r.statistic;
      pValue = r.pValue;
      details.dof = r.dof;
      break;
    }
    case 'z': {
      const a = alignedCounts();
      if (a.keys.length === 1) {
        statistic = 0;
        pValue = 1;
      } else {
        // The share of values other than the first category (sorted), as Evidently.
        const r = twoProportionZTest(nRef - a.reference[0]!, nRef, nCur - a.current[0]!, nCur);
        statistic = r.statistic;
        pValue = r.pValue;
        details.category = String(a.keys[0]);
      }
      break;
    }
    case 'jensenshannon': {
      const b = bins();
      statistic = jensenShannon(shares(b.reference, nRef), shares(b.current, nCur));
      break;
    }
    case 'psi': {
      const b = bins();
      statistic = psiFromShares(shares(b.reference, nRef), shares(b.current, nCur));
      break;
    }
  }

  const score = pValue ?? statistic;
  const result: ColumnDriftResult = {
    ...base,
    test,
    statistic: Number.isFinite(statistic) ? statistic : null,
    ...(pValue === undefined ? {} : { pValue }),
    threshold,
    drift: isDrift(test, score, threshold),
    distinct,
    ...(Object.keys(details).length ? { details } : {}),
  };
  if (!numeric) {
    const a = alignedCounts();
    const unseen: string[] = [];
    let count = 0;
    for (let i = 0; i < a.keys.length; i++) {
      if (a.reference[i] === 0) {
        count++;
        if (unseen.length < NEW_CATEGORY_SAMPLE) unseen.push(String(a.keys[i]));
      }
    }
    if (count) result.newCategories = { count, sample: unseen };
  }
  result.chart = chartOf(bins());
  return result;
}

/** Chart data: bins as they are, or the most frequent values (by pooled count) and the rest as "other". */
function chartOf(b: Binned): ColumnChart {
  if (b.kind === 'edges') return { kind: 'bins', edges: [...b.edges], reference: [...b.reference], current: [...b.current] };
  const labels = b.kind === 'values' ? b.keys.map(fmt) : b.keys;
  const n = labels.length;
  if (n <= MAX_CHART_VALUES) return { kind: 'values', labels, reference: [...b.reference], current: [...b.current] };
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => b.reference[y]! + b.current[y]! - (b.reference[x]! + b.current[x]!) || x - y);
  const keep = order.slice(0, MAX_CHART_VALUES - 1).sort((x, y) => x - y);
  const kept = new Set(keep);
  let r = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    if (kept.has(i)) continue;
    r += b.reference[i]!;
    c += b.current[i]!;
  }
  return {
    kind: 'values',
    labels: keep.map((i) => labels[i]!),
    reference: keep.map((i) => b.reference[i]!),
    current: keep.map((i) => b.current[i]!),
    other: { categories: n - keep.length, reference: r, current: c },
  };
}
