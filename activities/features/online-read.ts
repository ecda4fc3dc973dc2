import type { Db } from '../../infra/db/pool';
import { getFeatureViewVersion, type ResolvedFeatureColumn } from '../../infra/db/features';
import type { FeatureView } from '../../pipelines/steps/features';
import { EVENT_TS } from './columns';
import { assertSafeView, ident, onlineTableIdent } from './online-store';
import { invalidInput } from '../../pipelines/failures';

/**
 * Online read: the stored features of a list of entities in one query (the keys go in as
 * arrays, `unnest … WITH ORDINALITY` LEFT JOIN the view's table), in the order asked, with
 * nulls for keys never materialized. TTL is not applied here (Feast's online reads do not
 * either): `event_ts` comes back so a caller can judge freshness.
 */

export type EntityKeyValue = string | number | bigint | null;
/** One entity: its key columns by name, or the bare value for a view with a single entity. */
export type EntityKey = Record<string, EntityKeyValue> | EntityKeyValue;
/** Key columns as asked, `event_ts` (Date | null) and the features (null when unknown). */
export type OnlineFeatureRow = Record<string, unknown>;

const PG_ARRAY: Record<string, string> = { string: 'text[]', int64: 'bigint[]' };

// Resolved schemas per database and view version: they never change once recorded.
const schemas = new WeakMap<Db, Map<string, ResolvedFeatureColumn[]>>();

async function resolvedSchema(db: Db, view: FeatureView): Promise<ResolvedFeatureColumn[] | undefined> {
  const key = `${view.name}@${view.version}`;
  let byView = schemas.get(db);
  const hit = byView?.get(key);
  if (hit) return hit;
  const row = await getFeatureViewVersion(db, view.name, view.version);
  if (!row?.schema) return undefined; // never materialized: every key is unknown
  if (!byView) schemas.set(db, (byView = new Map()));
  byView.set(key, row.schema);
  return row.schema;
}

export async function readOnlineFeatures(db: Db, viewIn: FeatureView, keys: EntityKey[], opts: { features?: string[] } = {}): Promise<OnlineFeatureRow[]> {
  const view = assertSafeView(viewIn);
  const featureNames = opts.features ?? view.features.map((f) => f.name);
  const unknown = featureNames.filter((f) => !view.features.some((x) => x.name === f));
  if (unknown.length) throw invalidInput(`feature view ${view.name} has no feature ${unknown.join(', ')}`);
  const tuples = keys.map((k) => {
    if (k !== null && typeof k === 'object') return view.entities.map((e) => k[e] ?? null);
    if (view.entities.length !== 1) throw invalidInput(`feature view ${view.name} has entities ${view.entities.join(', ')}: pass each key as an object`);
    return [k];
  });
  const echo = (t: EntityKeyValue[]) => Object.fromEntries(view.entities.map((e, i) => [e, t[i] ?? null]));
  const empty = () => tuples.map((t) => ({ ...echo(t), [EVENT_TS]: null, ...Object.fromEntries(featureNames.map((f) => [f, null])) }));
  if (!tuples.length) return [];

  const schema = await resolvedSchema(db, view);
  if (!schema) return empty();
  const keyTypes = view.entities.map((e) => schema.find((c) => c.role === 'entity' && c.name === e)?.type);
  const arrays = view.entities.map((_, i) =>
    tuples.map((t) => {
      const v = t[i];
      return v === null || v === undefined ? null : String(v);
    }),
  );
  const q = view.entities.map((_, i) => `k${i}`);
  const sql = `SELECT t.${ident(EVENT_TS)}, ${featureNames.map((f) => `t.${ident(f)}`).join(', ')}
    FROM unnest(${keyTypes.map((t, i) => `$${i + 1}::${PG_ARRAY[t ?? ''] ?? 'text[]'}`).join(', ')}) WITH ORDINALITY AS q(${q.join(', ')}, ord)
    LEFT JOIN ${onlineTableIdent(view)} t ON ${view.entities.map((e, i) => `t.${ident(e)} = q.${q[i]}`).join(' AND ')}
    ORDER BY q.ord`;
  try {
    const { rows } = await db.query<Record<string, unknown>>(sql, arrays);
    return rows.map((r, i) => ({ ...echo(tuples[i]!), ...r }));
  } catch (e) {
    if ((e as { code?: string }).code === '42P01') return empty(); // table not created yet
    if ((e as { code?: string }).code === '22P02') throw invalidInput(`a key does not fit feature view ${view.name}'s key types: ${(e as Error).message}`);
    throw e;
  }
}
