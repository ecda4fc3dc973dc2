import pl, { type DataType } from 'nodejs-polars';
// Expression wrapper of nodejs-polars 0.26: needed to reach the native string-to-temporal parsers
// with the options the public `str.strptime` does not expose (microseconds, time zone, exact match).
import { _Expr } from 'nodejs-polars/bin/lazy/expr/index.js';

/** Polars' name for a dtype: 'Int64', 'Utf8', 'Datetime', … */
export function variantOf(d: DataType): string {
  return d.variant;
}

/** [time unit, time zone] of a Datetime dtype. */
export function datetimeParts(d: DataType): { unit: string; tz: string | null } {
  const inner = (d as unknown as { inner?: unknown[] }).inner ?? [];
  return { unit: String(inner[0] ?? 'us'), tz: (inner[1] as string | null | undefined) ?? null };
}

/**
 * Parses strings to timestamps in UTC, microsecond precision. The whole string must match `fmt`
 * (exact); values that do not give null (not strict), so the caller can tell failures apart.
 * A format with an offset (`%#z`) converts to UTC; one without reads the wall time as UTC.
 */
export function strToTimestampUtc(e: pl.Expr, fmt: string): pl.Expr {
  const raw = (e as unknown as { _expr: { strToDatetime(...a: unknown[]): unknown } })._expr;
  // (format, time unit, time zone, strict, exact, cache, ambiguous)
  return _Expr(raw.strToDatetime(fmt, 'us', 'UTC', false, true, false, undefined));
}

/** Parses strings to dates with `fmt`, exact and not strict (a failure gives null). */
export function strToDate(e: pl.Expr, fmt: string): pl.Expr {
  const raw = (e as unknown as { _expr: { strToDate(...a: unknown[]): unknown } })._expr;
  // (format, strict, exact, cache)
  return _Expr(raw.strToDate(fmt, false, true, false));
}

const f64 = (v: number) => pl.lit(v).cast(pl.Float64);
/** NaN and ±Infinity as Float64 literals (`pl.lit(NaN)` gives null in nodejs-polars). */
export const NAN = () => f64(0).div(f64(0));
export const POS_INF = () => f64(1).div(f64(0));
export const NEG_INF = () => f64(-1).div(f64(0));

/** The columns and dtypes of a lazy frame, without reading its data. */
export async function lazySchema(lf: pl.LazyDataFrame): Promise<{ name: string; dtype: DataType }[]> {
  const empty = await lf.clone().head(0).collect();
  return empty.columns.map((name, i) => ({ name, dtype: empty.dtypes[i]! }));
}

/** The single number a one-row, one-column aggregate returns. */
export async function scalar(lf: pl.LazyDataFrame): Promise<number> {
  const df = await lf.collect();
  const v = df.row(0)[0] as unknown;
  return typeof v === 'bigint' ? Number(v) : Number(v ?? 0);
}
