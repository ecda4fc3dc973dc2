import pl, { type DataType } from 'nodejs-polars';
import type { ColumnType } from '../../pipelines/steps/dataset';
import type { DeclaredColumn } from '../../pipelines/steps/ingestion';
import { NAN, NEG_INF, POS_INF, strToDate, strToTimestampUtc, variantOf } from './polars';
import { invalidInput } from '../../pipelines/failures';

/**
 * Column types: what a dataset stores, how source columns map to it (inferred or declared), and
 * the polars expressions that convert them, flagging the values that do not fit. Every conversion
 * is a vectorized expression; no row is touched from JavaScript.
 *
 * Storage: int64 -> Int64, float64 -> Float64, bool -> Boolean, string -> Utf8, date -> Date,
 * timestamp -> Datetime(us, UTC) (naive source timestamps are read as UTC), category -> Categorical.
 */

/** Internal columns: the 0-based record index in the source, and why a row is bad. */
export const ROW = '__sluice_row__';
export const REASON = '__sluice_reason__';

/**
 * How a source's types are inferred: `text` (CSV, TSV: every column is text, its type inferred
 * from all of its values), `json` (JSON types kept; strings that are all dates or timestamps become
 * dates or timestamps), `typed` (Parquet, PostgreSQL: the source's own types).
 */
export type InferenceMode = 'text' | 'json' | 'typed';

export interface SourceColumn {
  name: string;
  dtype: DataType;
}

export interface ColumnPlan {
  name: string;
  to: ColumnType;
  /** Declared nullability; undefined: whatever the data holds. */
  nullable?: boolean;
  /** Declared strftime spelling of a date or timestamp column's text. */
  format?: string;
}

export function outputDtype(t: ColumnType): DataType {
  switch (t) {
    case 'int64':
      return pl.Int64;
    case 'float64':
      return pl.Float64;
    case 'float32':
      return pl.Float32;
    case 'bool':
      return pl.Bool;
    case 'string':
      return pl.Utf8;
    case 'date':
      return pl.Date;
    case 'timestamp':
      return pl.Datetime('us', 'UTC');
    case 'category':
      return pl.Categorical;
  }
}

type Family = 'int' | 'uint64' | 'float' | 'bool' | 'string' | 'category' | 'date' | 'timestamp' | 'null';

function familyOf(d: DataType): Family | undefined {
  switch (variantOf(d)) {
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'Int64':
    case 'UInt8':
    case 'UInt16':
    case 'UInt32':
      return 'int';
    case 'UInt64':
      return 'uint64';
    case 'Float32':
    case 'Float64':
    case 'Decimal':
      return 'float';
    case 'Bool':
      return 'bool';
    case 'Utf8':
    case 'String':
      return 'string';
    case 'Categorical':
    case 'Enum':
      return 'category';
    case 'Date':
      return 'date';
    case 'Datetime':
      return 'timestamp';
    case 'Null':
      return 'null';
    default:
      return undefined;
  }
}

const FAMILY_TYPE: Record<Family, ColumnType> = {
  int: 'int64',
  uint64: 'int64',
  float: 'float64',
  bool: 'bool',
  string: 'string',
  category: 'category',
  date: 'date',
  timestamp: 'timestamp',
  null: 'string',
};

/** The dataset column type a polars dtype is stored as; undefined for what datasets cannot hold (lists, structs, binary, time, duration). */
export function columnTypeOfDtype(d: DataType): ColumnType | undefined {
  const f = familyOf(d);
  return f && FAMILY_TYPE[f];
}

// --- parsing text ---------------------------------------------------------------------------

/** Text that means "no value" in a typed (non-string) column, after trimming spaces (pandas-like). */
export const NULL_TOKENS = ['', 'NA', 'N/A', 'NULL', 'null', 'None', 'none', 'nil'];
const TRUE_TOKENS = ['true', 't', 'yes', 'y', '1'];
const FALSE_TOKENS = ['false', 'f', 'no', 'n', '0'];
/**
 * ISO 8601 forms, with an offset (converted to UTC) or without (read as UTC), and plain dates
 * (midnight); also year-first forms with slashes (2001/01/31 06:55), common in exports and never
 * ambiguous (unlike day- or month-first ones, which are left to a declared schema's text column).
 */
const TIMESTAMP_FORMATS = [
  '%Y-%m-%dT%H:%M:%S%.f%#z',
  '%Y-%m-%d %H:%M:%S%.f%#z',
  '%Y-%m-%dT%H:%M:%S%.f',
  '%Y-%m-%d %H:%M:%S%.f',
  '%Y-%m-%dT%H:%M%#z',
  '%Y-%m-%dT%H:%M',
  '%Y-%m-%d %H:%M',
  '%Y-%m-%d',
  '%Y/%m/%d %H:%M:%S',
  '%Y/%m/%d %H:%M',
  '%Y/%m/%d',
];

/** Trimmed text, null for the null tokens. */
function normalized(e: pl.Expr): pl.Expr {
  const t = e.str.strip();
  return pl.when(t.isIn(NULL_TOKENS)).then(pl.lit(null).cast(pl.Utf8)).otherwise(t);
}

/**
 * Text -> `to`. Unparseable values give null. `inferring`: only the unambiguous spellings count
 * (booleans must be true/false), so that inference does not turn 0/1 or y/n columns into booleans.
 */
export function parseText(e: pl.Expr, to: ColumnType, inferring = false, format?: string): pl.Expr {
  switch (to) {
    case 'string':
      return e;
    case 'category':
      return e.cast(pl.Categorical);
    case 'int64':
      return normalized(e).cast(pl.Int64, false);
    case 'float64': {
      const n = normalized(e);
      const lower = n.str.toLowerCase();
      return pl
        .when(lower.isIn(['nan', '+nan', '-nan']))
        .then(NAN())
        .when(lower.isIn(['inf', '+inf', 'infinity', '+infinity']))
        .then(POS_INF())
        .when(lower.isIn(['-inf', '-infinity']))
        .then(NEG_INF())
        .otherwise(n.cast(pl.Float64, false));
    }
    case 'float32':
      return parseText(e, 'float64', inferring).cast(pl.Float32);
    case 'bool': {
      const lower = normalized(e).str.toLowerCase();
      return pl
        .when(lower.isIn(inferring ? ['true'] : TRUE_TOKENS))
        .then(pl.lit(true))
        .when(lower.isIn(inferring ? ['false'] : FALSE_TOKENS))
        .then(pl.lit(false))
        .otherwise(pl.lit(null).cast(pl.Bool));
    }
    case 'date':
      return strToDate(normalized(e), format ?? '%Y-%m-%d');
    case 'timestamp': {
      const n = normalized(e);
      if (format) return strToTimestampUtc(n, format);
      let out = strToTimestampUtc(n, TIMESTAMP_FORMATS[0]!);
      for (const f of TIMESTAMP_FORMATS.slice(1)) out = out.fillNull(strToTimestampUtc(n, f));
      return out;
    }
  }
}

/** Text of an integer too long for int64 maybe (int64 has at most 19 digits): such a value is never read as a float. */
const LONG_INTEGER = '^-?[0-9]{19,}$';

/** Candidates tried in order when inferring a text column's type; none fitting: string. */
const TEXT_CANDIDATES: ColumnType[] = ['int64', 'float64', 'bool', 'date', 'timestamp'];
const JSON_STRING_CANDIDATES: ColumnType[] = ['date', 'timestamp'];

/**
 * The type of each text column: the first candidate that parses every non-null value, over the
 * whole column (one aggregate pass, streamed by polars), not a sample. A column of integers where
 * some are outside the int64 range is int64, those values bad rows: read as float64, every value
 * beyond 2^53 would be rounded without a word.
 */
export async function inferTextTypes(lf: pl.LazyDataFrame, names: string[], candidates: ColumnType[]): Promise<Map<string, ColumnType>> {
  const out = new Map<string, ColumnType>();
  if (!names.length) return out;
  const exprs: pl.Expr[] = [];
  names.forEach((name, i) => {
    exprs.push(normalized(pl.col(name)).isNotNull().sum().alias(`n${i}`));
    candidates.forEach((c, j) => exprs.push(parseText(pl.col(name), c, true).isNotNull().sum().alias(`c${i}_${j}`)));
    if (candidates.includes('int64')) exprs.push(parseText(pl.col(name), 'int64').isNull().and(normalized(pl.col(name)).str.contains(LONG_INTEGER)).sum().alias(`big${i}`));
  });
  const rec = (await lf.select(...exprs).collect()).toRecords()[0] ?? {};
  const num = (k: string) => Number(rec[k] ?? 0);
  names.forEach((name, i) => {
    const n = num(`n${i}`);
    const hit = n > 0 ? candidates.findIndex((_c, j) => num(`c${i}_${j}`) === n) : -1;
    const int = candidates.indexOf('int64');
    const tooBig = int >= 0 && num(`big${i}`) > 0 && num(`c${i}_${int}`) + num(`big${i}`) === n;
    out.set(name, tooBig ? 'int64' : hit >= 0 ? candidates[hit]! : 'string');
  });
  return out;
}

// --- plans ------------------------------------------------------------------------------------

/**
 * Decides each column's type: declared (input schema) > known (PostgreSQL's column types) >
 * inferred. Throws InvalidInput for a declared column the source lacks, a type datasets cannot hold,
 * or a declared type the source's type cannot be converted to.
 */
export async function planColumns(
  lf: pl.LazyDataFrame,
  columns: SourceColumn[],
  opts: { mode: InferenceMode; label: string; declared?: DeclaredColumn[]; known?: Map<string, ColumnType> },
): Promise<ColumnPlan[]> {
  const declared = new Map((opts.declared ?? []).map((c) => [c.name, c]));
  const names = new Set(columns.map((c) => c.name));
  for (const d of declared.keys()) {
    if (!names.has(d)) {
      throw invalidInput(`${opts.label}: declared column ${JSON.stringify(d)} is not in the source (its columns: ${columns.map((c) => JSON.stringify(c.name)).join(', ')})`);
    }
  }
  const toInfer = columns
    .filter((c) => !declared.has(c.name) && !opts.known?.has(c.name) && familyOf(c.dtype) === 'string' && opts.mode !== 'typed')
    .map((c) => c.name);
  const inferred = await inferTextTypes(lf, toInfer, opts.mode === 'text' ? TEXT_CANDIDATES : JSON_STRING_CANDIDATES);

  return columns.map((c) => {
    const d = declared.get(c.name);
    const family = familyOf(c.dtype);
    const to = d?.type ?? opts.known?.get(c.name) ?? inferred.get(c.name) ?? (family && FAMILY_TYPE[family]);
    if (!family || !to) {
      throw invalidInput(
        `${opts.label}: column ${JSON.stringify(c.name)} has type ${String(c.dtype)}, which a dataset cannot hold ` +
          `(flat columns of int64, float64, bool, string, date, timestamp or category): flatten or convert it before ingesting`,
      );
    }
    if (!conversion(family, to)) {
      throw invalidInput(`${opts.label}: column ${JSON.stringify(c.name)} is ${FAMILY_TYPE[family]} (${String(c.dtype)}) in the source and cannot be converted to the declared type ${to}`);
    }
    if (d?.format && family !== 'string' && family !== 'category') {
      throw invalidInput(`${opts.label}: column ${JSON.stringify(c.name)} is ${FAMILY_TYPE[family]} (${String(c.dtype)}) in the source, not text: its declared format applies only to text`);
    }
    return { name: c.name, to, nullable: d?.nullable, ...(d?.format ? { format: d.format } : {}) };
  });
}

// --- conversion expressions -----------------------------------------------------------------

interface Conversion {
  value: (e: pl.Expr) => pl.Expr;
  /** Some values may not convert (they become bad rows). */
  fallible: boolean;
}

function conversion(from: Family, to: ColumnType, format?: string): Conversion | undefined {
  const cast = (d: DataType) => ({ value: (e: pl.Expr) => e.cast(d), fallible: false });
  if (from === 'string' || from === 'category') {
    const asText = (e: pl.Expr) => (from === 'category' ? e.cast(pl.Utf8) : e);
    return { value: (e) => parseText(asText(e), to, false, format), fallible: to !== 'string' && to !== 'category' };
  }
  if (from === 'null') return cast(outputDtype(to));
  switch (to) {
    case 'string':
      return cast(pl.Utf8);
    case 'category':
      return { value: (e) => e.cast(pl.Utf8).cast(pl.Categorical), fallible: false };
    case 'int64':
      if (from === 'int' || from === 'bool') return cast(pl.Int64);
      if (from === 'uint64') return { value: (e) => e.cast(pl.Int64, false), fallible: true };
      if (from === 'float') return { value: (e) => pl.when(e.isFinite().and(e.eq(e.floor()))).then(e.cast(pl.Int64, false)).otherwise(pl.lit(null).cast(pl.Int64)), fallible: true };
      return undefined;
    case 'float64':
      return from === 'int' || from === 'uint64' || from === 'float' || from === 'bool' ? cast(pl.Float64) : undefined;
    case 'bool':
      if (from === 'bool') return cast(pl.Bool);
      if (from === 'int' || from === 'uint64' || from === 'float') {
        return { value: (e) => pl.when(e.eq(1)).then(pl.lit(true)).when(e.eq(0)).then(pl.lit(false)).otherwise(pl.lit(null).cast(pl.Bool)), fallible: true };
      }
      return undefined;
    case 'date':
      return from === 'date' || from === 'timestamp' ? cast(pl.Date) : undefined;
    case 'timestamp':
      return from === 'date' || from === 'timestamp' ? cast(pl.Datetime('us', 'UTC')) : undefined;
  }
}

export interface Coercion {
  /** One expression per column, named as the column, of its stored dtype. */
  values: pl.Expr[];
  /** Why a row is bad (a string) or null; undefined when no row can be bad. */
  reason?: pl.Expr;
}

/** The expressions that turn source columns into dataset columns, and flag rows that cannot be. */
export function coercion(columns: SourceColumn[], plans: ColumnPlan[]): Coercion {
  const values: pl.Expr[] = [];
  const reasons: pl.Expr[] = [];
  plans.forEach((p, i) => {
    const src = columns[i]!;
    const family = familyOf(src.dtype)!;
    const conv = conversion(family, p.to, p.format)!;
    const e = pl.col(p.name);
    const value = conv.value(e).cast(outputDtype(p.to));
    values.push(value.alias(p.name));
    const name = JSON.stringify(p.name);
    const textual = family === 'string' || family === 'category';
    // A value was there: text that is not a null token (for typed targets), or any non-null value.
    const present = textual && p.to !== 'string' && p.to !== 'category' ? normalized(e.cast(pl.Utf8)).isNotNull() : e.isNotNull();
    if (conv.fallible) {
      const verb = textual ? 'cannot parse' : 'cannot convert';
      const shown = e.cast(pl.Utf8).str.slice(0, 60);
      let msg = pl.concatString([pl.lit(`column ${name}: ${verb} "`), shown, pl.lit(`" as ${p.to}${p.format ? ` (format ${JSON.stringify(p.format)})` : ''}`)], '');
      if (textual && p.to === 'int64') {
        const outOfRange = pl.concatString([pl.lit(`column ${name}: `), shown, pl.lit(' is outside the int64 range (declare the column as float64 or string, or fix the value)')], '');
        msg = pl.when(normalized(e.cast(pl.Utf8)).str.contains(LONG_INTEGER)).then(outOfRange).otherwise(msg);
      }
      reasons.push(pl.when(value.isNull().and(present)).then(msg).otherwise(pl.lit(null).cast(pl.Utf8)));
    }
    if (p.nullable === false) {
      reasons.push(pl.when(value.isNull().and(present.not())).then(pl.lit(`column ${name}: null in a non-nullable column`)).otherwise(pl.lit(null).cast(pl.Utf8)));
    }
  });
  if (!reasons.length) return { values };
  const reason = pl
    .when(pl.anyHorizontal(reasons.map((r) => r.isNotNull())))
    .then(pl.concatString(reasons, '; ', true))
    .otherwise(pl.lit(null).cast(pl.Utf8));
  return { values, reason };
}
