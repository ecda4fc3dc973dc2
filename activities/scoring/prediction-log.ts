import pl from 'nodejs-polars';
import { PREDICTION, probaColumn } from './common';

/**
 * The prediction log of a scoring run: summary statistics of what was predicted (count; the value
 * distribution for regression: mean, std, min, max, quantiles; the class distribution for
 * classification: counts, shares, mean probability per class) and an evenly spread sample of rows.
 */

export const QUANTILES = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99] as const;

export interface PredictionSummary {
  count: number;
  task: 'binary' | 'multiclass' | 'regression';
  value?: { mean: number | null; std: number | null; min: number | null; max: number | null; nan: number; quantiles: Record<string, number | null> };
  classes?: { label: string | number; count: number; share: number; meanProbability: number | null }[];
}

const num = (v: unknown): number | null => (v === null || v === undefined || Number.isNaN(Number(v)) ? null : Number(v));

/** Polars queries run off the event loop (collect(), not collectSync()): finalize publishes meanwhile. */
export async function summarizePredictions(lazy: pl.LazyDataFrame, task: PredictionSummary['task'], classes: readonly (string | number)[]): Promise<PredictionSummary> {
  const count = Number((await lazy.select(pl.len().alias('n')).collect()).getColumn('n').get(0));
  if (task === 'regression') {
    const v = pl.col(PREDICTION).fillNan(null);
    const stats = (await lazy
      .select(
        v.mean().alias('mean'),
        v.std().alias('std'),
        v.min().alias('min'),
        v.max().alias('max'),
        pl.col(PREDICTION).isNan().sum().alias('nan'),
        ...QUANTILES.map((q) => v.quantile(q).alias(`q${q}`)),
      )
      .collect())
      .toRecords()[0]!;
    return {
      count,
      task,
      value: {
        mean: num(stats.mean),
        std: num(stats.std),
        min: num(stats.min),
        max: num(stats.max),
        nan: Number(stats.nan ?? 0),
        quantiles: Object.fromEntries(QUANTILES.map((q) => [String(q), num(stats[`q${q}`])])),
      },
    };
  }
  const schema = (await lazy.limit(0).collect()).columns;
  const probaCols = classes.map((c) => probaColumn(c)).filter((c) => schema.includes(c));
  const [grouped, meanFrame] = await Promise.all([
    lazy.groupBy(PREDICTION).agg(pl.len().alias('n')).collect(),
    probaCols.length ? lazy.select(...probaCols.map((c) => pl.col(c).mean().alias(c))).collect() : Promise.resolve(undefined),
  ]);
  // Keyed as the classes print: a boolean label is counted under its class, "true" or 1.
  const counts = new Map(grouped.toRecords().flatMap((r) => {
    const v = r[PREDICTION];
    return typeof v === 'boolean' ? [[String(v), Number(r.n)] as const, [String(Number(v)), Number(r.n)] as const] : [[String(v), Number(r.n)] as const];
  }));
  const means = meanFrame ? meanFrame.toRecords()[0]! : {};
  return {
    count,
    task,
    classes: classes.map((label) => {
      const n = counts.get(String(label)) ?? 0;
      return { label, count: n, share: count ? n / count : 0, meanProbability: num(means[probaColumn(label)]) };
    }),
  };
}

/** Up to `n` rows spread evenly over the predictions (deterministic). */
export async function samplePredictions(lazy: pl.LazyDataFrame, rows: number, n: number): Promise<Record<string, unknown>[]> {
  if (n <= 0 || rows === 0) return [];
  const step = Math.max(1, Math.floor(rows / n));
  const df = await lazy
    .withRowIndex('__i')
    .filter(pl.col('__i').modulo(step).eq(0))
    .limit(n)
    .drop('__i')
    .collect();
  return df.toRecords().map((r) => Object.fromEntries(Object.entries(r).map(([k, v]: [string, unknown]) => [k, typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.toISOString() : typeof v === 'number' && !Number.isFinite(v) ? null : v])));
}
