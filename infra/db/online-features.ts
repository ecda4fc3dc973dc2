import pg from 'pg';
import { getFeatureViewVersion, type ResolvedFeatureColumn } from './features';
import type { Db } from './pool';

/**
 * Reading feature views' online tables (`fv_<view>_v<version>`, written by materialize-features):
 * the one query both readers use, batch scoring's `readOnlineFeatures` (one view,
 * activities/features/online-read.ts) and the serving process's look-ups by entity key (every
 * view of a model at once, serving/online-features.ts), and the views' recorded column types,
 * which say how keys are cast.
 */

// Resolved schemas per database and view version: they never change once recorded.
const schemas = new WeakMap<Db, Map<string, ResolvedFeatureColumn[]>>();

/**
 * The view version's resolved columns (recorded at its first materialization; undefined before
 * that, and asked again next time). Cached per pool once recorded.
 */
export async function resolvedViewSchema(db: Db, view: { name: string; version: number }): Promise<ResolvedFeatureColumn[] | undefined> {
  const key = `${view.name}@${view.version}`;
  let byView = schemas.get(db);
  const hit = byView?.get(key);
  if (hit) return hit;
  const row = await getFeatureViewVersion(db, view.name, view.version);
  if (!row?.schema) return undefined;
  if (!byView) schemas.set(db, (byView = new Map()));
  byView.set(key, row.schema);
  return row.schema;
}

/** How an entity's keys are cast: as the online table's key column (an unknown type is text). */
export type OnlineKeyType = 'int64' | 'string';

/** The key types of a view's entities by name, from its resolved schema. */
export function entityKeyTypes(schema: readonly ResolvedFeatureColumn[]): Map<string, OnlineKeyType> {
  return new Map(schema.filter((c) => c.role === 'entity').map((c) => [c.name, c.type === 'int64' ? 'int64' : 'string']));
}

/** One entity key column of a read: its name and how its keys are cast. */
export interface OnlineEntity {
  name: string;
  type: OnlineKeyType;
}

/** One view's online table in a read: the entities that key it and the columns read from it. */
export interface OnlineTable {
  /** `fv_<view>_v<version>` (names validated by featureViewSchema before they get here; quoted anyway). */
  table: string;
  entities: readonly string[];
  columns: readonly string[];
}

/** A key value; null matches no row. */
export type OnlineKeyValue = string | number | bigint | null;

/** Per key: for each table, its stored values in `columns` order (null: no row for the key, or no table yet). */
export type OnlineRow = (unknown[] | null)[];

const UNDEFINED_TABLE = '42P01';

/**
 * The stored rows of a batch of keys from one or more online tables, in ONE query: the keys go in
 * as arrays (one per entity column, `unnest … WITH ORDINALITY`), each table is LEFT JOINed on its
 * entities, and rows come back in the order asked. A table that does not exist yet (never
 * materialized) answers no row for any key: the query is rerun without it. A key that does not
 * fit its cast fails with PostgreSQL's 22P02, for the caller to name.
 */
export async function readOnlineRows(db: Db, entities: readonly OnlineEntity[], tables: readonly OnlineTable[], keys: readonly (readonly OnlineKeyValue[])[]): Promise<OnlineRow[]> {
  if (!keys.length) return [];
  const present = tables.map(() => true);
  for (;;) {
    const joined = tables.map((t, i) => ({ t, i })).filter(({ i }) => present[i]);
    if (!joined.length) return keys.map(() => tables.map(() => null));
    const q = (e: string) => `q.k${entities.findIndex((x) => x.name === e)}`;
    // event_ts is NOT NULL in an online table: it tells a row from a key with none.
    const select = joined.flatMap(({ t, i }) => [`t${i}.event_ts IS NOT NULL AS f${i}`, ...t.columns.map((c, j) => `t${i}.${pg.escapeIdentifier(c)} AS c${i}_${j}`)]);
    const sql = `SELECT ${select.join(', ')}
      FROM unnest(${entities.map((e, i) => `$${i + 1}::${e.type === 'int64' ? 'bigint' : 'text'}[]`).join(', ')}) WITH ORDINALITY AS q(${entities.map((_, i) => `k${i}`).join(', ')}, ord)
      ${joined.map(({ t, i }) => `LEFT JOIN ${pg.escapeIdentifier(t.table)} t${i} ON ${t.entities.map((e) => `t${i}.${pg.escapeIdentifier(e)} = ${q(e)}`).join(' AND ')}`).join('\n      ')}
      ORDER BY q.ord`;
    const arrays = entities.map((_, k) =>
      keys.map((key) => {
        const v = key[k];
        return v === null || v === undefined ? null : String(v);
      }),
    );
    try {
      const { rows } = await db.query<Record<string, unknown>>(sql, arrays);
      return rows.map((r) => tables.map((t, i) => (present[i] && r[`f${i}`] ? t.columns.map((_, j) => r[`c${i}_${j}`]) : null)));
    } catch (e) {
      const missing = (e as { code?: string }).code === UNDEFINED_TABLE ? tables.findIndex((t, i) => present[i] && (e as Error).message.includes(`"${t.table}"`)) : -1;
      if (missing < 0) throw e;
      present[missing] = false;
    }
  }
}
