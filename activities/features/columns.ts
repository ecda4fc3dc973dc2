import pl, { type DataType } from 'nodejs-polars';
import type { ColumnType, DatasetSchema } from '../../pipelines/steps/dataset';
import type { FeatureType } from '../../pipelines/steps/features';
import { invalidInput, SluiceFailure } from '../../pipelines/failures';

/**
 * Column conventions shared by the feature modules. A feature frame (offline part, input of the
 * point-in-time join) has the columns [...entities, event_ts, created_ts, ...features]:
 * entity keys as String or Int64, both timestamps as Datetime without a zone, meaning UTC, in
 * the unit the source had (ms, us or ns: never truncated), and features as
 * Int64 | Float64 | Bool | String | Datetime('ms').
 */

export const EVENT_TS = 'event_ts';
export const CREATED_TS = 'created_ts';

export const POLARS_FEATURE_TYPE: Record<FeatureType, DataType> = {
  int64: pl.Int64,
  float64: pl.Float64,
  bool: pl.Bool,
  string: pl.Utf8,
  timestamp: pl.Datetime('ms'),
};

const INTS = new Set(['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64']);

/** The feature type a polars column maps to, or undefined when there is none. */
export function featureTypeOf(dtype: DataType): FeatureType | undefined {
  const v = dtype.variant as string;
  if (INTS.has(v)) return 'int64';
  if (v === 'Float32' || v === 'Float64') return 'float64';
  if (v === 'Bool') return 'bool';
  if (v === 'Utf8' || v === 'String' || v === 'Categorical' || v === 'Enum') return 'string';
  if (v === 'Datetime' || v === 'Date') return 'timestamp';
  return undefined;
}

/** Entity keys are strings or integers (they index the online table and join training sets). */
export type KeyType = 'string' | 'int64';

export function keyTypeOf(dtype: DataType): KeyType | undefined {
  const t = featureTypeOf(dtype);
  return t === 'string' || t === 'int64' ? t : undefined;
}

/** Polars' time units, coarse to fine. */
export type TimeUnit = 'ms' | 'us' | 'ns';
const UNITS: TimeUnit[] = ['ms', 'us', 'ns'];
/** How many of `unit` make one millisecond. */
export const PER_MS: Record<TimeUnit, number> = { ms: 1, us: 1_000, ns: 1_000_000 };

/** The unit a Date or Datetime column holds its times in (a Date is whole days: milliseconds lose nothing); undefined for other types. */
export function timeUnitOf(dtype: DataType): TimeUnit | undefined {
  const v = dtype.variant as string;
  if (v === 'Date') return 'ms';
  if (v !== 'Datetime') return undefined;
  const u = (dtype as unknown as { timeUnit?: string }).timeUnit;
  return UNITS.includes(u as TimeUnit) ? (u as TimeUnit) : 'us';
}

/** The finest of some units: comparing in it casts the coarser up (exact) and never truncates the finer. */
export function finestUnit(...units: TimeUnit[]): TimeUnit {
  return units.reduce((a, b) => (UNITS.indexOf(b) > UNITS.indexOf(a) ? b : a), 'ms');
}

/**
 * `expr` (of type `dtype`) as a Datetime without a zone, in UTC, in `unit` (default: its own).
 * Pass a unit no coarser than the column's: a coarser one would truncate, so that an event a
 * fraction of a millisecond after an entity time would compare as before it. Undefined for
 * types other than Date and Datetime.
 */
export function utcTimeExpr(expr: pl.Expr, dtype: DataType, unit?: TimeUnit): pl.Expr | undefined {
  const own = timeUnitOf(dtype);
  if (!own) return undefined;
  const u = unit ?? own;
  const tz = (dtype as unknown as { timeZone?: string | null }).timeZone;
  // A zoned datetime's physical value is UTC already: change the unit keeping the zone, then drop it.
  return tz ? expr.cast(pl.Datetime(u, tz)).cast(pl.Int64).cast(pl.Datetime(u)) : expr.cast(pl.Datetime(u));
}

/** `expr` (of type `dtype`) as Datetime('ms') without a zone, in UTC (feature values); undefined for other types. */
export function utcMillisExpr(expr: pl.Expr, dtype: DataType): pl.Expr | undefined {
  return utcTimeExpr(expr, dtype, 'ms');
}

/** Casts a column of a known feature type to its canonical polars type. */
export function canonicalExpr(expr: pl.Expr, dtype: DataType, type: FeatureType): pl.Expr {
  if (type === 'timestamp') {
    const ts = utcMillisExpr(expr, dtype);
    if (ts) return ts;
  }
  return expr.cast(POLARS_FEATURE_TYPE[type], true);
}

export function columnTypeOf(dtype: DataType): ColumnType {
  const v = dtype.variant as string;
  if (INTS.has(v)) return 'int64';
  if (v === 'Float32' || v === 'Float64') return 'float64';
  if (v === 'Bool') return 'bool';
  if (v === 'Categorical' || v === 'Enum') return 'category';
  if (v === 'Date') return 'date';
  if (v === 'Datetime') return 'timestamp';
  return 'string';
}

/** A frame's schema as dataset refs carry it. */
export function frameSchema(df: pl.DataFrame): DatasetSchema {
  return df.columns.map((name) => {
    const s = df.getColumn(name);
    return { name, type: columnTypeOf(s.dtype), nullable: s.nullCount() > 0 };
  });
}

/** Milliseconds since the epoch of an ISO time from a step input (a bare date is midnight UTC). */
export function parseTime(iso: string, what: string): number {
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw invalidInput(`${what}: ${JSON.stringify(iso)} is not an ISO 8601 time`);
  return ms;
}

/** Wraps a polars failure on user data (a type mismatch in an expression, say) as bad input. */
export function polarsOrInvalid<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SluiceFailure) throw e;
    throw invalidInput(`${what}: ${(e as Error).message}`);
  }
}
