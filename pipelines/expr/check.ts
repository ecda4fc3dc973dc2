import { ARITH_OPS, renderExpr, type Expr } from './ast';

/**
 * The static type check: every node of an expression typed against the input's columns before
 * anything runs, so a wrong expression fails with a message that names where it is (`derive.is_late`),
 * the offending part (`gt(col("delay"), "x")`) and why (`cannot compare Int64 with String`),
 * instead of a polars error at the first row. All problems are reported at once; a node that
 * failed is typed `unknown` so that one mistake is not reported again by every node above it.
 * Pure: no polars here (activities/data/expr-compile.ts maps dtypes to these types).
 */

/** The types a value can have (a dataset's column types, plus the type of a bare null literal). */
export type ValueType = 'int64' | 'float64' | 'bool' | 'string' | 'category' | 'date' | 'timestamp' | 'null';
type T = ValueType | 'unknown';

/** Names as polars prints them, which is what users see in profiles and schemas. */
const SHOWN: Record<T, string> = {
  int64: 'Int64',
  float64: 'Float64',
  bool: 'Boolean',
  string: 'String',
  category: 'Categorical',
  date: 'Date',
  timestamp: 'Datetime',
  null: 'Null',
  unknown: 'unknown',
};
export const showType = (t: ValueType): string => SHOWN[t];

export interface CheckEnv {
  /** Column name -> type; `null` for a column whose type expressions cannot read (a list, a struct). */
  columns: Record<string, ValueType | null>;
  /** Window aggregates are allowed (feature views). */
  windows?: boolean;
}

export interface ExprIssue {
  /** Where the expression sits (`derive.is_late`, `filter`, `features.delay_7d`). */
  where: string;
  /** The offending node, rendered (`gt(col("delay"), "x")`). */
  node: string;
  message: string;
}

export class ExprTypeError extends Error {
  constructor(readonly issues: ExprIssue[]) {
    super(issues.map(formatIssue).join('; '));
    this.name = 'ExprTypeError';
  }
}

export const formatIssue = (i: ExprIssue) => `${i.where}: ${i.node}: ${i.message}`;

const isNum = (t: T) => t === 'int64' || t === 'float64';
const isText = (t: T) => t === 'string' || t === 'category';
const isTime = (t: T) => t === 'date' || t === 'timestamp';
/** null and unknown fit anywhere (unknown: already reported). */
const free = (t: T) => t === 'null' || t === 'unknown';

/** An ISO 8601 date or date-time string literal (compared with dates and timestamps). */
export function isTimeLiteral(e: Expr): e is { op: 'lit'; value: string } {
  return e.op === 'lit' && typeof e.value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(e.value) && Number.isFinite(Date.parse(e.value));
}

const VERB: Record<(typeof ARITH_OPS)[number], string> = { add: 'add', sub: 'subtract', mul: 'multiply', div: 'divide', mod: 'take the modulo of' };

/**
 * Types `e`; throws ExprTypeError listing every problem. The map gives each node's type (the
 * compiler uses it to pick conversions).
 */
export function checkExpr(e: Expr, env: CheckEnv, where: string): { type: ValueType; types: Map<Expr, ValueType> } {
  const r = inferExpr(e, env, where);
  if (r.issues.length) throw new ExprTypeError(r.issues);
  return { type: r.type as ValueType, types: r.types as Map<Expr, ValueType> };
}

/** Types `e`, collecting problems instead of throwing. */
export function inferExpr(e: Expr, env: CheckEnv, where: string): { type: T; types: Map<Expr, T>; issues: ExprIssue[] } {
  const types = new Map<Expr, T>();
  const issues: ExprIssue[] = [];
  const fail = (node: Expr, message: string): T => {
    issues.push({ where, node: renderExpr(node), message });
    return 'unknown';
  };

  /** The common type of two branches (if, fillNull, coalesce), or undefined when there is none. */
  const unify = (a: T, b: T): T | undefined => {
    if (a === b) return a;
    if (a === 'unknown' || b === 'unknown') return 'unknown';
    if (a === 'null') return b;
    if (b === 'null') return a;
    if (isNum(a) && isNum(b)) return 'float64';
    if (isText(a) && isText(b)) return 'string';
    if (isTime(a) && isTime(b)) return 'timestamp';
    return undefined;
  };

  const comparable = (l: Expr, lt: T, r: Expr, rt: T): boolean =>
    free(lt) ||
    free(rt) ||
    lt === rt ||
    (isNum(lt) && isNum(rt)) ||
    (isText(lt) && isText(rt)) ||
    (isTime(lt) && isTime(rt)) ||
    (isTime(lt) && isTimeLiteral(r)) ||
    (isTime(rt) && isTimeLiteral(l));

  const visit = (n: Expr): T => {
    const t = typeOf(n);
    types.set(n, t);
    return t;
  };

  const typeOf = (n: Expr): T => {
    switch (n.op) {
      case 'col': {
        if (!(n.name in env.columns)) {
          const names = Object.keys(env.columns);
          const shown = names.slice(0, 30).map((c) => JSON.stringify(c)).join(', ') + (names.length > 30 ? `, … (${names.length} in all)` : '');
          return fail(n, `no column "${n.name}" (columns: ${shown})`);
        }
        const t = env.columns[n.name];
        return t ?? fail(n, `column "${n.name}" has a type expressions cannot read`);
      }
      case 'lit':
        if (n.value === null) return 'null';
        if (typeof n.value === 'number') return Number.isSafeInteger(n.value) ? 'int64' : 'float64';
        return typeof n.value === 'boolean' ? 'bool' : 'string';
      case 'add':
      case 'sub':
      case 'mul':
      case 'div':
      case 'mod': {
        const l = visit(n.left);
        const r = visit(n.right);
        if (!(isNum(l) || free(l)) || !(isNum(r) || free(r))) {
          return fail(n, `cannot ${VERB[n.op]} ${SHOWN[l]} and ${SHOWN[r]} (arithmetic takes numbers${n.op === 'add' && (isText(l) || isText(r)) ? '; join strings with concat' : ''})`);
        }
        if (l === 'unknown' || r === 'unknown') return 'unknown';
        if (n.op === 'div') return 'float64';
        return l === 'float64' || r === 'float64' ? 'float64' : 'int64';
      }
      case 'eq':
      case 'neq':
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte': {
        const l = visit(n.left);
        const r = visit(n.right);
        if (!comparable(n.left, l, n.right, r)) return fail(n, `cannot compare ${SHOWN[l]} with ${SHOWN[r]}`);
        if (n.op !== 'eq' && n.op !== 'neq' && (l === 'bool' || r === 'bool')) return fail(n, `${n.op} cannot order Booleans (use eq or neq)`);
        return 'bool';
      }
      case 'and':
      case 'or':
      case 'not': {
        const args = 'arg' in n ? [n.arg] : [n.left, n.right];
        const bad = args.map(visit).filter((t) => t !== 'bool' && !free(t));
        return bad.length ? fail(n, `${n.op} takes Booleans, not ${SHOWN[bad[0]!]} (compare it first, e.g. gt(…, 0))`) : 'bool';
      }
      case 'isNull':
      case 'isNotNull':
        visit(n.arg);
        return 'bool';
      case 'neg':
      case 'abs':
      case 'floor':
      case 'ceil':
      case 'round':
      case 'exp':
      case 'sqrt':
      case 'log': {
        const a = visit(n.arg);
        if (!isNum(a) && !free(a)) return fail(n, `${n.op} takes a number, not ${SHOWN[a]}`);
        if (a === 'unknown') return a;
        return n.op === 'exp' || n.op === 'sqrt' || n.op === 'log' || a === 'null' ? 'float64' : a;
      }
      case 'clip': {
        const a = visit(n.arg);
        if (!isNum(a) && !free(a)) return fail(n, `clip takes a number, not ${SHOWN[a]}`);
        if (n.min === undefined && n.max === undefined) return fail(n, 'clip needs min or max');
        if (a === 'unknown') return a;
        const intBounds = [n.min, n.max].every((b) => b === undefined || Number.isSafeInteger(b));
        return a === 'int64' && intBounds ? 'int64' : 'float64';
      }
      case 'lower':
      case 'upper':
      case 'length':
      case 'slice': {
        const a = visit(n.arg);
        if (!isText(a) && !free(a)) return fail(n, `${n.op} takes a string, not ${SHOWN[a]} (cast it to "string" first)`);
        return n.op === 'length' ? 'int64' : 'string';
      }
      case 'concat':
        n.args.forEach(visit);
        return 'string';
      case 'year':
      case 'month':
      case 'day':
      case 'weekday':
      case 'dayOfYear':
      case 'hour':
      case 'minute':
      case 'second':
      case 'epoch': {
        const a = visit(n.arg);
        const timeOfDay = n.op === 'hour' || n.op === 'minute' || n.op === 'second';
        if (a === 'date' && timeOfDay) return fail(n, `${n.op} needs a Datetime; a Date has no time of day`);
        if (!isTime(a) && !free(a)) return fail(n, `${n.op} takes a Date or Datetime, not ${SHOWN[a]}`);
        return 'int64';
      }
      case 'cast': {
        const a = visit(n.arg);
        if (free(a)) return a === 'unknown' ? a : n.to;
        const ok: Record<typeof n.to, (t: T) => boolean> = {
          string: () => true,
          int64: (t) => isNum(t) || t === 'bool' || t === 'string',
          float64: (t) => isNum(t) || t === 'bool' || t === 'string',
          bool: (t) => isNum(t) || t === 'bool',
          timestamp: (t) => t === 'int64' || isTime(t),
          date: (t) => isTime(t),
        };
        if (!ok[n.to](a)) {
          const hint = isTime(a) && isNum(n.to as T) ? ' (use epoch for a number)' : a === 'string' && isTime(n.to as T) ? ' (declare the column\'s type in the ingestion schema to parse it)' : '';
          return fail(n, `cannot cast ${SHOWN[a]} to ${SHOWN[n.to as T]}${hint}`);
        }
        return n.to;
      }
      case 'fillNull':
      case 'coalesce':
      case 'if': {
        if (n.op === 'if') {
          const c = visit(n.cond);
          if (c !== 'bool' && !free(c)) fail(n.cond, `a condition must be Boolean, not ${SHOWN[c]}`);
        }
        const branches = n.op === 'fillNull' ? [n.arg, n.value] : n.op === 'coalesce' ? n.args : [n.then, n.else];
        const ts = branches.map(visit);
        let acc: T = ts[0]!;
        for (const t of ts.slice(1)) {
          const u = unify(acc, t);
          if (!u) return fail(n, `${n.op === 'if' ? 'then and otherwise' : n.op === 'fillNull' ? 'a value and its fill' : 'the arguments'} have no common type: ${SHOWN[acc]} and ${SHOWN[t]}`);
          acc = u;
        }
        return acc;
      }
      case 'cut': {
        const a = visit(n.arg);
        if (!isNum(a) && !free(a)) return fail(n, `cut takes a number, not ${SHOWN[a]}`);
        return 'string';
      }
      case 'window': {
        if (!env.windows) return fail(n, 'window aggregates are only allowed in feature views');
        const a = n.arg ? visit(n.arg) : 'int64';
        if (n.fn === 'count') return 'int64';
        if (!n.arg) return fail(n, `rolling ${n.fn} needs an argument`);
        if ((n.fn === 'sum' || n.fn === 'mean') && !isNum(a) && !free(a)) return fail(n, `rolling ${n.fn} takes a number, not ${SHOWN[a]}`);
        if (!isNum(a) && !isTime(a) && !free(a)) return fail(n, `rolling ${n.fn} takes a number or a time, not ${SHOWN[a]}`);
        return n.fn === 'mean' ? 'float64' : a;
      }
    }
  };

  const type = visit(e);
  return { type, types, issues };
}

