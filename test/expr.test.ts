import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pl, { type DataType } from 'nodejs-polars';
import { compileExpr, cutLabels } from '../activities/data/expr-compile';
import { projectRoot } from '../infra/paths';
import { boundedExpr, expr, renderExpr, type Expr } from '../pipelines/expr/ast';
import { coalesce, col, concat, lit, when, type ExprBuilder } from '../pipelines/expr/builder';
import { ExprTypeError, inferExpr } from '../pipelines/expr/check';

/** The expression language: each function family against an independent computation in JS, and the type check's messages. */

const DAY = 86_400_000;
// Spread over years, weekdays, hours; one before 1970 (epoch floors), one null.
const TIMES = [Date.UTC(2001, 0, 1, 0, 47, 5), Date.UTC(2015, 5, 30, 23, 59, 59), Date.UTC(1969, 11, 31, 23, 0, 30, 500), Date.UTC(2024, 1, 29, 12, 5), null];
const DELAY = [66, -7, 0, 15, null];
const X = [2.5, -2.5, 0.25, 1e3, null];
const S = ['Éclair', 'abc', '', 'DTW', null];

const frame = pl
  .DataFrame({
    ts: TIMES.map((t) => (t === null ? null : new Date(t))),
    delay: DELAY,
    x: X,
    s: S,
    flag: [true, false, null, true, false],
  })
  .withColumns(
    pl.col('ts').cast(pl.Datetime('us', 'UTC')),
    pl.col('ts').cast(pl.Datetime('ms')).alias('naive'),
    pl.col('ts').cast(pl.Date).alias('d'),
    pl.col('delay').cast(pl.Int64),
    pl.col('s').cast(pl.Categorical).alias('cat'),
  );
const schema = frame.schema as Record<string, DataType>;

/** Evaluates an expression on the frame: its values and dtype. */
function run(e: ExprBuilder | Expr, df = frame): { values: unknown[]; dtype: string } {
  const node = 'node' in e ? e.node : e;
  // Through JSON and the zod schema, as a step input travels.
  const parsed = expr.parse(JSON.parse(JSON.stringify(node)));
  const { expr: x } = compileExpr(parsed, df.schema as Record<string, DataType>, { where: 'test' });
  const s = df.select(x.alias('out')).getColumn('out');
  return { values: [...s.toArray()].map((v) => (typeof v === 'bigint' ? Number(v) : v)), dtype: String(s.dtype.variant) };
}
const values = (e: ExprBuilder | Expr) => run(e).values;
const map = <T, U>(xs: (T | null)[], f: (x: T) => U) => xs.map((x) => (x === null ? null : f(x)));

test('datetime parts are taken in UTC; weekday is ISO; epoch floors; dates and naive times work alike', () => {
  const d = (t: number) => new Date(t);
  assert.deepEqual(values(col('ts').hour()), map(TIMES, (t) => d(t).getUTCHours()));
  assert.deepEqual(values(col('ts').minute()), map(TIMES, (t) => d(t).getUTCMinutes()));
  assert.deepEqual(values(col('ts').second()), map(TIMES, (t) => d(t).getUTCSeconds()));
  assert.deepEqual(values(col('ts').weekday()), map(TIMES, (t) => ((d(t).getUTCDay() + 6) % 7) + 1));
  assert.deepEqual(values(col('ts').day()), map(TIMES, (t) => d(t).getUTCDate()));
  assert.deepEqual(values(col('ts').month()), map(TIMES, (t) => d(t).getUTCMonth() + 1));
  assert.deepEqual(values(col('ts').year()), map(TIMES, (t) => d(t).getUTCFullYear()));
  assert.deepEqual(values(col('ts').dayOfYear()), map(TIMES, (t) => Math.floor((t - Date.UTC(d(t).getUTCFullYear(), 0, 1)) / DAY) + 1));
  assert.deepEqual(values(col('ts').epoch()), map(TIMES, (t) => Math.floor(t / 1000)));
  assert.deepEqual(values(col('ts').epoch('ms')), map(TIMES, (t) => t));
  assert.deepEqual(values(col('naive').hour()), values(col('ts').hour()));
  assert.deepEqual(values(col('d').weekday()), values(col('ts').weekday()));
  assert.deepEqual(values(col('d').epoch()), map(TIMES, (t) => Math.floor(t / DAY) * 86_400));
  assert.equal(run(col('ts').hour()).dtype, 'Int64');
});

test('arithmetic: integers stay integers, division is true division, modulo takes the sign of the divisor', () => {
  const pyMod = (a: number, b: number) => ((a % b) + b) % b;
  assert.deepEqual(values(col('delay').add(1)), map(DELAY, (v) => v + 1));
  assert.equal(run(col('delay').add(1)).dtype, 'Int64');
  assert.deepEqual(values(col('delay').sub(col('delay').mul(2))), map(DELAY, (v) => v - v * 2));
  assert.deepEqual(values(col('delay').div(2)), map(DELAY, (v) => v / 2));
  assert.deepEqual(values(col('delay').mod(4)), map(DELAY, (v) => pyMod(v, 4)));
  assert.deepEqual(values(col('x').mod(1)), map(X, (v) => pyMod(v, 1)));
  assert.deepEqual(values(col('x').floor()), map(X, Math.floor));
  assert.deepEqual(values(col('x').ceil()), map(X, Math.ceil));
  assert.deepEqual(values(col('delay').floor()), DELAY);
  assert.equal(run(col('delay').floor()).dtype, 'Int64');
  // Half away from zero: 2.5 -> 3, -2.5 -> -3.
  assert.deepEqual(values(col('x').round()), map(X, (v) => Math.sign(v) * Math.round(Math.abs(v))));
  assert.deepEqual(values(col('x').round(1)), map(X, (v) => Math.sign(v) * Math.round(Math.abs(v) * 10) / 10));
  assert.deepEqual(values(col('delay').abs()), map(DELAY, Math.abs));
  assert.deepEqual(values(col('delay').neg()), map(DELAY, (v) => 0 - v));
  const close = (a: unknown[], b: (number | null)[]) => a.forEach((v, i) => (b[i] === null || !Number.isFinite(b[i]) ? assert.ok(Object.is(v, b[i])) : assert.ok(Math.abs((v as number) - b[i]!) < 1e-9 * Math.max(1, Math.abs(b[i]!)), `${v} vs ${b[i]}`)));
  close(values(col('x').abs().log()), map(X, (v) => Math.log(Math.abs(v))));
  close(values(col('x').abs().log(10)), map(X, (v) => Math.log10(Math.abs(v))));
  close(values(col('x').exp()), map(X, Math.exp));
  close(values(col('x').abs().sqrt()), map(X, (v) => Math.sqrt(Math.abs(v))));
  assert.deepEqual(values(col('delay').clip({ min: 0, max: 60 })), map(DELAY, (v) => Math.min(60, Math.max(0, v))));
  assert.equal(run(col('delay').clip({ min: 0 })).dtype, 'Int64');
  assert.deepEqual(values(col('delay').clip({ max: 0.5 })), map(DELAY, (v) => Math.min(0.5, v)));
});

test('comparisons and logic: nulls propagate (Kleene and/or); times compare across zones, units and ISO literals; categoricals with strings', () => {
  assert.deepEqual(values(col('delay').gt(15)), map(DELAY, (v) => v > 15));
  assert.deepEqual(values(col('delay').gte(15)), map(DELAY, (v) => v >= 15));
  assert.deepEqual(values(col('delay').lt(col('x'))), DELAY.map((v, i) => (v === null || X[i] === null ? null : v < X[i]!)));
  assert.deepEqual(values(col('delay').eq(0).or(col('flag'))), [true, false, true, true, null]);
  assert.deepEqual(values(col('delay').gt(0).and(col('flag'))), [true, false, false, true, false]);
  assert.deepEqual(values(col('flag').not()), [false, true, null, false, true]);
  const cut = Date.UTC(2010, 0, 1);
  assert.deepEqual(values(col('ts').gt('2010-01-01')), map(TIMES, (t) => t > cut));
  assert.deepEqual(values(col('naive').gt(col('ts'))), map(TIMES, () => false));
  assert.deepEqual(values(col('d').lte('2001-01-01T00:00:00Z')), map(TIMES, (t) => t < Date.UTC(2001, 0, 2)));
  assert.deepEqual(values(col('cat').eq('abc')), map(S, (s) => s === 'abc'));
  assert.deepEqual(values(col('cat').eq(col('s'))), map(S, () => true));
});

test('casts, when/then/otherwise, and null handling', () => {
  assert.deepEqual(values(col('x').cast('int64')), map(X, Math.trunc));
  assert.deepEqual(values(col('delay').cast('string')), map(DELAY, String));
  assert.deepEqual(values(col('flag').cast('int64')), [1, 0, null, 1, 0]);
  assert.deepEqual(values(col('delay').gt(0).cast('float64')), map(DELAY, (v) => (v > 0 ? 1 : 0)));
  assert.deepEqual(
    (values(col('ts').epoch('ms').cast('timestamp')) as (Date | null)[]).map((v) => v?.getTime() ?? null),
    TIMES,
  );
  assert.deepEqual(
    (values(col('ts').cast('date')) as (Date | null)[]).map((v) => v?.getTime() ?? null),
    map(TIMES, (t) => Math.floor(t / DAY) * DAY),
  );
  const label = when(col('delay').gt(60)).then('late').when(col('delay').gt(0)).then('delayed').otherwise('on time');
  assert.deepEqual(values(label), DELAY.map((v) => (v === null ? 'on time' : v > 60 ? 'late' : v > 0 ? 'delayed' : 'on time')));
  assert.deepEqual(values(when(col('flag')).then(col('delay')).otherwise(col('x'))), DELAY.map((v, i) => ([true, false, null, true, false][i] ? v : X[i])));
  assert.deepEqual(values(col('delay').isNull()), DELAY.map((v) => v === null));
  assert.deepEqual(values(col('delay').isNotNull()), DELAY.map((v) => v !== null));
  assert.deepEqual(values(col('delay').fillNull(-1)), DELAY.map((v) => v ?? -1));
  assert.equal(run(col('delay').fillNull(-1)).dtype, 'Int64');
  assert.deepEqual(values(coalesce(lit(null), col('delay'), col('x'), 0)), DELAY.map((v, i) => v ?? X[i] ?? 0));
  assert.deepEqual(values(col('s').fillNull(col('cat'))), S);
});

test('string functions: lower, upper, slice, concat (null if a part is null), length in characters', () => {
  assert.deepEqual(values(col('s').lower()), map(S, (s) => s.toLowerCase()));
  assert.deepEqual(values(col('cat').upper()), map(S, (s) => s.toUpperCase()));
  assert.deepEqual(values(col('s').slice(1, 3)), map(S, (s) => [...s].slice(1, 4).join('')));
  assert.deepEqual(values(col('s').slice(-2)), map(S, (s) => [...s].slice(-2).join('')));
  assert.deepEqual(values(col('s').length()), map(S, (s) => [...s].length));
  assert.deepEqual(values(concat([col('s'), col('delay'), 'x'], '-')), S.map((s, i) => (s === null || DELAY[i] === null ? null : `${s}-${DELAY[i]}-x`)));
});

test('cut: intervals by breaks (right- or left-closed), default or given labels, null stays null', () => {
  const breaks = [0, 15, 60];
  const bin = (v: number, left: boolean) => breaks.findIndex((b) => (left ? v < b : v <= b));
  const idx = (v: number, left: boolean) => (bin(v, left) === -1 ? breaks.length : bin(v, left));
  const labels = ['early', 'on time', 'delayed', 'late'];
  assert.deepEqual(values(col('delay').cut(breaks, labels)), map(DELAY, (v) => labels[idx(v, false)]));
  assert.deepEqual(values(col('delay').cut(breaks)), map(DELAY, (v) => cutLabels(breaks, false)[idx(v, false)]));
  assert.deepEqual(values(col('delay').cut(breaks, undefined, { leftClosed: true })), map(DELAY, (v) => cutLabels(breaks, true)[idx(v, true)]));
  assert.deepEqual(cutLabels([0, 15], false), ['(-inf, 0]', '(0, 15]', '(15, inf]']);
});

test('type check: every error names where, the offending part and why; all at once, without cascades', () => {
  const check = (e: ExprBuilder, where = 'derive.is_late') => {
    try {
      compileExpr(e.node, schema, { where });
    } catch (err) {
      assert.ok(err instanceof ExprTypeError);
      return err.message;
    }
    assert.fail('no error');
  };
  assert.equal(check(col('delay').gt('x')), 'derive.is_late: gt(col("delay"), "x"): cannot compare Int64 with String');
  assert.match(check(col('dealy').gt(15)), /^derive\.is_late: col\("dealy"\): no column "dealy" \(columns: "ts", "delay", /);
  assert.equal(check(col('s').add(1), 'filter'), 'filter: add(col("s"), 1): cannot add String and Int64 (arithmetic takes numbers; join strings with concat)');
  assert.equal(check(col('d').hour()), 'derive.is_late: hour(col("d")): hour needs a Datetime; a Date has no time of day');
  assert.match(check(col('s').cast('timestamp')), /cannot cast String to Datetime \(declare the column's type/);
  assert.match(check(col('delay').and(col('flag'))), /and\(col\("delay"\), col\("flag"\)\): and takes Booleans, not Int64/);
  assert.match(check(when(col('delay')).then(1).otherwise('a')), /col\("delay"\): a condition must be Boolean, not Int64.*then and otherwise have no common type: Int64 and String/);
  assert.match(check(col('flag').lt(true)), /lt cannot order Booleans/);
  assert.match(check(col('s').hour()), /hour takes a Date or Datetime, not String/);
  assert.match(check(col('x').lower()), /lower takes a string, not Float64 \(cast it to "string" first\)/);
  // One mistake, one message: the nodes above a failed one are not reported again.
  const r = inferExpr(col('nope').add(1).gt(2).and(col('s').lower().eq(col('x'))).node, { columns: { s: 'string', x: 'float64' } }, 'filter');
  assert.deepEqual(
    r.issues.map((i) => i.node),
    ['col("nope")', 'eq(lower(col("s")), col("x"))'],
  );
  assert.match(check(new (col('x').constructor as typeof ExprBuilder)({ op: 'window', fn: 'sum', arg: { op: 'col', name: 'x' }, window: '7d' })), /window aggregates are only allowed in feature views/);
});

test('the AST is data: builders are plain JSON the zod schema accepts; malformed trees are refused; names are never code', () => {
  const e = when(col('ts').hour().gte(22).or(col('ts').hour().lt(6))).then('night').otherwise(concat([col('s').upper().slice(0, 2), col('delay').cut([0, 15])], '/'));
  const json = JSON.parse(JSON.stringify({ e }));
  assert.deepEqual(expr.parse(json.e), e.node);
  assert.equal(renderExpr(e.node), 'if(or(gte(hour(col("ts")), 22), lt(hour(col("ts")), 6)), "night", concat(slice(upper(col("s")), start=0, length=2), cut(col("delay"), breaks=[0,15]), sep="/"))');
  for (const bad of [
    { op: 'eval', arg: { op: 'lit', value: 'process.exit(1)' } },
    { op: 'col', name: 'a', extra: 1 },
    { op: 'cut', arg: { op: 'col', name: 'a' }, breaks: [5, 1] },
    { op: 'cut', arg: { op: 'col', name: 'a' }, breaks: [1, 5], labels: ['a', 'b'] },
    { op: 'log', arg: { op: 'col', name: 'a' }, base: 1 },
    { op: 'clip', arg: { op: 'col', name: 'a' }, min: 2, max: 1 },
    { op: 'lit', value: { toString: 'x' } },
  ]) {
    assert.equal(expr.safeParse(bad).success, false, JSON.stringify(bad));
  }
  let deep: Expr = { op: 'col', name: 'a' };
  for (let i = 0; i < 40; i++) deep = { op: 'neg', arg: deep };
  assert.match(boundedExpr.safeParse(deep).error!.message, /nested deeper than 32/);
  // A column named like code is a column name, nothing more.
  assert.deepEqual(run(col('process.exit(1)').add(1), pl.DataFrame({ 'process.exit(1)': [1, 2] })).values, [2, 3]);
});

test("the README's ingest-validate example is valid params whose expressions type-check against flights' columns", async () => {
  const { ingestValidateParams } = await import('../pipelines/ingest-validate');
  const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const block = /workflow type `ingest-validate`, input:\n\n```json\n([\s\S]*?)\n```/.exec(readme);
  assert.ok(block, 'the example is in the README');
  const params = ingestValidateParams.parse(JSON.parse(block[1]!));
  const env = { columns: { date: 'timestamp', delay: 'int64', distance: 'int64', origin: 'string', destination: 'string' } } as const;
  for (const [name, e] of Object.entries(params.derive ?? {})) assert.deepEqual(inferExpr(e, env, `derive.${name}`).issues, []);
  assert.equal(inferExpr(params.filter!, env, 'filter').type, 'bool');
});
