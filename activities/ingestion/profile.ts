import pl, { type DataType } from 'nodejs-polars';
import type { ColumnType } from '../../pipelines/steps/dataset';
import {
  HISTOGRAM_BINS,
  PROFILE_QUANTILES,
  PROFILE_QUANTILE_LEVELS,
  TOP_CATEGORIES,
  datasetProfile,
  type ColumnProfile,
  type DatasetProfile,
  type NumericProfile,
} from '../../pipelines/steps/profile';
import { datetimeParts, lazySchema, variantOf } from './polars';
import { columnTypeOfDtype } from './schema';

/**
 * The statistical profile of a frame (shape and conventions: pipelines/steps/profile.ts), computed
 * by polars: the data never enters JavaScript, only aggregates do.
 *
 * Memory stays bounded on large frames: the frame is read in slices of SLICE_ROWS rows (a Parquet
 * scan reads only the row groups of a slice), each slice gives mergeable partial aggregates
 * (counts, min/max, mean and sum of squared deviations merged with Chan's formula, histogram
 * counts, value counts), and JavaScript merges the few numbers that come back. Quantiles are exact
 * without sorting a column: a fine histogram (FINE_BINS bins) tells which bin holds each order
 * statistic needed, then only the distinct values of those few bins are counted. What grows with
 * the data is the number of distinct values (distinct counts, value counts of text columns), not
 * the number of rows.
 */
export const SLICE_ROWS = Number(process.env.SLUICE_PROFILE_SLICE_ROWS ?? 1 << 19);
const FINE_BINS = 4096;

export async function profileFrame(
  src: pl.DataFrame | pl.LazyDataFrame,
  opts: { onColumn?: (name: string, index: number, total: number) => void; sliceRows?: number } = {},
): Promise<DatasetProfile> {
  const lf = isLazy(src) ? src : src.lazy();
  const sliceRows = opts.sliceRows ?? SLICE_ROWS;
  const schema = (await lazySchema(lf)).map((c) => ({ ...c, type: columnTypeOfDtype(c.dtype) ?? ('string' as ColumnType) }));
  const rows = num((await lf.select(pl.len().cast(pl.Float64).alias('n')).collect()).row(0)[0]);
  const slices = Array.from({ length: Math.max(1, Math.ceil(rows / sliceRows)) }, (_, i) => (rows > sliceRows ? lf.slice(i * sliceRows, sliceRows) : lf));

  // Pass 1, slice by slice and column by column (one column of one slice in memory at a time):
  // counts, extremes, mean and M2.
  const partials: Record<string, unknown>[] = slices.map(() => ({}));
  for (const [s, part] of slices.entries()) {
    for (const [i, c] of schema.entries()) Object.assign(partials[s]!, await one(part, ...basicPartials(c.name, c.type, c.dtype, i)));
  }

  const columns: ColumnProfile[] = [];
  for (const [i, c] of schema.entries()) {
    opts.onColumn?.(c.name, i, schema.length);
    columns.push(await profileColumn(lf, slices, c.name, c.type, c.dtype, i, rows, partials));
  }
  return datasetProfile.parse({ profileVersion: 1, rows, columns });
}

function isLazy(x: pl.DataFrame | pl.LazyDataFrame): x is pl.LazyDataFrame {
  return typeof (x as pl.LazyDataFrame).collectSync === 'function';
}

const num = (v: unknown): number => (typeof v === 'bigint' ? Number(v) : Number(v ?? 0));

async function one(lf: pl.LazyDataFrame, ...exprs: pl.Expr[]): Promise<Record<string, unknown>> {
  return (await lf.select(...exprs).collect()).toRecords()[0] ?? {};
}

/** The finite values of a numeric column, as Float64. */
function finite(name: string, type: ColumnType): pl.Expr {
  const x = pl.col(name);
  return (type === 'float64' ? x.filter(x.isFinite()) : x.dropNulls()).cast(pl.Float64);
}

/** Physical value of a temporal column (days, or microseconds since the epoch in UTC). */
function physical(name: string, dtype: DataType): pl.Expr {
  let t = pl.col(name);
  const tz = datetimeParts(dtype).tz;
  if (variantOf(dtype) === 'Datetime') {
    if (tz && tz !== 'UTC') t = t.dt.convertTimeZone('UTC');
    t = t.cast(pl.Datetime('us', 'UTC'));
  }
  return t.toPhysical().cast(pl.Float64);
}

function basicPartials(name: string, type: ColumnType, dtype: DataType, i: number): pl.Expr[] {
  const x = pl.col(name);
  const out = [x.nullCount().cast(pl.Float64).alias(`nulls${i}`)];
  if (type === 'int64' || type === 'float64') {
    const v = finite(name, type);
    out.push(
      v.count().cast(pl.Float64).alias(`n${i}`),
      v.min().alias(`min${i}`),
      v.max().alias(`max${i}`),
      v.mean().alias(`mean${i}`),
      v.var().alias(`var${i}`),
    );
    if (type === 'int64') out.push(x.min().cast(pl.Utf8).alias(`minx${i}`), x.max().cast(pl.Utf8).alias(`maxx${i}`));
    if (type === 'float64') out.push(x.isNotNull().and(x.isFinite().not()).sum().cast(pl.Float64).alias(`nonfinite${i}`));
  } else if (type === 'date' || type === 'timestamp') {
    const t = physical(name, dtype);
    out.push(t.min().alias(`min${i}`), t.max().alias(`max${i}`));
  }
  return out;
}

interface Moments {
  n: number;
  mean: number;
  m2: number;
}

/** Chan et al.'s pairwise update: the moments of the union of two disjoint sets. */
function mergeMoments(a: Moments, b: Moments): Moments {
  if (!a.n) return b;
  if (!b.n) return a;
  const n = a.n + b.n;
  const delta = b.mean - a.mean;
  return { n, mean: a.mean + (delta * b.n) / n, m2: a.m2 + b.m2 + (delta * delta * a.n * b.n) / n };
}

const present = (v: unknown) => v !== null && v !== undefined;

async function profileColumn(
  lf: pl.LazyDataFrame,
  slices: pl.LazyDataFrame[],
  name: string,
  type: ColumnType,
  dtype: DataType,
  i: number,
  rows: number,
  partials: Record<string, unknown>[],
): Promise<ColumnProfile> {
  const nulls = partials.reduce((s, p) => s + num(p[`nulls${i}`]), 0);
  const out: ColumnProfile = { name, type, count: rows - nulls, nulls, nullFraction: rows ? nulls / rows : 0, distinct: 0 };

  if (type === 'string' || type === 'category' || type === 'bool') {
    const counts = await valueCounts(slices, name);
    out.distinct = counts.height;
    out.top = counts
      .sort(['count', 'value'], [true, false])
      .head(TOP_CATEGORIES)
      .toRecords()
      .map((r) => ({ value: String(r.value), count: num(r.count) }));
    return out;
  }

  out.distinct = await distinctCount(slices, name);
  const mins = partials.map((p) => p[`min${i}`]).filter(present).map(num);
  const maxs = partials.map((p) => p[`max${i}`]).filter(present).map(num);

  if (type === 'date' || type === 'timestamp') {
    if (mins.length) {
      const fmt = type === 'date' ? '%Y-%m-%d' : '%Y-%m-%dT%H:%M:%S%.6fZ';
      const back = (v: number) => (type === 'date' ? pl.lit(v).cast(pl.Int32).cast(pl.Date) : pl.lit(v).cast(pl.Int64).cast(pl.Datetime('us', 'UTC')));
      const r = pl.select(back(Math.min(...mins)).dt.strftime(fmt).alias('min'), back(Math.max(...maxs)).dt.strftime(fmt).alias('max')).toRecords()[0] as Record<string, unknown>;
      out.temporal = { min: String(r.min), max: String(r.max) };
    }
    return out;
  }

  // int64, float64
  if (type === 'float64') out.nonFinite = partials.reduce((s, p) => s + num(p[`nonfinite${i}`]), 0);
  const m = partials
    .map((p) => ({ n: num(p[`n${i}`]), mean: num(p[`mean${i}`]), m2: num(p[`n${i}`]) > 1 ? num(p[`var${i}`]) * (num(p[`n${i}`]) - 1) : 0 }))
    .reduce(mergeMoments, { n: 0, mean: 0, m2: 0 });
  if (!m.n) return out;
  const min = Math.min(...mins);
  const max = Math.max(...maxs);
  const numeric: NumericProfile = {
    min,
    max,
    mean: m.mean,
    std: m.n >= 2 ? Math.sqrt(m.m2 / (m.n - 1)) : null,
    quantiles: { p0: min, p5: min, p25: min, p50: min, p75: min, p95: min, p100: max },
    histogram: { edges: [], counts: [] },
  };
  const bins = await binPass(slices, name, type, min, max);
  numeric.histogram = bins.histogram;
  numeric.quantiles = await quantiles(slices, name, type, m.n, min, max, bins.fine);
  if (type === 'int64') {
    const exact = (k: string, pick: (a: bigint, b: bigint) => bigint) =>
      partials
        .map((p) => p[k])
        .filter(present)
        .map((v) => BigInt(String(v)))
        .reduce(pick)
        .toString();
    numeric.minExact = exact(`minx${i}`, (a, b) => (b < a ? b : a));
    numeric.maxExact = exact(`maxx${i}`, (a, b) => (b > a ? b : a));
  }
  out.numeric = numeric;
  return out;
}

/**
 * Exact quantiles (linear interpolation between the order statistics around q·(n-1)), in bounded
 * memory: a fine histogram over [min, max] locates the bin of each order statistic needed; the
 * distinct values of just those bins, with their counts, give the order statistics themselves.
 */
async function quantiles(slices: pl.LazyDataFrame[], name: string, type: ColumnType, n: number, min: number, max: number, binCounts: number[]): Promise<NumericProfile['quantiles']> {
  const positions = PROFILE_QUANTILES.map((q) => PROFILE_QUANTILE_LEVELS[q] * (n - 1));
  const ranks = [...new Set(positions.flatMap((p) => [Math.floor(p), Math.ceil(p)]))];
  const at = new Map<number, number>();
  if (min === max) {
    for (const k of ranks) at.set(k, min);
  } else {
    const fine = fineBin(finite(name, type), min, max);
    // The bin of each rank, and the rank's position inside it.
    const where = new Map<number, { bin: number; offset: number }>();
    let before = 0;
    let next = 0;
    const sorted = ranks.slice().sort((a, b) => a - b);
    for (let b = 0; b < FINE_BINS && next < sorted.length; b++) {
      while (next < sorted.length && sorted[next]! < before + binCounts[b]!) {
        where.set(sorted[next]!, { bin: b, offset: sorted[next]! - before });
        next++;
      }
      before += binCounts[b]!;
    }
    const bins = [...new Set([...where.values()].map((w) => w.bin))];
    let merged: pl.DataFrame | undefined;
    for (const part of slices) {
      const df = await part
        .select(fine.alias('bin'), finite(name, type).alias('value'))
        .filter(pl.col('bin').isIn(bins))
        .groupBy(['bin', 'value'])
        .agg(pl.len().cast(pl.Float64).alias('count'))
        .collect();
      merged = merged ? pl.concat([merged, df]).groupBy(['bin', 'value']).agg(pl.col('count').sum().alias('count')) : df;
    }
    const byBin = new Map<number, { value: number; count: number }[]>();
    for (const r of merged!.sort(['bin', 'value']).toRecords()) {
      const b = num(r.bin);
      if (!byBin.has(b)) byBin.set(b, []);
      byBin.get(b)!.push({ value: num(r.value), count: num(r.count) });
    }
    for (const [k, w] of where) {
      let seen = 0;
      for (const v of byBin.get(w.bin) ?? []) {
        seen += v.count;
        if (w.offset < seen) {
          at.set(k, v.value);
          break;
        }
      }
    }
  }
  const entries = PROFILE_QUANTILES.map((q, j) => {
    const p = positions[j]!;
    const lo = at.get(Math.floor(p))!;
    const hi = at.get(Math.ceil(p))!;
    return [q, lo + (hi - lo) * (p - Math.floor(p))];
  });
  return Object.fromEntries(entries) as NumericProfile['quantiles'];
}

/** Distinct non-null values, merged slice by slice. */
async function distinctCount(slices: pl.LazyDataFrame[], name: string): Promise<number> {
  if (slices.length === 1) return num((await one(slices[0]!, pl.col(name).dropNulls().nUnique().cast(pl.Float64).alias('d'))).d);
  let merged: pl.DataFrame | undefined;
  for (const part of slices) {
    const u = await part.select(pl.col(name).dropNulls().unique().alias('v')).collect();
    merged = merged ? pl.concat([merged, u]).unique() : u;
  }
  return merged!.height;
}

/** The 20 equal-width bins of the profile (numpy.histogram's) and the fine bins that locate quantiles, in one pass. */
async function binPass(slices: pl.LazyDataFrame[], name: string, type: ColumnType, min: number, max: number): Promise<{ histogram: NumericProfile['histogram']; fine: number[] }> {
  const [lo, hi] = min === max ? [min - 0.5, max + 0.5] : [min, max];
  const width = (hi - lo) / HISTOGRAM_BINS;
  const edges = Array.from({ length: HISTOGRAM_BINS + 1 }, (_, i) => (i === HISTOGRAM_BINS ? hi : lo + i * width));
  const v = finite(name, type);
  const coarse = v.sub(pl.lit(lo)).div(pl.lit(width)).floor().clip(0, HISTOGRAM_BINS - 1).cast(pl.Int32);
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  const fine = new Array<number>(FINE_BINS).fill(0);
  for (const part of slices) {
    const df = await part
      .select(coarse.alias('c'), fineBin(v, min, max).alias('f'))
      .groupBy(['c', 'f'])
      .agg(pl.len().cast(pl.Float64).alias('n'))
      .collect();
    // At most HISTOGRAM_BINS + FINE_BINS rows.
    for (const r of df.toRecords()) {
      counts[num(r.c)]! += num(r.n);
      fine[num(r.f)]! += num(r.n);
    }
  }
  return { histogram: { edges, counts }, fine };
}

function fineBin(v: pl.Expr, min: number, max: number): pl.Expr {
  const width = max > min ? (max - min) / FINE_BINS : 1;
  return v.sub(pl.lit(min)).div(pl.lit(width)).floor().clip(0, FINE_BINS - 1).cast(pl.Int32);
}

/** (value, count) of the non-null values as text, merged slice by slice. */
async function valueCounts(slices: pl.LazyDataFrame[], name: string): Promise<pl.DataFrame> {
  let merged: pl.DataFrame | undefined;
  for (const part of slices) {
    const counts = await part
      .select(pl.col(name).dropNulls().cast(pl.Utf8).alias('value'))
      .groupBy('value')
      .agg(pl.len().cast(pl.Float64).alias('count'))
      .collect();
    merged = merged ? pl.concat([merged, counts]).groupBy('value').agg(pl.col('count').sum().alias('count')) : counts;
  }
  return merged!;
}
