import pl from 'nodejs-polars';

/**
 * Cleaning before any drift statistic, as Evidently: ±inf become NaN, and NaN (and null) values
 * are dropped on both sides. Numeric columns come out of polars as sorted Float64Arrays (the
 * statistics work on sorted typed arrays); categorical ones as counts per category, grouped by
 * polars, so no row ever becomes a JS object.
 */

/** The finite values of a sample, sorted (pure-JS form, for tests and small inputs). */
export function cleanSorted(values: ArrayLike<number>): Float64Array {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) n++;
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) out[k++] = v;
  }
  return out.sort();
}

/** The finite values of a numeric column, sorted ascending. */
export function numericValues(df: pl.DataFrame, column: string): Float64Array {
  const s = df
    .lazy()
    .select(pl.col(column).cast(pl.Float64).alias('v'))
    .filter(pl.col('v').isFinite())
    .sort('v')
    .collectSync()
    .getColumn('v');
  return toFloat64(s);
}

/** Finite values of an already extracted series (e.g. a probability pulled out of a list column), sorted. */
export function numericSeriesValues(series: pl.Series): Float64Array {
  return numericValues(pl.DataFrame([series.cast(pl.Float64).alias('v')]), 'v');
}

function toFloat64(s: pl.Series): Float64Array {
  const t: unknown = s.len() === 0 ? new Float64Array(0) : s.rechunk().toTypedArray();
  return t instanceof Float64Array ? t : Float64Array.from(t as ArrayLike<number>);
}

const NUMERIC = new Set(['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64', 'Float32', 'Float64']);

export const isNumericDtype = (dtype: { variant: string }): boolean => NUMERIC.has(dtype.variant);

/**
 * Counts per category of a column. Nulls are dropped; numeric columns (compared as categories)
 * are keyed by their value as a JS number prints it, so 1 (int) and 1.0 (float) are one category,
 * and ±inf/NaN are dropped as for numeric columns. Everything else is cast to a string
 * (booleans become "true"/"false").
 */
export function categoryCounts(df: pl.DataFrame, column: string): Map<string, number> {
  const dtype = df.getColumn(column).dtype;
  const numeric = isNumericDtype(dtype);
  let lf = df.lazy().select(numeric ? pl.col(column).cast(pl.Float64).alias('k') : pl.col(column).alias('k'));
  lf = numeric ? lf.filter(pl.col('k').isFinite()) : lf.dropNulls('k');
  if (!numeric && dtype.variant !== 'String') lf = lf.select(pl.col('k').cast(pl.Utf8));
  const grouped = lf.groupBy('k').agg(pl.len().alias('n')).collectSync();
  const counts = toFloat64(grouped.getColumn('n').cast(pl.Float64));
  const out = new Map<string, number>();
  if (numeric) {
    const keys = toFloat64(grouped.getColumn('k'));
    keys.forEach((k, i) => out.set(String(k), counts[i]!));
  } else {
    const keys = grouped.getColumn('k').toArray() as (string | null)[];
    keys.forEach((k, i) => {
      if (k !== null) out.set(k, counts[i]!);
    });
  }
  return out;
}

/** Total of a category count map. */
export function totalCount(counts: Map<string, number>): number {
  let n = 0;
  for (const v of counts.values()) n += v;
  return n;
}
