import type { Db } from '../infra/db/pool';
import { getFeatureViewDefinition } from '../infra/db/features';
import { entityKeyTypes, readOnlineRows, resolvedViewSchema, type OnlineEntity, type OnlineKeyType, type OnlineTable } from '../infra/db/online-features';
import type { VersionLineage } from '../infra/db/registry';
import { onlineTableName, parseFeatureView, type FeatureView } from '../pipelines/steps/features';
import { MicroBatcher, type BatcherOptions } from './batcher';
import { badRequest, ServingError } from './errors';
import { checkRows, describe } from './input';
import type { Feature, FeatureRow, FeatureValue } from './feature-row';

/**
 * Online features by entity key. A model version reads the feature views its registry lineage
 * names (`featureViews`, recorded by register-model); a request row may then give the entity keys
 * (`{"entity": {"penguin_id": 7}}`) instead of the feature values, and the server reads those
 * features from the views' online tables (PostgreSQL, the latest value per entity, as
 * materialize-features writes them). Look-ups of concurrent requests are micro-batched like
 * inference: one query per batch for all the model's views (infra/db/online-features.ts readOnlineRows,
 * the read batch scoring makes too).
 *
 * Rules: a feature the row also gives inline wins over the stored one (as in batch scoring, where
 * the dataset's own column wins), so a caller can correct or fill in a value; a key with no row in
 * one of the views is refused (422 `unknown_entity`, naming the row, the key and the view), not
 * served with nulls, since the model would score a made-up row.
 */

/** The field of a row that carries its entity keys. */
export const ENTITY_FIELD = 'entity';

type KeyValue = string | number;

interface BoundView {
  view: FeatureView;
  /** The model features this view provides (a feature two views hold comes from the first). */
  features: Feature[];
  /** Key types once the view has been materialized (undefined until then). */
  keyTypes?: Map<string, OnlineKeyType>;
}

interface Lookup {
  /** Per model feature the views provided: its value. */
  values: Record<string, FeatureValue>;
  /** Views with no row for the key. */
  missing: string[];
}

export class OnlineFeatures {
  /** Every entity column of the views, in first-seen order. */
  readonly entities: string[];
  /** Model features the views provide. */
  readonly provides: ReadonlySet<string>;
  private readonly batcher: MicroBatcher<KeyValue[], Lookup>;
  private settling: Promise<void> | undefined;
  /** The view version (`name@version`) each provided feature is read from. */
  private readonly sources: ReadonlyMap<string, string>;

  private constructor(
    private readonly db: Db,
    private readonly model: string,
    private readonly features: readonly Feature[],
    private readonly views: BoundView[],
    batching: Omit<BatcherOptions, 'maxInFlight'>,
  ) {
    this.entities = [...new Set(views.flatMap((v) => v.view.entities))];
    this.provides = new Set(views.flatMap((v) => v.features.map((f) => f.name)));
    this.sources = new Map(views.flatMap((v) => v.features.map((f) => [f.name, `${v.view.name}@${v.view.version}`] as const)));
    // Two queries in flight at most: the pool is small and the prediction log needs a connection too.
    this.batcher = new MicroBatcher((keys) => this.read(keys), { ...batching, maxInFlight: 2 });
  }

  /**
   * The online source of a model version: the lineage's feature views that hold at least one
   * feature the model reads (undefined when none does). A view the lineage names but the database
   * does not know fails the load, so the version is not served half-configured.
   */
  static async forVersion(db: Db, model: string, lineage: VersionLineage, features: readonly Feature[], batching: Omit<BatcherOptions, 'maxInFlight'>): Promise<OnlineFeatures | undefined> {
    const taken = new Set<string>();
    const views: BoundView[] = [];
    for (const ref of lineage.featureViews ?? []) {
      const definition = await getFeatureViewDefinition(db, ref.name, ref.version);
      if (definition === undefined) throw new Error(`model ${model} reads feature view ${ref.name} v${ref.version}, which is not registered`);
      const view = parseFeatureView(definition);
      const own = features.filter((f) => !taken.has(f.name) && view.features.some((vf) => vf.name === f.name));
      if (!own.length) continue;
      for (const f of own) taken.add(f.name);
      views.push({ view, features: own });
    }
    return views.length ? new OnlineFeatures(db, model, features, views, batching) : undefined;
  }

  /**
   * The request's rows as the model reads them: rows with entity keys get their features from the
   * online store (one batched look-up), inline values win, and every row is then checked as an
   * inline row is (checkRows), so errors name the field either way.
   */
  async rows(instances: readonly unknown[], where: (i: number) => string): Promise<FeatureRow[]> {
    const keyed: { i: number; key: KeyValue[] }[] = [];
    for (let i = 0; i < instances.length; i++) {
      const inst = instances[i];
      if (inst === null || typeof inst !== 'object' || Array.isArray(inst) || !(ENTITY_FIELD in inst)) continue;
      keyed.push({ i, key: this.entityKey((inst as Record<string, unknown>)[ENTITY_FIELD], `${where(i)}.${ENTITY_FIELD}`) });
    }
    if (!keyed.length) return checkRows(this.features, instances, where);
    await this.settleKeyTypes();
    for (const k of keyed) this.checkKeyTypes(k.key, `${where(k.i)}.${ENTITY_FIELD}`);
    const found = await this.batcher.submit(keyed.map((k) => k.key)).catch((e: Error) => {
      // The store is down or refused the query: the request could not be answered, through no fault of the client's.
      throw new ServingError(503, 'online_features_unavailable', `the online features of model ${this.model} could not be read (${(e as { code?: string }).code ?? e.name})`);
    });
    const missing = keyed.map((k, j) => ({ ...k, views: found[j]!.missing })).filter((k) => k.views.length);
    if (missing.length) {
      const first = missing[0]!;
      const more = missing.length > 1 ? ` (and ${missing.length - 1} more row${missing.length > 2 ? 's' : ''})` : '';
      throw new ServingError(422, 'unknown_entity', `no online features for ${this.describeKey(first.key)} in feature view ${first.views.join(', ')}${more}`, `${where(first.i)}.${ENTITY_FIELD}`);
    }
    const merged = instances.slice();
    for (const [j, k] of keyed.entries()) {
      const inline = instances[k.i] as Record<string, unknown>;
      const row: Record<string, unknown> = { ...found[j]!.values };
      for (const [name, v] of Object.entries(inline)) if (name !== ENTITY_FIELD && v !== undefined) row[name] = v;
      merged[k.i] = row;
    }
    return checkRows(this.features, merged, where);
  }

  /** Where a feature's stored value comes from (`view@version`); undefined for a feature only given inline. */
  sourceOf(feature: string): string | undefined {
    return this.sources.get(feature);
  }

  /** The row's entity object as a key tuple in `entities` order: every entity present, a string or an integer. */
  private entityKey(v: unknown, field: string): KeyValue[] {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badRequest(field, `expected an object of entity keys (${this.entities.join(', ')}), got ${describe(v)}`);
    const obj = v as Record<string, unknown>;
    for (const name of Object.keys(obj)) if (!this.entities.includes(name)) throw badRequest(`${field}.${name}`, `model ${this.model} is keyed by ${this.entities.join(', ')}, not "${name}"`);
    return this.entities.map((e) => {
      const k = obj[e];
      if (k === undefined) throw badRequest(`${field}.${e}`, `missing (the feature views of model ${this.model} are keyed by ${this.entities.join(', ')})`);
      if (typeof k === 'string' || (typeof k === 'number' && Number.isSafeInteger(k))) return k;
      throw badRequest(`${field}.${e}`, `expected a string or an integer key, got ${describe(k)}`);
    });
  }

  /** Keys are checked against the online tables' key types before they reach SQL (a cast error would be a 500). */
  private checkKeyTypes(key: KeyValue[], field: string): void {
    for (const [k, e] of this.entities.entries()) {
      const type = this.views.map((v) => v.keyTypes?.get(e)).find((t) => t !== undefined);
      const v = key[k]!;
      if (type === 'int64' && typeof v !== 'number') throw badRequest(`${field}.${e}`, `expected an integer (the key of ${e} is int64), got ${describe(v)}`);
      if (type === 'string' && typeof v !== 'string') throw badRequest(`${field}.${e}`, `expected a string (the key of ${e} is a string), got ${describe(v)}`);
    }
  }

  /**
   * Key types come from the view's recorded schema, which exists once it has been materialized
   * (read until then; concurrent requests share one read).
   */
  private settleKeyTypes(): Promise<void> {
    if (this.views.every((b) => b.keyTypes)) return Promise.resolve();
    this.settling ??= this.readKeyTypes().finally(() => (this.settling = undefined));
    return this.settling;
  }

  private async readKeyTypes(): Promise<void> {
    for (const b of this.views) {
      if (b.keyTypes) continue;
      const schema = await resolvedViewSchema(this.db, b.view);
      if (schema) b.keyTypes = entityKeyTypes(schema);
    }
  }

  private describeKey(key: KeyValue[]): string {
    return this.entities.map((e, k) => `${e}=${JSON.stringify(key[k])}`).join(', ');
  }

  /** One query for a micro-batch of keys (every view of the model). */
  private async read(keys: KeyValue[][]): Promise<Lookup[]> {
    const entities: OnlineEntity[] = this.entities.map((e, k) => ({ name: e, type: this.views.map((v) => v.keyTypes?.get(e)).find((t) => t !== undefined) ?? (typeof keys[0]![k] === 'number' ? 'int64' : 'string') }));
    const tables: OnlineTable[] = this.views.map((b) => ({ table: onlineTableName(b.view), entities: b.view.entities, columns: b.features.map((f) => f.name) }));
    const rows = await readOnlineRows(this.db, entities, tables, keys);
    return rows.map((perView) => {
      const values: Record<string, FeatureValue> = {};
      const missing: string[] = [];
      for (const [i, b] of this.views.entries()) {
        const stored = perView[i];
        if (!stored) {
          missing.push(`${b.view.name} v${b.view.version}`);
          continue;
        }
        for (const [j, f] of b.features.entries()) values[f.name] = asFeatureValue(f, stored[j]);
      }
      return { values, missing };
    });
  }
}

/**
 * A stored value as a request would send it for the model's input: bigint columns come back from
 * pg as strings, booleans are 1/0 for numeric inputs (as batch scoring casts them), timestamps as
 * ISO text. Type mismatches are left for checkRows to name.
 */
function asFeatureValue(f: Feature, v: unknown): FeatureValue {
  if (v === null || v === undefined) return null;
  if (f.type === 'string') return v instanceof Date ? v.toISOString() : String(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return v as FeatureValue;
}
