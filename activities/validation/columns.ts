import pl, { type DataType } from 'nodejs-polars';
import type { ColumnType } from '../../pipelines/steps/dataset';

/**
 * Column helpers shared by the evaluators and the comparison: the dataset contract's type of a
 * polars column, what "missing" means, and turning polars values into JSON.
 */

const INTS = new Set(['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64']);
const FLOATS = new Set(['Float32', 'Float64', 'Decimal']);

/** The DatasetRef column type of a polars dtype; undefined for types outside the contract (lists, structs…). */
export function columnTypeOf(dtype: DataType): ColumnType | undefined {
  const v = dtype.variant;
  if (INTS.has(v)) return 'int64';
  if (FLOATS.has(v)) return 'float64';
  switch (v) {
    case 'Bool':
      return 'bool';
    case 'String':
    case 'Utf8':
      return 'string';
    case 'Categorical':
      return 'category';
    case 'Date':
      return 'date';
    case 'Datetime':
      return 'timestamp';
    default:
      return undefined;
  }
}

/** The contract's type name, or the polars one (`List`, `Struct`…) for anything else. */
export function typeName(dtype: DataType): string {
  return columnTypeOf(dtype) ?? dtype.variant;
}

export const isFloat = (dtype: DataType) => dtype.variant === 'Float32' || dtype.variant === 'Float64';
export const isNumeric = (dtype: DataType) => INTS.has(dtype.variant) || FLOATS.has(dtype.variant);
export const isStringLike = (dtype: DataType) => dtype.variant === 'String' || dtype.variant === 'Utf8' || dtype.variant === 'Categorical';

/** Missing as pandas (and so GE) sees it: null, and NaN in float columns. */
export function missing(name: string, dtype: DataType): pl.Expr {
  const c = pl.col(name);
  return isFloat(dtype) ? c.isNull().or(c.isNan()).fillNull(true) : c.isNull();
}

export function present(name: string, dtype: DataType): pl.Expr {
  return missing(name, dtype).not();
}

/** The column as values to compare: categoricals as their strings, Decimal as float. */
export function values(name: string, dtype: DataType): pl.Expr {
  if (dtype.variant === 'Categorical') return pl.col(name).cast(pl.String);
  if (dtype.variant === 'Decimal') return pl.col(name).cast(pl.Float64);
  return pl.col(name);
}

/** A column name not already in the frame, for the row index. */
export function freshName(columns: readonly string[], base: string): string {
  const taken = new Set(columns);
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
  return name;
}

/**
 * A polars value as JSON: dates as ISO strings, bigints as numbers when exact (else strings),
 * non-finite floats as the strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers).
 */
export function jsonValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Array.isArray(v)) return v.map(jsonValue);
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, jsonValue(x)]));
  return v;
}

/** A number for the report: non-finite as null. */
export function finiteOrNull(v: unknown): number | null {
  if (typeof v === 'bigint') return Number(v);
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function percent(part: number, whole: number): number | null {
  return whole === 0 ? null : (part / whole) * 100;
}
