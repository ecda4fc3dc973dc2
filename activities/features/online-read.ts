import type { Db } from '../../infra/db/pool';
import { entityKeyTypes, readOnlineRows, resolvedViewSchema } from '../../infra/db/online-features';
import { onlineTableName, type FeatureView } from '../../pipelines/steps/features';
import { EVENT_TS } from './columns';
import { assertSafeView } from './online-store';
import { invalidInput } from '../../pipelines/failures';

/**
 * Online read: the stored features of a list of entities in one query (infra/db/online-features.ts
 * readOnlineRows, the read the serving process makes too), in the order asked, with nulls for keys
 * never materialized. TTL is not applied here (Feast's online reads do not either): `event_ts`
 * comes back so a caller can judge freshness.
 */

export type EntityKeyValue = string | number | bigint | null;
/** One entity: its key columns by name, or the bare value for a view with a single entity. */
export type EntityKey = Record<string, EntityKeyValue> | EntityKeyValue;
/** Key columns as asked, `event_ts` (Date | null) and the features (null when unknown). */
export type OnlineFeatureRow = Record<string, unknown>;

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
  if (!tuples.length) return [];
  const row = (t: EntityKeyValue[], stored: unknown[] | null): OnlineFeatureRow => {
    const r: OnlineFeatureRow = Object.fromEntries(view.entities.map((e, i) => [e, t[i] ?? null]));
    r[EVENT_TS] = stored?.[0] ?? null;
    for (const [j, f] of featureNames.entries()) r[f] = stored?.[j + 1] ?? null;
    return r;
  };

  const schema = await resolvedViewSchema(db, view);
  if (!schema) return tuples.map((t) => row(t, null)); // never materialized: every key is unknown
  const types = entityKeyTypes(schema);
  const entities = view.entities.map((e) => ({ name: e, type: types.get(e) ?? 'string' }));
  try {
    const stored = await readOnlineRows(db, entities, [{ table: onlineTableName(view), entities: view.entities, columns: [EVENT_TS, ...featureNames] }], tuples);
    return stored.map((s, i) => row(tuples[i]!, s[0]!));
  } catch (e) {
    if ((e as { code?: string }).code === '22P02') throw invalidInput(`a key does not fit feature view ${view.name}'s key types: ${(e as Error).message}`);
    throw e;
  }
}
