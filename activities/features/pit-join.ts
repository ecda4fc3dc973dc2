import pl, { type DataType } from 'nodejs-polars';
import { durationMs, type FeatureView } from '../../pipelines/steps/features';
import { CREATED_TS, EVENT_TS, finestUnit, keyTypeOf, PER_MS, polarsOrInvalid, timeUnitOf, utcTimeExpr, type TimeUnit } from './columns';
import { invalidInput } from '../../pipelines/failures';

/**
 * Point-in-time correct join (Feast's rule): for an entity row at time t and each view, the
 * candidates are that view's rows with the same key(s) and event_ts <= t and, when the view's
 * ttl > 0, event_ts >= t - ttl (both inclusive); the one with the largest event_ts wins, ties
 * broken by the largest created_ts (null counts as oldest; full ties: the later row). No
 * candidate: the features are null. Entity rows keep their order and columns; features follow.
 *
 * With polars: each view's rows are deduplicated on (keys, event_ts) keeping the winner of
 * ties, sorted by event_ts, and joined with `joinAsof` (backward, by the keys, exact matches
 * allowed); then the TTL mask nulls matches older than t - ttl.
 *
 * Times are compared as integers in the finest unit among the entity time and the views' times
 * (the coarser cast up, exactly): truncating a microsecond entity time to milliseconds would
 * join an event up to 999 µs after it, a value from the future.
 */

export interface PitFeatureSource {
  view: Pick<FeatureView, 'name' | 'entities' | 'ttl' | 'features'>;
  /** [...entities, event_ts, created_ts, ...features] (created_ts optional), as the offline store holds them. */
  frame: pl.DataFrame;
}

export interface PitJoinOptions {
  /** The entity rows' time column (Date or Datetime). */
  timestamp: string;
  /** Name features `<view>__<feature>`; otherwise their own names, which must not clash. */
  fullFeatureNames?: boolean;
  /** The entity rows' column for a view entity named otherwise there (`{ origin: 'airport' }`); default: the entity's own name. */
  keys?: Record<string, string>;
}

const H = '__sluice_pit_';
const ROW = `${H}row`;
const T = `${H}t`;
const FT = `${H}ft`;
const CT = `${H}ct`;

export function featureColumnName(viewName: string, feature: string, full: boolean): string {
  return full ? `${viewName}__${feature}` : feature;
}

export function pointInTimeJoin(entities: pl.DataFrame, sources: PitFeatureSource[], opts: PitJoinOptions): pl.DataFrame {
  const eschema = entities.schema as Record<string, DataType>;
  const tsDtype = eschema[opts.timestamp];
  if (!tsDtype) throw invalidInput(`entity rows have no timestamp column "${opts.timestamp}" (they have ${entities.columns.join(', ')})`);
  const tsUnit = timeUnitOf(tsDtype);
  if (!tsUnit) throw invalidInput(`entity timestamp column "${opts.timestamp}" is ${tsDtype}; it must be a Date or Datetime`);
  if (entities.getColumn(opts.timestamp).nullCount() > 0) throw invalidInput(`entity timestamp column "${opts.timestamp}" has nulls: every entity row needs a time`);

  // Output names: entity columns, then each view's features; nothing may clash.
  const taken = new Set(entities.columns);
  const plan = sources.map((s) => {
    const keyColumn = (k: string) => opts.keys?.[k] ?? k;
    const missingKeys = s.view.entities.filter((k) => !(keyColumn(k) in eschema));
    if (missingKeys.length) {
      throw invalidInput(`entity rows lack key column(s) ${missingKeys.map((k) => (keyColumn(k) === k ? k : `${keyColumn(k)} (for ${k})`)).join(', ')} of feature view ${s.view.name}`);
    }
    const features = s.view.features.map((f) => {
      const out = featureColumnName(s.view.name, f.name, !!opts.fullFeatureNames);
      if (taken.has(out)) {
        throw invalidInput(`feature "${f.name}" of view ${s.view.name} would be column "${out}", which exists already${opts.fullFeatureNames ? '' : '; set fullFeatureNames'}`);
      }
      taken.add(out);
      return { name: f.name, out };
    });
    const fschema = s.frame.schema as Record<string, DataType>;
    for (const c of [...s.view.entities, EVENT_TS, ...features.map((f) => f.name)]) {
      if (!(c in fschema)) throw invalidInput(`feature rows of view ${s.view.name} lack column "${c}"`);
    }
    const eventUnit = timeUnitOf(fschema[EVENT_TS]!);
    if (!eventUnit) throw invalidInput(`event_ts of view ${s.view.name} is ${fschema[EVENT_TS]}; it must be a Date or Datetime`);
    const createdUnit = CREATED_TS in fschema ? timeUnitOf(fschema[CREATED_TS]!) : 'ms';
    if (!createdUnit) throw invalidInput(`created_ts of view ${s.view.name} is ${fschema[CREATED_TS]}; it must be a Date or Datetime`);
    // Keys on both sides as String or Int64, and the same on both.
    const keyCasts = s.view.entities.map((k, i) => {
      const lc = keyColumn(k);
      const lt = keyTypeOf(eschema[lc]!);
      if (!lt) throw invalidInput(`entity key "${lc}" is ${eschema[lc]!.variant} in the entity rows; keys must be strings or integers`);
      const rt = keyTypeOf(fschema[k]!);
      if (!rt) throw invalidInput(`entity key "${k}" is ${fschema[k]!.variant} in view ${s.view.name}; keys must be strings or integers`);
      if (lt !== rt) throw invalidInput(`entity key "${lc}" is ${eschema[lc]!.variant} in the entity rows but "${k}" is ${fschema[k]!.variant} in view ${s.view.name}`);
      const type = lt === 'string' ? pl.Utf8 : pl.Int64;
      return { hidden: `${H}k${i}`, left: pl.col(lc).cast(type), right: pl.col(k).cast(type) };
    });
    return { ...s, features, fschema, keyCasts, units: [eventUnit, createdUnit] };
  });
  // One unit for every comparison: the finest any side holds.
  const unit: TimeUnit = finestUnit(tsUnit, ...plan.flatMap((s) => s.units));
  const asInt = (column: string, dtype: DataType) => utcTimeExpr(pl.col(column), dtype, unit)!.cast(pl.Int64);

  return polarsOrInvalid('point-in-time join', () => {
    let left = entities.withRowIndex(ROW).withColumns(asInt(opts.timestamp, tsDtype).alias(T)).sort(T);
    for (const s of plan) {
      const { fschema, keyCasts } = s;
      const hiddenKeys = keyCasts.map((k) => k.hidden);

      const right = s.frame
        .select(
          ...keyCasts.map((k) => k.right.alias(k.hidden)),
          asInt(EVENT_TS, fschema[EVENT_TS]!).alias(FT),
          (CREATED_TS in fschema ? asInt(CREATED_TS, fschema[CREATED_TS]!) : pl.lit(null).cast(pl.Int64)).alias(CT),
          ...s.features.map((f) => pl.col(f.name).alias(f.out)),
        )
        .filter(pl.allHorizontal([...hiddenKeys, FT].map((c) => pl.col(c).isNotNull())))
        // Winner of each (keys, event_ts): largest created_ts (nulls first = oldest), then the later row.
        .sort({ by: [FT, CT], nullsLast: false, maintainOrder: true })
        .unique({ subset: [...hiddenKeys, FT], keep: 'last', maintainOrder: true })
        .drop(CT);

      left = left.withColumns(...keyCasts.map((k) => k.left.alias(k.hidden)));
      left = left.joinAsof(right, { leftOn: T, rightOn: FT, by: hiddenKeys, strategy: 'backward', allowExactMatches: true, checkSortedness: false });
      const ttl = durationMs(s.view.ttl);
      // The TTL in the comparison unit, multiplied in Int64 (a year in nanoseconds is past 2^53).
      const ttlInUnit = pl.lit(ttl).cast(pl.Int64).mul(pl.lit(PER_MS[unit]).cast(pl.Int64));
      const fresh = ttl > 0 ? pl.col(FT).isNotNull().and(pl.col(FT).gtEq(pl.col(T).sub(ttlInUnit))) : pl.col(FT).isNotNull();
      left = left
        .withColumns(...s.features.map((f) => pl.when(fresh).then(pl.col(f.out)).otherwise(pl.lit(null)).alias(f.out)))
        .drop([FT, ...hiddenKeys]);
    }
    return left.sort(ROW).drop([ROW, T]);
  });
}
