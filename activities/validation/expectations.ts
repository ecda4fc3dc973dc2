import pl, { type DataType } from 'nodejs-polars';
import { expectationIds, type Expectation, type Severity, type Suite } from '../../pipelines/steps/validation';
import { columnTypeOf, finiteOrNull, freshName, isNumeric, isStringLike, jsonValue, missing, percent, present, typeName, values } from './columns';

/**
 * Expectation evaluators: each turns one expectation into a GE-shaped result, with every pass
 * over the data done by polars (lazy queries, collected asynchronously so heartbeats keep going).
 */

/** At most this many unexpected values (and their row indexes) are kept, as in GE. */
export const SAMPLE_SIZE = 20;

/** GE's result fields (snake_case, so GE readers know them); which appear depends on the expectation. */
export interface ExpectationResultBody {
  observed_value?: unknown;
  element_count?: number;
  missing_count?: number;
  missing_percent?: number | null;
  unexpected_count?: number;
  /** Of the values considered (non-missing), as in GE. */
  unexpected_percent?: number | null;
  unexpected_percent_total?: number | null;
  unexpected_percent_nonmissing?: number | null;
  /** The first unexpected values in row order, and their 0-based row indexes. */
  partial_unexpected_list?: unknown[];
  partial_unexpected_index_list?: number[];
  /** The most frequent unexpected values. */
  partial_unexpected_counts?: { value: unknown; count: number }[];
  details?: Record<string, unknown>;
}

export interface ExpectationResult {
  /** Unique label within the suite, e.g. `between(distance)`: what failures name. */
  id: string;
  type: Expectation['type'];
  severity: Severity;
  success: boolean;
  expectation: Expectation;
  result: ExpectationResultBody;
  /** Set when the expectation could not be evaluated (missing column, wrong type, bad regex): it counts as failed. */
  exception_info?: { raised_exception: true; exception_message: string };
}

/** A frame ready for evaluation: lazy, with a row index column under a name of its own. */
export interface Frame {
  lf: pl.LazyDataFrame;
  rowIndex: string;
  columns: string[];
  dtypes: Map<string, DataType>;
  height: number;
}

export function prepareFrame(df: pl.DataFrame): Frame {
  const rowIndex = freshName(df.columns, '__sluice_row');
  return {
    lf: df.withRowIndex(rowIndex).lazy(),
    rowIndex,
    columns: df.columns,
    dtypes: new Map(df.columns.map((c, i) => [c, df.dtypes[i]!])),
    height: df.height,
  };
}

/** A problem with one expectation against this data: reported as its exception, the suite goes on. */
export class ExpectationError extends Error {
  override name = 'ExpectationError';
}

export async function evaluateSuite(
  df: pl.DataFrame,
  suite: Suite,
  hooks: { onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<ExpectationResult[]> {
  const frame = prepareFrame(df);
  const ids = expectationIds(suite.expectations);
  const results: ExpectationResult[] = [];
  for (const [i, e] of suite.expectations.entries()) {
    hooks.signal?.throwIfAborted();
    results.push(await evaluateExpectation(frame, e, ids[i]!));
    hooks.onProgress?.(i + 1, suite.expectations.length);
  }
  return results;
}

export async function evaluateExpectation(frame: Frame, e: Expectation, id: string): Promise<ExpectationResult> {
  const base = { id, type: e.type, severity: e.severity, expectation: e };
  try {
    const { success, result } = await evaluate(frame, e);
    return { ...base, success, result };
  } catch (err) {
    return { ...base, success: false, result: {}, exception_info: { raised_exception: true, exception_message: errorMessage(err) } };
  }
}

/** Polars errors carry the query plan after a blank line: keep the message. */
function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split(/\n\s*\n/)[0]!.trim().slice(0, 1000);
}

interface Outcome {
  success: boolean;
  result: ExpectationResultBody;
}

async function evaluate(frame: Frame, e: Expectation): Promise<Outcome> {
  switch (e.type) {
    case 'columnExists': {
      const found = frame.columns.includes(e.column);
      return { success: found, result: found ? {} : { details: { columns: frame.columns } } };
    }
    case 'columnsMatchSet': {
      const missingCols = e.columns.filter((c) => !frame.columns.includes(c));
      const unexpectedCols = frame.columns.filter((c) => !e.columns.includes(c));
      const success = missingCols.length === 0 && (!e.exactMatch || unexpectedCols.length === 0);
      return {
        success,
        result: { observed_value: frame.columns, details: { mismatched: { missing: missingCols, unexpected: e.exactMatch ? unexpectedCols : [] } } },
      };
    }
    case 'columnsMatchOrderedList': {
      const n = Math.max(e.columns.length, frame.columns.length);
      const mismatched: { position: number; expected: string | null; found: string | null }[] = [];
      for (let i = 0; i < n; i++) {
        if (e.columns[i] !== frame.columns[i]) mismatched.push({ position: i, expected: e.columns[i] ?? null, found: frame.columns[i] ?? null });
      }
      return { success: mismatched.length === 0, result: { observed_value: frame.columns, details: { mismatched } } };
    }
    case 'rowCountBetween':
      return { success: inBounds(frame.height, e), result: { observed_value: frame.height } };
    case 'ofType': {
      const dtype = requireColumn(frame, e.column);
      const accepted = typeof e.columnType === 'string' ? [e.columnType] : e.columnType;
      const observed = columnTypeOf(dtype);
      return { success: observed !== undefined && accepted.includes(observed), result: { observed_value: typeName(dtype), details: { dtype: String(dtype) } } };
    }
    case 'notNull': {
      const dtype = requireColumn(frame, e.column);
      return mapExpectation(frame, { considered: null, unexpected: missing(e.column, dtype), shown: [values(e.column, dtype)], mostly: e.mostly });
    }
    case 'unique': {
      const dtype = requireColumn(frame, e.column);
      const ok = present(e.column, dtype);
      return mapExpectation(frame, { considered: ok, unexpected: ok.and(values(e.column, dtype).isDuplicated()), shown: [values(e.column, dtype)], mostly: e.mostly });
    }
    case 'inSet': {
      const dtype = requireColumn(frame, e.column);
      const kind = isNumeric(dtype) ? 'number' : isStringLike(dtype) ? 'string' : dtype.variant === 'Bool' ? 'boolean' : undefined;
      // A value of another kind can never equal one of the column's (GE compares, it does not coerce).
      const usable = kind ? e.values.filter((v) => typeof v === kind) : e.values;
      const ignored = e.values.filter((v) => !usable.includes(v));
      const ok = present(e.column, dtype);
      const member = usable.length ? values(e.column, dtype).isIn(usable) : pl.lit(false);
      const outcome = await mapExpectation(frame, { considered: ok, unexpected: ok.and(member.not()), shown: [values(e.column, dtype)], mostly: e.mostly });
      if (ignored.length) outcome.result.details = { ignored_values: ignored, reason: `not comparable with a ${typeName(dtype)} column` };
      return outcome;
    }
    case 'between': {
      const dtype = requireColumn(frame, e.column, isNumeric, 'a numeric');
      const ok = present(e.column, dtype);
      return mapExpectation(frame, { considered: ok, unexpected: ok.and(inRange(values(e.column, dtype), e).not()), shown: [values(e.column, dtype)], mostly: e.mostly });
    }
    case 'matchRegex': {
      const dtype = requireColumn(frame, e.column, isStringLike, 'a string');
      const ok = present(e.column, dtype);
      const matches = values(e.column, dtype).str.contains(e.regex, false, true);
      return mapExpectation(frame, { considered: ok, unexpected: ok.and(matches.not()), shown: [values(e.column, dtype)], mostly: e.mostly });
    }
    case 'lengthsBetween': {
      const dtype = requireColumn(frame, e.column, isStringLike, 'a string');
      const ok = present(e.column, dtype);
      const fits = inRange(values(e.column, dtype).str.lengths(), e);
      return mapExpectation(frame, { considered: ok, unexpected: ok.and(fits.not()), shown: [values(e.column, dtype)], mostly: e.mostly });
    }
    case 'greaterThan': {
      const a = requireColumn(frame, e.columnA);
      const b = requireColumn(frame, e.columnB);
      const comparable = (isNumeric(a) && isNumeric(b)) || (isStringLike(a) && isStringLike(b)) || columnTypeOf(a) === columnTypeOf(b);
      if (!comparable) throw new ExpectationError(`columns "${e.columnA}" (${typeName(a)}) and "${e.columnB}" (${typeName(b)}) cannot be compared`);
      const aMissing = missing(e.columnA, a);
      const bMissing = missing(e.columnB, b);
      const va = values(e.columnA, a);
      const vb = values(e.columnB, b);
      const holds = e.orEqual ? va.gtEq(vb) : va.gt(vb);
      const considered =
        e.ignoreRowIf === 'both_values_are_missing' ? aMissing.and(bMissing).not() : e.ignoreRowIf === 'either_value_is_missing' ? aMissing.or(bMissing).not() : null;
      const bad = aMissing.or(bMissing).or(holds.not());
      return mapExpectation(frame, { considered, unexpected: considered ? considered.and(bad) : bad, shown: [va, vb], mostly: e.mostly });
    }
    case 'meanBetween':
    case 'medianBetween':
    case 'minBetween':
    case 'maxBetween':
    case 'stdevBetween': {
      const dtype = requireColumn(frame, e.column, (d) => isNumeric(d) || d.variant === 'Bool', 'a numeric');
      const x = values(e.column, dtype).cast(pl.Float64).filter(present(e.column, dtype));
      const agg = { meanBetween: x.mean(), medianBetween: x.median(), minBetween: x.min(), maxBetween: x.max(), stdevBetween: x.std() }[e.type];
      const df = await frame.lf.select(agg.alias('v')).collect();
      const observed = finiteOrNull(df.getColumn('v').get(0));
      return { success: observed !== null && inBounds(observed, e), result: { observed_value: observed } };
    }
    case 'quantilesBetween': {
      const dtype = requireColumn(frame, e.column, isNumeric, 'a numeric');
      const x = values(e.column, dtype).cast(pl.Float64).filter(present(e.column, dtype));
      // 'nearest' as GE's pandas backend: every reported quantile is a value of the column.
      const df = await frame.lf.select(...e.ranges.map((r, i) => x.quantile(r.quantile, 'nearest').alias(`q${i}`))).collect();
      const observed = e.ranges.map((_, i) => finiteOrNull(df.getColumn(`q${i}`).get(0)));
      const each = e.ranges.map((r, i) => observed[i] !== null && inBounds(observed[i]!, r));
      return {
        success: each.every(Boolean),
        result: { observed_value: { quantiles: e.ranges.map((r) => r.quantile), values: observed }, details: { success_details: each } },
      };
    }
  }
}

function requireColumn(frame: Frame, column: string, accepts?: (d: DataType) => boolean, what?: string): DataType {
  const dtype = frame.dtypes.get(column);
  if (!dtype) throw new ExpectationError(`column "${column}" not found`);
  if (accepts && !accepts(dtype)) throw new ExpectationError(`column "${column}" is ${typeName(dtype)}: this expectation needs ${what} column`);
  return dtype;
}

interface Bounds {
  min?: number | undefined;
  max?: number | undefined;
  strictMin?: boolean;
  strictMax?: boolean;
}

export function inBounds(v: number, b: Bounds): boolean {
  if (b.min !== undefined && (b.strictMin ? !(v > b.min) : !(v >= b.min))) return false;
  if (b.max !== undefined && (b.strictMax ? !(v < b.max) : !(v <= b.max))) return false;
  return true;
}

function inRange(x: pl.Expr, b: Bounds): pl.Expr {
  const parts: pl.Expr[] = [];
  if (b.min !== undefined) parts.push(b.strictMin ? x.gt(b.min) : x.gtEq(b.min));
  if (b.max !== undefined) parts.push(b.strictMax ? x.lt(b.max) : x.ltEq(b.max));
  return parts.reduce((acc, p) => acc.and(p), pl.lit(true));
}

interface MapSpec {
  /** Rows judged (non-missing); null: every row (null checks, `ignoreRowIf: 'neither'`). */
  considered: pl.Expr | null;
  /** True for an unexpected row; only ever true on a considered row. */
  unexpected: pl.Expr;
  /** What an unexpected row shows: one value, or a pair for column-pair expectations. */
  shown: pl.Expr[];
  mostly: number | undefined;
}

/**
 * A map expectation: counts in one pass, then (only when something is unexpected) the first
 * SAMPLE_SIZE unexpected rows in row order and the most frequent unexpected values.
 */
async function mapExpectation(frame: Frame, spec: MapSpec): Promise<Outcome> {
  const unexpected = spec.unexpected.fillNull(false);
  const counts = await frame.lf
    .select(
      pl.len().alias('n'),
      (spec.considered ? spec.considered.fillNull(false) : pl.lit(true)).sum().alias('considered'),
      unexpected.sum().alias('unexpected'),
    )
    .collect();
  const row = counts.row(0);
  const n = frame.height;
  const considered = spec.considered ? Number(row[1]) : n;
  const unexpectedCount = Number(row[2]);

  const result: ExpectationResultBody = { element_count: n };
  if (spec.considered) {
    result.missing_count = n - considered;
    result.missing_percent = percent(n - considered, n);
  }
  result.unexpected_count = unexpectedCount;
  result.unexpected_percent = percent(unexpectedCount, considered);
  result.unexpected_percent_total = percent(unexpectedCount, n);
  if (spec.considered) result.unexpected_percent_nonmissing = percent(unexpectedCount, considered);

  const names = spec.shown.map((_, i) => `__sluice_v${i}`);
  const shown = spec.shown.map((e, i) => e.alias(names[i]!));
  const pick = (r: Record<string, unknown>) => (names.length === 1 ? jsonValue(r[names[0]!]) : names.map((k) => jsonValue(r[k])));
  if (unexpectedCount > 0) {
    const bad = frame.lf.filter(unexpected);
    const sample = (await bad.select(pl.col(frame.rowIndex), ...shown).head(SAMPLE_SIZE).collect()).toRecords() as Record<string, unknown>[];
    result.partial_unexpected_list = sample.map(pick);
    result.partial_unexpected_index_list = sample.map((r) => Number(r[frame.rowIndex]));
    const counted = await bad
      .select(...shown)
      .groupBy(names)
      .agg(pl.len().alias('__sluice_count'))
      .sort(['__sluice_count', ...names], [true, ...names.map(() => false)])
      .head(SAMPLE_SIZE)
      .collect();
    result.partial_unexpected_counts = (counted.toRecords() as Record<string, unknown>[]).map((r) => ({ value: pick(r), count: Number(r.__sluice_count) }));
  } else {
    result.partial_unexpected_list = [];
    result.partial_unexpected_index_list = [];
    result.partial_unexpected_counts = [];
  }
  // GE: nothing to judge is vacuously true; else (considered − unexpected) / considered >= mostly.
  const success = considered === 0 || (considered - unexpectedCount) / considered >= (spec.mostly ?? 1);
  return { success, result };
}
