import { z } from 'zod';
import { columnType } from './dataset';

/**
 * The statistical profile of a dataset version: what ingestion records next to every version (in
 * PostgreSQL and as a JSON artifact) and what later stages (validation, drift) compare against.
 *
 * Conventions, fixed here so that every consumer reads the numbers the same way:
 * - `count` is the number of non-null values, `nulls` the number of nulls; `count + nulls = rows`.
 * - Numeric statistics (int64, float64) are over the *finite* values: NaN and ±Infinity of float
 *   columns are counted in `nonFinite` and left out of min/max/mean/std/quantiles/histogram.
 * - `std` is the sample standard deviation (ddof = 1, as pandas' default); null with fewer than
 *   two finite values.
 * - Quantiles use linear interpolation between order statistics (numpy's default 'linear',
 *   polars' 'linear'): p0 is the minimum, p100 the maximum.
 * - The histogram has 20 equal-width bins from min to max, as numpy.histogram(bins=20): each bin
 *   is [left, right) except the last, which is [left, right]; when min = max the range is
 *   [min - 0.5, max + 0.5]. Its counts add up to the number of finite values.
 * - `top` (string, category and bool columns): the 10 most frequent values with their counts,
 *   most frequent first, ties by value; bools as "true" / "false".
 * - Dates and timestamps: min and max as ISO 8601 strings (`2024-03-01`,
 *   `2024-03-01T12:34:56.789000Z`; timestamps are stored in UTC).
 * - int64 extremes beyond 2^53 cannot be JSON numbers exactly: `min`/`max` are the nearest doubles
 *   and `minExact`/`maxExact` carry the exact decimal text.
 */

export const PROFILE_QUANTILES = ['p0', 'p5', 'p25', 'p50', 'p75', 'p95', 'p100'] as const;
export const PROFILE_QUANTILE_LEVELS: Record<(typeof PROFILE_QUANTILES)[number], number> = {
  p0: 0,
  p5: 0.05,
  p25: 0.25,
  p50: 0.5,
  p75: 0.75,
  p95: 0.95,
  p100: 1,
};
export const HISTOGRAM_BINS = 20;
export const TOP_CATEGORIES = 10;

const count = z.number().int().nonnegative();

export const profileQuantiles = z.object({
  p0: z.number(),
  p5: z.number(),
  p25: z.number(),
  p50: z.number(),
  p75: z.number(),
  p95: z.number(),
  p100: z.number(),
});

export const profileHistogram = z.object({
  /** HISTOGRAM_BINS + 1 ascending bin edges. */
  edges: z.array(z.number()).length(HISTOGRAM_BINS + 1),
  counts: z.array(count).length(HISTOGRAM_BINS),
});

export const numericProfile = z.object({
  min: z.number(),
  max: z.number(),
  /** Exact decimal text of int64 extremes (present for int64 columns). */
  minExact: z.string().optional(),
  maxExact: z.string().optional(),
  mean: z.number(),
  /** Sample standard deviation (ddof = 1); null with fewer than two values. */
  std: z.number().nullable(),
  quantiles: profileQuantiles,
  histogram: profileHistogram,
});

export const temporalProfile = z.object({
  min: z.string(),
  max: z.string(),
});

export const categoryCount = z.object({ value: z.string(), count });

export const columnProfile = z.object({
  name: z.string(),
  type: columnType,
  /** Non-null values. */
  count,
  nulls: count,
  /** nulls / rows (0 for an empty dataset). */
  nullFraction: z.number().min(0).max(1),
  /** Distinct non-null values (exact). */
  distinct: count,
  /** float64 only: NaN and ±Infinity values (left out of the numeric statistics). */
  nonFinite: count.optional(),
  /** int64 and float64 columns with at least one finite value. */
  numeric: numericProfile.optional(),
  /** date and timestamp columns with at least one value. */
  temporal: temporalProfile.optional(),
  /** string, category and bool columns: the most frequent values. */
  top: z.array(categoryCount).max(TOP_CATEGORIES).optional(),
});

export const datasetProfile = z.object({
  /** Version of this JSON shape. */
  profileVersion: z.literal(1),
  rows: count,
  columns: z.array(columnProfile),
});

export type ProfileQuantiles = z.infer<typeof profileQuantiles>;
export type NumericProfile = z.infer<typeof numericProfile>;
export type ColumnProfile = z.infer<typeof columnProfile>;
export type DatasetProfile = z.infer<typeof datasetProfile>;
