import { z } from 'zod';

/**
 * The expression language, as data. One JSON AST serves ingestion (derived columns, row filters)
 * and feature views (features): steps carry it in their inputs, so a run started from the
 * Temporal UI can carry it too. Pure (zod only): workflow code may import it.
 *
 * Nodes are `{ op, … }` objects. Children are `left`/`right` (binary operators), `arg` (one
 * operand), `args` (lists), `cond`/`then`/`else` and `value` (fillNull); parameters that must be
 * constants (decimals, bounds, breaks, units) are plain JSON values, never expressions.
 * activities/data/expr-compile.ts compiles a tree to polars after pipelines/expr/check.ts has
 * typed it against the input's columns; nothing is ever evaluated as code.
 */

// ---------------------------------------------------------------------------------------------
// Durations (window lengths)

// Sluice's one duration vocabulary (pipelines/vocab/duration.ts): `'30d'`, `'12h'`, `'2w'`…
import { duration, durationMs, type Duration } from '../vocab/duration';

export { duration, durationMs, type Duration };

// ---------------------------------------------------------------------------------------------
// Operators

export const ARITH_OPS = ['add', 'sub', 'mul', 'div', 'mod'] as const;
export const COMPARE_OPS = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte'] as const;
export const LOGIC_OPS = ['and', 'or'] as const;
export const BINARY_OPS = [...ARITH_OPS, ...COMPARE_OPS, ...LOGIC_OPS] as const;
/** Numbers in, same kind out (floor/ceil/abs of an integer stay integers); exp and sqrt give floats. */
export const NUMERIC_FNS = ['neg', 'abs', 'floor', 'ceil', 'exp', 'sqrt'] as const;
export const STRING_FNS = ['lower', 'upper', 'length'] as const;
/** Parts of a date or timestamp, in UTC; weekday is ISO (1 = Monday … 7 = Sunday), dayOfYear from 1. */
export const DATETIME_PARTS = ['year', 'month', 'day', 'weekday', 'dayOfYear', 'hour', 'minute', 'second'] as const;
export const UNARY_OPS = ['not', 'isNull', 'isNotNull', ...NUMERIC_FNS, ...STRING_FNS, ...DATETIME_PARTS] as const;
export const WINDOW_FNS = ['sum', 'mean', 'min', 'max', 'count'] as const;
/** Types a value can be cast to (`cast`). */
export const CAST_TYPES = ['int64', 'float64', 'bool', 'string', 'date', 'timestamp'] as const;
export const EPOCH_UNITS = ['s', 'ms', 'us'] as const;

export type BinaryOp = (typeof BINARY_OPS)[number];
export type UnaryOp = (typeof UNARY_OPS)[number];
export type DatetimePart = (typeof DATETIME_PARTS)[number];
export type WindowFn = (typeof WINDOW_FNS)[number];
export type CastType = (typeof CAST_TYPES)[number];
export type EpochUnit = (typeof EPOCH_UNITS)[number];
export type LiteralValue = number | string | boolean | null;

export type Expr =
  | { op: 'col'; name: string }
  /** Integers are Int64, other numbers Float64; a string compared with a date or timestamp is read as an ISO 8601 time. */
  | { op: 'lit'; value: LiteralValue }
  | { op: BinaryOp; left: Expr; right: Expr }
  | { op: UnaryOp; arg: Expr }
  /** Natural logarithm, or to `base`. */
  | { op: 'log'; arg: Expr; base?: number }
  /** Half away from zero, to `decimals` (default 0) places. */
  | { op: 'round'; arg: Expr; decimals?: number }
  /** Bounded below by `min` and/or above by `max`. */
  | { op: 'clip'; arg: Expr; min?: number; max?: number }
  /** Time since 1970-01-01T00:00:00Z in `unit` (default seconds), an integer (floored). */
  | { op: 'epoch'; arg: Expr; unit?: EpochUnit }
  | { op: 'cast'; arg: Expr; to: CastType }
  | { op: 'fillNull'; arg: Expr; value: Expr }
  /** The first non-null of `args`. */
  | { op: 'coalesce'; args: Expr[] }
  /** `cond` true: `then`; false or null: `else`. Chained, it is when/then/…/otherwise. */
  | { op: 'if'; cond: Expr; then: Expr; else: Expr }
  /** Characters from `start` (0-based; negative counts from the end), `length` of them (default: to the end). */
  | { op: 'slice'; arg: Expr; start: number; length?: number }
  /** The values as strings, joined by `sep` (default ""); null if any is null. */
  | { op: 'concat'; args: Expr[]; sep?: string }
  /**
   * Binning: the label of the interval the value falls in. `breaks` ascend; intervals are
   * (-inf, b0], (b0, b1], …, (bn, inf] — `[b, b')` with `leftClosed` — labelled by `labels`
   * (one more than breaks) or by those interval strings. Null stays null.
   */
  | { op: 'cut'; arg: Expr; breaks: number[]; labels?: string[]; leftClosed?: boolean }
  /** Feature views only: aggregate of `arg` (rows, for count without one) over the entity's rows in (t - window, t]. */
  | { op: 'window'; fn: WindowFn; arg?: Expr; window: string };

export type ExprOp = Expr['op'];

/** Source columns are only ever read by polars, never put in SQL: any non-empty name. */
export const exprColumnName = z.string().min(1).max(256);
const finite = z.number().finite();

export const expr: z.ZodType<Expr> = z.lazy(() =>
  z.discriminatedUnion('op', [
    z.object({ op: z.literal('col'), name: exprColumnName }).strict(),
    z.object({ op: z.literal('lit'), value: z.union([finite, z.string().max(10_000), z.boolean(), z.null()]) }).strict(),
    z.object({ op: z.enum(BINARY_OPS), left: expr, right: expr }).strict(),
    z.object({ op: z.enum(UNARY_OPS), arg: expr }).strict(),
    z.object({ op: z.literal('log'), arg: expr, base: finite.positive().refine((b) => b !== 1, 'a logarithm base must not be 1').optional() }).strict(),
    z.object({ op: z.literal('round'), arg: expr, decimals: z.number().int().min(0).max(15).optional() }).strict(),
    z
      .object({ op: z.literal('clip'), arg: expr, min: finite.optional(), max: finite.optional() })
      .strict()
      .refine((c) => c.min === undefined || c.max === undefined || c.min <= c.max, 'clip: min must not exceed max'),
    z.object({ op: z.literal('epoch'), arg: expr, unit: z.enum(EPOCH_UNITS).optional() }).strict(),
    z.object({ op: z.literal('cast'), arg: expr, to: z.enum(CAST_TYPES) }).strict(),
    z.object({ op: z.literal('fillNull'), arg: expr, value: expr }).strict(),
    z.object({ op: z.literal('coalesce'), args: z.array(expr).min(1).max(100) }).strict(),
    z.object({ op: z.literal('if'), cond: expr, then: expr, else: expr }).strict(),
    z.object({ op: z.literal('slice'), arg: expr, start: z.number().int(), length: z.number().int().nonnegative().optional() }).strict(),
    z.object({ op: z.literal('concat'), args: z.array(expr).min(1).max(100), sep: z.string().max(1_000).optional() }).strict(),
    z
      .object({
        op: z.literal('cut'),
        arg: expr,
        breaks: z.array(finite).min(1).max(1_000),
        labels: z.array(z.string().max(1_000)).optional(),
        leftClosed: z.boolean().optional(),
      })
      .strict()
      .refine((c) => c.breaks.every((b, i) => i === 0 || b > c.breaks[i - 1]!), 'cut: breaks must be strictly ascending')
      .refine((c) => !c.labels || c.labels.length === c.breaks.length + 1, 'cut: give one label more than breaks'),
    z.object({ op: z.literal('window'), fn: z.enum(WINDOW_FNS), arg: expr.optional(), window: duration }).strict(),
  ]),
);

/** Deeper trees are refused (they would only come from a generator gone wrong, and recursion has limits). */
export const MAX_EXPR_DEPTH = 32;

/** An expression no deeper than MAX_EXPR_DEPTH. */
export const boundedExpr = expr.superRefine((e, ctx) => {
  if (exprDepth(e) > MAX_EXPR_DEPTH) ctx.addIssue({ code: 'custom', message: `expression nested deeper than ${MAX_EXPR_DEPTH}` });
});

// ---------------------------------------------------------------------------------------------
// Walking and printing

/** The sub-expressions of a node, in reading order. */
export function children(e: Expr): Expr[] {
  switch (e.op) {
    case 'col':
    case 'lit':
      return [];
    case 'coalesce':
    case 'concat':
      return e.args;
    case 'fillNull':
      return [e.arg, e.value];
    case 'if':
      return [e.cond, e.then, e.else];
    case 'window':
      return e.arg ? [e.arg] : [];
    default:
      return 'arg' in e ? [e.arg] : [e.left, e.right];
  }
}

/** Every sub-expression, depth first, with its depth and whether it sits inside a window. */
export function walkExpr(e: Expr, visit: (e: Expr, depth: number, inWindow: boolean) => void, depth = 1, inWindow = false): void {
  visit(e, depth, inWindow);
  for (const c of children(e)) walkExpr(c, visit, depth + 1, inWindow || e.op === 'window');
}

export function exprDepth(e: Expr): number {
  let max = 0;
  walkExpr(e, (_, d) => (max = Math.max(max, d)));
  return max;
}

/** Source columns an expression reads. */
export function exprColumns(e: Expr): string[] {
  const out = new Set<string>();
  walkExpr(e, (x) => {
    if (x.op === 'col') out.add(x.name);
  });
  return [...out];
}

/**
 * A compact, readable form of an expression for error messages: `gt(col("delay"), 15)`,
 * `round(col("x"), decimals=2)`. Long ones are shortened.
 */
export function renderExpr(e: Expr, max = 200): string {
  const s = render(e);
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

function render(e: Expr): string {
  const named = (params: Record<string, unknown>) =>
    Object.entries(params)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `, ${k}=${JSON.stringify(v)}`)
      .join('');
  switch (e.op) {
    case 'col':
      return `col(${JSON.stringify(e.name)})`;
    case 'lit':
      return JSON.stringify(e.value);
    case 'log':
      return `log(${render(e.arg)}${named({ base: e.base })})`;
    case 'round':
      return `round(${render(e.arg)}${named({ decimals: e.decimals })})`;
    case 'clip':
      return `clip(${render(e.arg)}${named({ min: e.min, max: e.max })})`;
    case 'epoch':
      return `epoch(${render(e.arg)}${named({ unit: e.unit })})`;
    case 'cast':
      return `cast(${render(e.arg)}, ${JSON.stringify(e.to)})`;
    case 'slice':
      return `slice(${render(e.arg)}${named({ start: e.start, length: e.length })})`;
    case 'concat':
      return `concat(${e.args.map(render).join(', ')}${named({ sep: e.sep })})`;
    case 'cut':
      return `cut(${render(e.arg)}${named({ breaks: e.breaks, labels: e.labels, leftClosed: e.leftClosed })})`;
    case 'window':
      return `rolling_${e.fn}(${e.arg ? `${render(e.arg)}, ` : ''}${JSON.stringify(e.window)})`;
    default:
      return `${e.op}(${children(e).map(render).join(', ')})`;
  }
}
