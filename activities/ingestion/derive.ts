import pl, { type DataType } from 'nodejs-polars';
import { renderExpr, type Expr } from '../../pipelines/expr/ast';
import { ExprTypeError, formatIssue, showType, type ExprIssue, type ValueType } from '../../pipelines/expr/check';
import { invalidInput } from '../../pipelines/failures';
import type { ColumnType } from '../../pipelines/steps/dataset';
import { compileExpr } from '../data/expr-compile';
import { scalar } from './polars';
import { readingData } from './readers/lines';
import { outputDtype, type ColumnPlan } from './schema';

/**
 * Ingestion's derived columns and row filter (pipelines/expr expressions), applied to the typed
 * rows before they are written: derived columns are stored like any column (canonical types,
 * profiled, in the schema), and rows where the filter is not true are dropped and counted.
 * Every expression is type-checked against the typed columns before anything is read, so a
 * mistake fails the step at once, naming the column and the offending part.
 */

export interface Derivation {
  /** The rows to write. */
  lf: pl.LazyDataFrame;
  /** The dataset's columns: source columns (a derived one of the same name replacing it) then new derived ones. */
  plans: ColumnPlan[];
  /** Rows the filter dropped. */
  filtered: number;
}

/** The stored column type of an expression's type; undefined for a bare null. */
function storedType(t: ValueType): ColumnType | undefined {
  return t === 'null' ? undefined : t;
}

export async function deriveAndFilter(
  typed: pl.LazyDataFrame,
  plans: ColumnPlan[],
  spec: { derive?: Record<string, Expr>; filter?: Expr },
  label: string,
): Promise<Derivation> {
  const derive = Object.entries(spec.derive ?? {});
  if (!derive.length && !spec.filter) return { lf: typed, plans, filtered: 0 };

  const issues: ExprIssue[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (!(e instanceof ExprTypeError)) throw e;
      issues.push(...e.issues);
      return undefined;
    }
  };

  // Derived columns read the typed source columns (all computed side by side, as polars' withColumns does).
  const source: Record<string, DataType> = Object.fromEntries(plans.map((p) => [p.name, outputDtype(p.to)]));
  const columns: pl.Expr[] = [];
  const derivedTypes = new Map<string, ColumnType>();
  for (const [name, e] of derive) {
    const c = attempt(() => compileExpr(e, source, { where: `derive.${name}` }));
    if (!c) continue;
    const type = storedType(c.type);
    if (!type) {
      issues.push({ where: `derive.${name}`, node: 'null', message: 'computes only nulls; cast it to the type the column should have' });
      continue;
    }
    derivedTypes.set(name, type);
    columns.push(c.expr.cast(outputDtype(type)).alias(name));
  }

  // The filter sees the derived columns too.
  const after: Record<string, DataType> = { ...source, ...Object.fromEntries([...derivedTypes].map(([n, t]) => [n, outputDtype(t)])) };
  const filter = spec.filter && attempt(() => compileExpr(spec.filter!, after, { where: 'filter' }));
  if (filter && filter.type !== 'bool' && filter.type !== 'null') {
    issues.push({ where: 'filter', node: renderExpr(spec.filter!), message: `must be Boolean (rows where it is true are kept), not ${showType(filter.type)}` });
  }
  if (issues.length) throw invalidInput(`${label}: invalid expression: ${issues.map(formatIssue).join('; ')}`);

  let lf = columns.length ? typed.withColumns(...columns) : typed;
  const outPlans: ColumnPlan[] = plans.map((p) => (derivedTypes.has(p.name) ? { name: p.name, to: derivedTypes.get(p.name)! } : p));
  for (const [name, to] of derivedTypes) if (!(name in source)) outPlans.push({ name, to });

  let filtered = 0;
  if (filter) {
    // Kept rows are those where the filter is true: null counts as not kept, as in SQL's WHERE.
    const keep = filter.expr.fillNull(pl.lit(false));
    filtered = await readingData(label, () => scalar(lf.select(pl.len().cast(pl.Int64).sub(keep.cast(pl.Int64).sum()))));
    lf = lf.filter(keep);
  }
  return { lf, plans: outPlans, filtered };
}
