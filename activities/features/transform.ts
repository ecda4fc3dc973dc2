import pl, { type DataType } from 'nodejs-polars';
import { formatIssue, inferExpr } from '../../pipelines/expr/check';
import {
  durationMs,
  exprColumns,
  walkExpr,
  type FeatureExpr,
  type FeatureView,
} from '../../pipelines/steps/features';
import { compileExpr, exprEnv, windowKey } from '../data/expr-compile';
import type { ResolvedFeatureColumn } from '../../infra/db/features';
import { canonicalExpr, CREATED_TS, EVENT_TS, featureTypeOf, keyTypeOf, polarsOrInvalid, utcTimeExpr } from './columns';
import { invalidInput } from '../../pipelines/failures';

/**
 * Compiles a feature view's transformation to polars and applies it to a source frame.
 *
 * Feature expressions are the shared language (pipelines/expr), type-checked against the source's
 * columns and compiled by activities/data/expr-compile.ts. Window aggregates are computed
 * first, one `groupByRolling` pass per distinct window length (index = event time, by = entity
 * keys, period = the window, closed = right: rows in (t - d, t]) over a copy sorted by entity and
 * time, and put back in source order; the feature expressions then read them as hidden columns,
 * so windows combine with everything else (`rollingSum(x, '7d').div(rollingCount(x, '7d'))`).
 * Rows without an entity key or event time are left out; keys become String or Int64, event and
 * created times Datetime in UTC in the source's own unit (never truncated: a point-in-time join
 * compares them with entity times to the microsecond), features their declared (or inferred) type.
 */

const HIDDEN = '__sluice_fv_';
const TS = `${HIDDEN}ts`;

export interface AppliedView {
  /** [...entities, event_ts, created_ts, ...features], in source order (rows without a key or time left out). */
  frame: pl.DataFrame;
  /** Entity and feature columns with their resolved types, in table order. */
  schema: ResolvedFeatureColumn[];
  /** Source rows dropped for a null entity key or event time. */
  dropped: number;
}

type WindowNode = Extract<FeatureExpr, { op: 'window' }>;

function aggregate(w: WindowNode, arg: string | undefined): pl.Expr {
  if (!arg) return pl.len().cast(pl.Int64);
  const x = pl.col(arg);
  switch (w.fn) {
    case 'sum':
      return x.sum();
    case 'mean':
      return x.mean();
    case 'min':
      return x.min();
    case 'max':
      return x.max();
    case 'count':
      return x.count().cast(pl.Int64);
  }
}

/**
 * The window aggregate columns for `base`, in its row order. Rolling windows need each entity's
 * rows together and in time order; sorting by string keys is slow (row encoding), and only the
 * grouping matters here, so rows are sorted by the keys' categorical codes and time, and put
 * back by row number afterwards. groupByRolling returns one row per input row; when its rows
 * line up with the sorted input (they do: groups in input order, rows in time order) the
 * aggregates are taken as they are, otherwise they are joined back on (keys, time), which is
 * exact as rows sharing a key and a time share their window.
 */
function windowAggregates(base: pl.DataFrame, keyCols: string[], byLength: Map<number, WindowNode[]>, windowCols: Map<string, string>): pl.DataFrame {
  const ROW = `${HIDDEN}row`;
  const codeCols = keyCols.map((_, i) => `${HIDDEN}c${i}`);
  const schema = base.schema as Record<string, DataType>;
  const codes = keyCols.map((k, i) => (keyTypeOf(schema[k]!) === 'string' ? pl.col(k).cast(pl.Categorical).toPhysical() : pl.col(k)).alias(codeCols[i]!));
  const args: pl.Expr[] = [];
  const plan = [...byLength].map(([ms, nodes]) => ({
    ms,
    aggs: nodes.map((w) => {
      const out = windowCols.get(windowKey(w))!;
      if (!w.arg) return aggregate(w, undefined).alias(out);
      args.push(compileExpr(w.arg, schema, { where: 'window', windows: new Map() }).expr.alias(`${out}_arg`));
      return aggregate(w, `${out}_arg`).alias(out);
    }),
    outs: nodes.map((w) => windowCols.get(windowKey(w))!),
    args: nodes.filter((w) => w.arg).map((w) => `${windowCols.get(windowKey(w))!}_arg`),
  }));
  const on = [...codeCols, TS];
  let sorted = base
    .withRowIndex(ROW)
    .select(pl.col(ROW), ...codes, pl.col(TS), ...args)
    .sort({ by: on, maintainOrder: true });
  for (const p of plan) {
    const rolled = sorted
      .select(...on.map((c) => pl.col(c)), ...p.args.map((c) => pl.col(c)))
      .groupByRolling({ indexColumn: TS, by: codeCols, period: `${p.ms}ms`, closed: 'right' })
      .agg(p.aggs);
    const aligned = rolled.height === sorted.height && rolled.select(...on.map((c) => pl.col(c))).frameEqual(sorted.select(...on.map((c) => pl.col(c))));
    sorted = aligned
      ? pl.concat([sorted, rolled.select(...p.outs.map((c) => pl.col(c)))], { how: 'horizontal' })
      : sorted.join(rolled.select(...on.map((c) => pl.col(c)), ...p.outs.map((c) => pl.col(c))).unique({ subset: on, keep: 'any' }), { on, how: 'left' });
  }
  const outs = plan.flatMap((p) => p.outs);
  return sorted.sort(ROW).select(...outs.map((c) => pl.col(c)));
}

/**
 * Applies a view to its source. `createdAt` fills created_ts when the view names no created
 * column (a materialization passes its own time).
 */
export function applyFeatureView(source: pl.DataFrame, view: FeatureView, opts: { createdAt?: Date } = {}): AppliedView {
  const what = `feature view ${view.name} v${view.version}`;
  const schema = source.schema as Record<string, DataType>;

  // Every column the view reads must exist, with usable types, before any work.
  const needed = new Set<string>([...view.entities, view.timestamp, ...(view.created ? [view.created] : [])]);
  for (const f of view.features) for (const c of exprColumns(f.expr)) needed.add(c);
  const missing = [...needed].filter((c) => !(c in schema));
  if (missing.length) {
    throw invalidInput(`${what}: the source has no column ${missing.map((c) => JSON.stringify(c)).join(', ')} (it has ${source.columns.map((c) => JSON.stringify(c)).join(', ')})`);
  }
  // Every feature typed against the source before any work; all problems in one message.
  const env = exprEnv(schema, { windows: true });
  const issues = view.features.flatMap((f) => inferExpr(f.expr, env, `features.${f.name}`).issues);
  if (issues.length) throw invalidInput(`${what}: cannot compute its features: ${issues.map(formatIssue).join('; ')}`);
  const keyExprs = view.entities.map((k) => {
    const t = keyTypeOf(schema[k]!);
    if (!t) throw invalidInput(`${what}: entity "${k}" is ${schema[k]}; entity keys must be strings or integers`);
    return pl.col(k).cast(t === 'string' ? pl.Utf8 : pl.Int64);
  });
  const tsExpr = utcTimeExpr(pl.col(view.timestamp), schema[view.timestamp]!);
  if (!tsExpr) throw invalidInput(`${what}: timestamp column "${view.timestamp}" is ${schema[view.timestamp]}; it must be a Date or Datetime`);
  let createdExpr: pl.Expr;
  if (view.created) {
    const ce = utcTimeExpr(pl.col(view.created), schema[view.created]!);
    if (!ce) throw invalidInput(`${what}: created column "${view.created}" is ${schema[view.created]}; it must be a Date or Datetime`);
    createdExpr = ce;
  } else {
    createdExpr = pl.lit(opts.createdAt ?? null).cast(pl.Datetime('ms'));
  }

  return polarsOrInvalid(`${what}: cannot compute its features`, () => {
    // Keys and event time canonical under hidden names (the source may use those names for features too).
    const keyCols = view.entities.map((_, i) => `${HIDDEN}k${i}`);
    let base: pl.DataFrame = source
      .withColumns(...keyExprs.map((e, i) => e.alias(keyCols[i]!)), tsExpr.alias(TS), createdExpr.alias(`${HIDDEN}created`))
      .filter(pl.allHorizontal([...keyCols, TS].map((c) => pl.col(c).isNotNull())));
    const dropped = source.height - base.height;

    // Window aggregates, computed per distinct window length.
    const windowCols = new Map<string, string>();
    const byLength = new Map<number, WindowNode[]>();
    for (const f of view.features) {
      walkExpr(f.expr, (e) => {
        if (e.op !== 'window' || windowCols.has(windowKey(e))) return;
        windowCols.set(windowKey(e), `${HIDDEN}w${windowCols.size}`);
        const ms = durationMs(e.window);
        byLength.set(ms, [...(byLength.get(ms) ?? []), e]);
      });
    }
    if (byLength.size) base = pl.concat([base, windowAggregates(base, keyCols, byLength, windowCols)], { how: 'horizontal' });
    base = base.withColumns(...view.features.map((f) => compileExpr(f.expr, schema, { where: `features.${f.name}`, windows: windowCols }).expr.alias(`${HIDDEN}f_${f.name}`)));
    const computed = base.schema as Record<string, DataType>;
    const resolved: ResolvedFeatureColumn[] = view.entities.map((name) => ({ name, type: keyTypeOf(schema[name]!)!, role: 'entity' as const }));
    const featureExprs = view.features.map((f) => {
      const col = `${HIDDEN}f_${f.name}`;
      const dtype = computed[col]!;
      const type = f.type ?? featureTypeOf(dtype);
      if (!type) {
        throw invalidInput(`${what}: feature "${f.name}" computes ${dtype}, which has no feature type; declare one (int64, float64, bool, string, timestamp) or cast it`);
      }
      resolved.push({ name: f.name, type, role: 'feature' });
      return canonicalExpr(pl.col(col), dtype, type).alias(f.name);
    });
    const frame = base.select(
      ...keyCols.map((k, i) => pl.col(k).alias(view.entities[i]!)),
      pl.col(TS).alias(EVENT_TS),
      pl.col(`${HIDDEN}created`).alias(CREATED_TS),
      ...featureExprs,
    );
    return { frame, schema: resolved, dropped };
  });
}
