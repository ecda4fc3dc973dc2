import type { BinaryOp, CastType, Duration, EpochUnit, Expr, LiteralValue, UnaryOp, WindowFn } from './ast';

/**
 * The typed builder pipeline authors write; it produces the JSON AST of ./ast.ts (an ExprBuilder
 * serializes to its node, so builders can be put straight into step inputs).
 *
 *   col('ts').hour()                                  // hour of day, 0-23 (UTC)
 *   col('delay').gt(15)                               // a label
 *   col('distance').mod(100).floor()
 *   when(col('delay').gt(60), 'late').when(col('delay').gt(15), 'delayed').otherwise('on time')
 *   coalesce(col('a'), col('b'), 0)
 *   col('delay').cut([0, 15, 60], ['early', 'on time', 'delayed', 'late'])
 *
 * In methods a non-builder argument is a literal; in the top-level helpers `ratio`, `diff` and
 * the rolling aggregates a string names a column.
 */

export type ExprArg = ExprBuilder | LiteralValue;
export type ColumnOrExpr = ExprBuilder | string;

export class ExprBuilder {
  constructor(readonly node: Expr) {}

  private bin(op: BinaryOp, other: ExprArg): ExprBuilder {
    return new ExprBuilder({ op, left: this.node, right: toNode(other) });
  }
  private un(op: UnaryOp): ExprBuilder {
    return new ExprBuilder({ op, arg: this.node });
  }

  // arithmetic
  add(x: ExprArg) { return this.bin('add', x); }
  sub(x: ExprArg) { return this.bin('sub', x); }
  mul(x: ExprArg) { return this.bin('mul', x); }
  /** True division (a float, also for integers); x/0 is ±inf or NaN, as in polars. */
  div(x: ExprArg) { return this.bin('div', x); }
  /** Modulo with the sign of the divisor (Python's %): -7 mod 3 = 2. */
  mod(x: ExprArg) { return this.bin('mod', x); }
  neg() { return this.un('neg'); }
  abs() { return this.un('abs'); }
  floor() { return this.un('floor'); }
  ceil() { return this.un('ceil'); }
  exp() { return this.un('exp'); }
  sqrt() { return this.un('sqrt'); }
  /** Natural logarithm, or to `base`. */
  log(base?: number) { return new ExprBuilder(base === undefined ? { op: 'log', arg: this.node } : { op: 'log', arg: this.node, base }); }
  round(decimals?: number) { return new ExprBuilder(decimals === undefined ? { op: 'round', arg: this.node } : { op: 'round', arg: this.node, decimals }); }
  clip(bounds: { min?: number; max?: number }) { return new ExprBuilder({ op: 'clip', arg: this.node, ...bounds }); }

  // comparisons and logic
  eq(x: ExprArg) { return this.bin('eq', x); }
  neq(x: ExprArg) { return this.bin('neq', x); }
  lt(x: ExprArg) { return this.bin('lt', x); }
  lte(x: ExprArg) { return this.bin('lte', x); }
  gt(x: ExprArg) { return this.bin('gt', x); }
  gte(x: ExprArg) { return this.bin('gte', x); }
  and(x: ExprArg) { return this.bin('and', x); }
  or(x: ExprArg) { return this.bin('or', x); }
  not() { return this.un('not'); }

  // nulls and types
  isNull() { return this.un('isNull'); }
  isNotNull() { return this.un('isNotNull'); }
  fillNull(value: ExprArg) { return new ExprBuilder({ op: 'fillNull', arg: this.node, value: toNode(value) }); }
  cast(to: CastType) { return new ExprBuilder({ op: 'cast', arg: this.node, to }); }

  // dates and times (UTC)
  year() { return this.un('year'); }
  month() { return this.un('month'); }
  day() { return this.un('day'); }
  /** ISO weekday: 1 = Monday … 7 = Sunday. */
  weekday() { return this.un('weekday'); }
  dayOfYear() { return this.un('dayOfYear'); }
  hour() { return this.un('hour'); }
  minute() { return this.un('minute'); }
  second() { return this.un('second'); }
  /** Seconds (or `unit`) since 1970-01-01T00:00:00Z. */
  epoch(unit?: EpochUnit) { return new ExprBuilder(unit ? { op: 'epoch', arg: this.node, unit } : { op: 'epoch', arg: this.node }); }

  // strings
  lower() { return this.un('lower'); }
  upper() { return this.un('upper'); }
  /** Length in characters. */
  length() { return this.un('length'); }
  slice(start: number, length?: number) { return new ExprBuilder(length === undefined ? { op: 'slice', arg: this.node, start } : { op: 'slice', arg: this.node, start, length }); }

  /** Binning by ascending `breaks` (see the `cut` node). */
  cut(breaks: number[], labels?: string[], opts: { leftClosed?: boolean } = {}) {
    return new ExprBuilder({ op: 'cut', arg: this.node, breaks, ...(labels ? { labels } : {}), ...(opts.leftClosed ? { leftClosed: true } : {}) });
  }

  /** Names the expression (a feature of a view, optionally with its stored type). */
  as<Type extends string>(name: string, type?: Type): { name: string; expr: Expr; type?: Type } {
    return type ? { name, expr: this.node, type } : { name, expr: this.node };
  }
  toJSON(): Expr {
    return this.node;
  }
}

export function toNode(x: ExprArg): Expr {
  return x instanceof ExprBuilder ? x.node : { op: 'lit', value: x };
}
function colOrExpr(x: ColumnOrExpr): Expr {
  return typeof x === 'string' ? { op: 'col', name: x } : x.node;
}

export const col = (name: string) => new ExprBuilder({ op: 'col', name });
export const lit = (value: LiteralValue) => new ExprBuilder({ op: 'lit', value });
/** `a / b` (columns by name or expressions). */
export const ratio = (a: ColumnOrExpr, b: ColumnOrExpr) => new ExprBuilder({ op: 'div', left: colOrExpr(a), right: colOrExpr(b) });
/** `a - b` (columns by name or expressions). */
export const diff = (a: ColumnOrExpr, b: ColumnOrExpr) => new ExprBuilder({ op: 'sub', left: colOrExpr(a), right: colOrExpr(b) });
export const ifElse = (cond: ExprBuilder, then: ExprArg, otherwise: ExprArg) =>
  new ExprBuilder({ op: 'if', cond: cond.node, then: toNode(then), else: toNode(otherwise) });
/** The first non-null value. */
export const coalesce = (...args: ExprArg[]) => new ExprBuilder({ op: 'coalesce', args: args.map(toNode) });
/** The values as strings joined by `sep`; null if any is null. */
export const concat = (args: ExprArg[], sep?: string) => new ExprBuilder(sep === undefined ? { op: 'concat', args: args.map(toNode) } : { op: 'concat', args: args.map(toNode), sep });

/** `when(c1).then(a).when(c2).then(b).otherwise(x)`: nested `if` nodes. */
export function when(cond: ExprBuilder): { then(value: ExprArg): When } {
  return { then: (value) => new When([[cond.node, toNode(value)]]) };
}
export class When {
  constructor(private readonly branches: [Expr, Expr][]) {}
  when(cond: ExprBuilder): { then(value: ExprArg): When } {
    return { then: (value) => new When([...this.branches, [cond.node, toNode(value)]]) };
  }
  otherwise(value: ExprArg): ExprBuilder {
    let node = toNode(value);
    for (const [cond, then] of [...this.branches].reverse()) node = { op: 'if', cond, then, else: node };
    return new ExprBuilder(node);
  }
}

const rolling = (fn: WindowFn) => (of: ColumnOrExpr, window: Duration) => new ExprBuilder({ op: 'window', fn, arg: colOrExpr(of), window });
export const rollingSum = rolling('sum');
export const rollingMean = rolling('mean');
export const rollingMin = rolling('min');
export const rollingMax = rolling('max');
/** Non-null values of `of` in the window; `rollingCount(null, '1d')` counts rows. */
export const rollingCount = (of: ColumnOrExpr | null, window: Duration) =>
  new ExprBuilder(of === null ? { op: 'window', fn: 'count', window } : { op: 'window', fn: 'count', arg: colOrExpr(of), window });
