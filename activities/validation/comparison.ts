import pl, { type DataType } from 'nodejs-polars';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { isStringLike, jsonValue, missing, typeName, values } from './columns';
import { SAMPLE_SIZE } from './expectations';

/**
 * Comparison of a dataset version with a reference version: what changed in the schema, which
 * categories are new, which columns got markedly more missing values. All counting in polars.
 */

export interface ComparisonReport {
  reference: { name: string; version: number; uri: string; rows: number };
  /** A null rate rising by at least this much (absolute) is a jump. */
  null_rate_threshold: number;
  schema: {
    added: { column: string; type: string }[];
    removed: { column: string; type: string }[];
    type_changed: { column: string; reference: string; current: string }[];
  };
  /** String columns in both versions whose current values include some the reference never had. */
  new_categories: { column: string; distinct_count: number; row_count: number; sample: { value: unknown; count: number }[] }[];
  /** Every column in both versions; rates are shares of missing values (null, or NaN in floats), null for an empty frame. */
  null_rates: { column: string; reference: number | null; current: number | null; delta: number | null; jump: boolean }[];
  /** One line per finding, in the order schema, new categories, null-rate jumps. */
  findings: { kind: 'schema' | 'new_categories' | 'null_rate'; column: string; message: string }[];
}

// Rates are ratios of counts: 0.3 − 0.2 is 0.09999999999999998. A jump equal to the threshold counts.
const EPSILON = 1e-9;

export async function compareFrames(current: pl.DataFrame, reference: pl.DataFrame, ref: DatasetRef, threshold: number): Promise<ComparisonReport> {
  const cur = dtypesOf(current);
  const old = dtypesOf(reference);
  const added = [...cur].filter(([c]) => !old.has(c)).map(([column, d]) => ({ column, type: typeName(d) }));
  const removed = [...old].filter(([c]) => !cur.has(c)).map(([column, d]) => ({ column, type: typeName(d) }));
  const common = [...cur.keys()].filter((c) => old.has(c));
  const typeChanged = common
    .filter((c) => typeName(cur.get(c)!) !== typeName(old.get(c)!))
    .map((column) => ({ column, reference: typeName(old.get(column)!), current: typeName(cur.get(column)!) }));

  const newCategories: ComparisonReport['new_categories'] = [];
  for (const column of common.filter((c) => isStringLike(cur.get(c)!) && isStringLike(old.get(c)!))) {
    const seen = reference.lazy().select(values(column, old.get(column)!).alias(column)).unique();
    const fresh = await current
      .lazy()
      .select(values(column, cur.get(column)!).alias(column))
      .filter(pl.col(column).isNotNull())
      .join(seen, { on: column, how: 'anti' })
      .groupBy(column)
      .agg(pl.len().alias('__sluice_count'))
      .sort(['__sluice_count', column], [true, false])
      .collect();
    if (fresh.height === 0) continue;
    const counts = fresh.getColumn('__sluice_count');
    newCategories.push({
      column,
      distinct_count: fresh.height,
      row_count: Number(counts.sum()),
      sample: (fresh.head(SAMPLE_SIZE).toRecords() as Record<string, unknown>[]).map((r) => ({ value: jsonValue(r[column]), count: Number(r.__sluice_count) })),
    });
  }

  const curRates = await nullRates(current, common, cur);
  const oldRates = await nullRates(reference, common, old);
  const rates = common.map((column) => {
    const c = curRates.get(column) ?? null;
    const r = oldRates.get(column) ?? null;
    const delta = c !== null && r !== null ? c - r : null;
    return { column, reference: r, current: c, delta, jump: delta !== null && delta >= threshold - EPSILON };
  });

  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  const findings: ComparisonReport['findings'] = [
    ...added.map((a) => ({ kind: 'schema' as const, column: a.column, message: `column "${a.column}" added (${a.type})` })),
    ...removed.map((r) => ({ kind: 'schema' as const, column: r.column, message: `column "${r.column}" removed (was ${r.type})` })),
    ...typeChanged.map((t) => ({ kind: 'schema' as const, column: t.column, message: `column "${t.column}" changed type from ${t.reference} to ${t.current}` })),
    ...newCategories.map((n) => ({
      kind: 'new_categories' as const,
      column: n.column,
      message: `column "${n.column}" has ${n.distinct_count} new value(s) in ${n.row_count} row(s), e.g. ${n.sample
        .slice(0, 3)
        .map((s) => clipValue(JSON.stringify(s.value)))
        .join(', ')}`,
    })),
    ...rates
      .filter((r) => r.jump)
      .map((r) => ({
        kind: 'null_rate' as const,
        column: r.column,
        message: `null rate of "${r.column}" rose from ${pct(r.reference)} to ${pct(r.current)} (threshold +${pct(threshold)})`,
      })),
  ];

  return {
    reference: { name: ref.name, version: ref.version, uri: ref.uri, rows: reference.height },
    null_rate_threshold: threshold,
    schema: { added, removed, type_changed: typeChanged },
    new_categories: newCategories,
    null_rates: rates,
    findings,
  };
}

const clipValue = (s: string) => (s.length <= 60 ? s : `${s.slice(0, 59)}…`);

function dtypesOf(df: pl.DataFrame): Map<string, DataType> {
  return new Map(df.columns.map((c, i) => [c, df.dtypes[i]!]));
}

async function nullRates(df: pl.DataFrame, columns: string[], dtypes: Map<string, DataType>): Promise<Map<string, number | null>> {
  if (columns.length === 0) return new Map();
  const counts = await df
    .lazy()
    .select(...columns.map((c, i) => missing(c, dtypes.get(c)!).sum().alias(`m${i}`)))
    .collect();
  const row = counts.row(0);
  return new Map(columns.map((c, i) => [c, df.height === 0 ? null : Number(row[i]) / df.height]));
}
