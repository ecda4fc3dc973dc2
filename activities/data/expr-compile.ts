import pl, { type DataType } from 'nodejs-polars';
import { canonicalJson } from '../../pipelines/dsl/canonical';
import type { Expr } from '../../pipelines/expr/ast';
import { checkExpr, isTimeLiteral, type CheckEnv, type ValueType } from '../../pipelines/expr/check';

/**
 * Compiles the expression language (pipelines/expr) to nodejs-polars expressions; shared by
 * ingestion (derived columns, row filters) and feature views. The tree is type-checked against
 * the frame's schema first (pipelines/expr/check.ts: an ExprTypeError names every problem), then
 * each node becomes one polars expression; the node types decide the conversions polars would
 * otherwise refuse or get wrong (a zoned timestamp compared with a naive one, a categorical with
 * a string, integer division). Nothing is evaluated as code.
 *
 * Timestamps: parts (hour, weekday…) and epochs are taken in UTC; a naive Datetime is UTC.
 */

const INTS = new Set(['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64']);

/** The expression type of a polars column; null when expressions cannot read it (lists, structs…). */
export function valueTypeOf(dtype: DataType): ValueType | null {
  const v = dtype.variant as string;
  if (INTS.has(v)) return 'int64';
  if (v === 'Float32' || v === 'Float64' || v === 'Decimal') return 'float64';
  if (v === 'Bool') return 'bool';
  if (v === 'Utf8' || v === 'String') return 'string';
  if (v === 'Categorical' || v === 'Enum') return 'category';
  if (v === 'Date') return 'date';
  if (v === 'Datetime') return 'timestamp';
  if (v === 'Null') return 'null';
  return null;
}

/** The type environment of a frame schema. */
export function exprEnv(schema: Record<string, DataType>, opts: { windows?: boolean } = {}): CheckEnv {
  return { columns: Object.fromEntries(Object.entries(schema).map(([k, d]) => [k, valueTypeOf(d)])), windows: opts.windows };
}

/** The key a window aggregate's hidden column is found by (equal nodes share one column). */
export const windowKey = (e: Expr): string => canonicalJson(e);

export interface CompileOptions {
  /** Where the expression sits, for error messages: `derive.is_late`, `filter`, `features.x`. */
  where: string;
  /** Feature views: window aggregates, already computed, by windowKey -> hidden column name. */
  windows?: Map<string, string>;
}

export interface CompiledExpr {
  expr: pl.Expr;
  /** The checked type of the result. */
  type: ValueType;
}

/** Type-checks `e` against `schema` (throws ExprTypeError) and compiles it. */
export function compileExpr(e: Expr, schema: Record<string, DataType>, opts: CompileOptions): CompiledExpr {
  const { type, types } = checkExpr(e, exprEnv(schema, { windows: opts.windows !== undefined }), opts.where);
  return { expr: new Compiler(types, opts.windows ?? new Map()).compile(e), type };
}

const UTC = () => pl.Datetime('us', 'UTC');
const isTime = (t: ValueType) => t === 'date' || t === 'timestamp';

/** Integers as Int32 (Int64 beyond), so `int_col + 1` stays an integer; polars takes JS numbers as Float64. */
function literal(v: number | string | boolean | null): pl.Expr {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return pl.lit(v).cast(Math.abs(v) < 2 ** 31 ? pl.Int32 : pl.Int64);
  return pl.lit(v);
}

class Compiler {
  constructor(
    private readonly types: Map<Expr, ValueType>,
    private readonly windows: Map<string, string>,
  ) {}

  private t(e: Expr): ValueType {
    return this.types.get(e)!;
  }

  /** An operand where `want` is expected: times as Datetime(us, UTC), categoricals as strings, an ISO string literal as a time. */
  private as(e: Expr, want: ValueType): pl.Expr {
    const t = this.t(e);
    if (want === 'timestamp' || want === 'date') {
      if (isTimeLiteral(e)) return pl.lit(new Date(Date.parse(e.value))).cast(UTC());
      if (t === 'date') return this.compile(e).cast(pl.Datetime('us')).cast(UTC());
      if (t === 'timestamp') return this.compile(e).cast(UTC());
    }
    if (want === 'string' && t === 'category') return this.compile(e).cast(pl.Utf8);
    if (want === 'float64' && t === 'int64') return this.compile(e).cast(pl.Float64);
    return this.compile(e);
  }

  /** A date or timestamp as Datetime(us, UTC). */
  private utc(e: Expr): pl.Expr {
    return this.as(e, 'timestamp');
  }

  compile(e: Expr): pl.Expr {
    const c = (x: Expr) => this.compile(x);
    switch (e.op) {
      case 'col':
        return pl.col(e.name);
      case 'lit':
        return literal(e.value);
      case 'add':
        return c(e.left).add(c(e.right));
      case 'sub':
        return c(e.left).sub(c(e.right));
      case 'mul':
        return c(e.left).mul(c(e.right));
      case 'div':
        return c(e.left).cast(pl.Float64).div(c(e.right).cast(pl.Float64));
      case 'mod':
        return this.t(e) === 'float64' ? c(e.left).cast(pl.Float64).modulo(c(e.right).cast(pl.Float64)) : c(e.left).modulo(c(e.right));
      case 'eq':
      case 'neq':
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte': {
        const lt = this.t(e.left);
        const rt = this.t(e.right);
        // Both sides in one representation: times in UTC, categoricals as strings.
        const want: ValueType = isTime(lt) || isTime(rt) ? 'timestamp' : lt === 'category' || rt === 'category' ? 'string' : lt;
        const l = this.as(e.left, want);
        const r = this.as(e.right, want);
        const m = { eq: 'eq', neq: 'neq', lt: 'lt', lte: 'ltEq', gt: 'gt', gte: 'gtEq' } as const;
        return l[m[e.op]](r);
      }
      case 'and':
        return c(e.left).and(c(e.right));
      case 'or':
        return c(e.left).or(c(e.right));
      case 'not':
        return c(e.arg).not();
      case 'isNull':
        return c(e.arg).isNull();
      case 'isNotNull':
        return c(e.arg).isNotNull();
      case 'neg':
        return literal(0).sub(c(e.arg));
      case 'abs':
        return c(e.arg).abs();
      case 'floor':
      case 'ceil':
        return this.t(e.arg) === 'int64' ? c(e.arg) : c(e.arg).cast(pl.Float64)[e.op]();
      case 'round':
        return this.t(e.arg) === 'int64' ? c(e.arg) : c(e.arg).cast(pl.Float64).round(e.decimals ?? 0, 'halfawayfromzero');
      case 'exp':
        return c(e.arg).cast(pl.Float64).exp();
      case 'sqrt':
        return c(e.arg).cast(pl.Float64).pow(0.5);
      case 'log':
        return c(e.arg).cast(pl.Float64).log(e.base ?? Math.E);
      case 'clip': {
        const x = this.as(e.arg, this.t(e));
        const bound = (b: number) => (this.t(e) === 'int64' ? literal(b) : pl.lit(b).cast(pl.Float64));
        if (e.min !== undefined && e.max !== undefined) return pl.when(x.lt(bound(e.min))).then(bound(e.min)).when(x.gt(bound(e.max))).then(bound(e.max)).otherwise(x);
        if (e.min !== undefined) return pl.when(x.lt(bound(e.min))).then(bound(e.min)).otherwise(x);
        return pl.when(x.gt(bound(e.max!))).then(bound(e.max!)).otherwise(x);
      }
      case 'lower':
        return this.as(e.arg, 'string').str.toLowerCase();
      case 'upper':
        return this.as(e.arg, 'string').str.toUpperCase();
      case 'length':
        return this.as(e.arg, 'string').str.lengths().cast(pl.Int64);
      case 'slice':
        return e.length === undefined ? this.as(e.arg, 'string').str.slice(e.start) : this.as(e.arg, 'string').str.slice(e.start, e.length);
      case 'concat':
        // Not ignoring nulls: a null part makes the result null, as SQL's || does.
        return pl.concatString(
          e.args.map((a) => c(a).cast(pl.Utf8)),
          e.sep ?? '',
          false,
        ) as pl.Expr;
      case 'year':
      case 'month':
      case 'day':
      case 'weekday':
      case 'hour':
      case 'minute':
      case 'second':
        return this.utc(e.arg).dt[e.op]().cast(pl.Int64);
      case 'dayOfYear':
        return this.utc(e.arg).dt.ordinalDay().cast(pl.Int64);
      case 'epoch': {
        const us = this.utc(e.arg).cast(pl.Int64);
        const per = { s: 1_000_000, ms: 1_000, us: 1 }[e.unit ?? 's'];
        // Floored (times before 1970 round down): x - (x mod d) is a multiple of d.
        return per === 1 ? us : us.sub(us.modulo(literal(per))).div(literal(per)).cast(pl.Int64);
      }
      case 'cast': {
        const from = this.t(e.arg);
        switch (e.to) {
          case 'timestamp':
            // An integer is milliseconds since the epoch.
            return from === 'timestamp' ? c(e.arg) : c(e.arg).cast(pl.Datetime('ms'));
          case 'date':
            return from === 'date' ? c(e.arg) : this.utc(e.arg).cast(pl.Date);
          case 'string':
            return c(e.arg).cast(pl.Utf8);
          default: {
            const to = e.to === 'int64' ? pl.Int64 : e.to === 'float64' ? pl.Float64 : pl.Bool;
            return this.as(e.arg, 'string').cast(to, true);
          }
        }
      }
      case 'fillNull':
        return this.as(e.arg, this.t(e)).fillNull(this.as(e.value, this.t(e)));
      case 'coalesce':
        return e.args.slice(1).reduce((acc, a) => acc.fillNull(this.as(a, this.t(e))), this.as(e.args[0]!, this.t(e)));
      case 'if':
        return pl.when(c(e.cond)).then(this.as(e.then, this.t(e))).otherwise(this.as(e.else, this.t(e)));
      case 'cut': {
        const x = c(e.arg);
        const labels = e.labels ?? cutLabels(e.breaks, e.leftClosed ?? false);
        let chain = pl.when(x.isNull()).then(pl.lit(null).cast(pl.Utf8));
        e.breaks.forEach((b, i) => {
          const bound = pl.lit(b).cast(pl.Float64);
          chain = chain.when(e.leftClosed ? x.lt(bound) : x.ltEq(bound)).then(pl.lit(labels[i]!)) as unknown as typeof chain;
        });
        return chain.otherwise(pl.lit(labels[labels.length - 1]!));
      }
      case 'window': {
        const name = this.windows.get(windowKey(e));
        if (!name) throw new Error(`window aggregate ${canonicalJson(e)} was not computed`);
        return pl.col(name);
      }
    }
  }
}

/** Interval labels as polars' cut writes them: `(-inf, 0]`, `(0, 15]`, `(15, inf]` (or `[a, b)`). */
export function cutLabels(breaks: number[], leftClosed: boolean): string[] {
  const edges = ['-inf', ...breaks.map(String), 'inf'];
  return edges.slice(0, -1).map((a, i) => (leftClosed ? `[${a}, ${edges[i + 1]})` : `(${a}, ${edges[i + 1]}]`));
}
