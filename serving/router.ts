import type { Db } from '../infra/db/pool';
import { getRegisteredModel } from '../infra/db/registry';
import { readRoutes } from '../infra/db/serving';
import type { Logger } from '../infra/log';
import type { ModelVersions, ServedVersion } from './models';
import { versionKey } from './models';

/**
 * Which model version answers a request. A model without routes is served by its `champion`
 * alias (one variant, named `champion`); with routes (serving_routes, written by a rollout or by
 * hand) live variants split the traffic by weight and shadow variants score a mirror of every
 * request. Tables live in PostgreSQL, so every replica reads the same one; a NOTIFY on
 * `sluice_routes` (listener.ts) makes each replica reread the model's table. A new table is put
 * in place only once every version it names is loaded, so requests never wait on, nor fail
 * because of, a swap.
 */

export interface Variant {
  variant: string;
  weight: number;
  served: ServedVersion;
}

export interface ModelTable {
  model: string;
  /** `alias`: the champion serves (no routes); `routes`: serving_routes. */
  source: 'alias' | 'routes';
  /** Sticky assignment hashes the request key with it (0 for the champion alone). */
  epoch: number;
  live: Variant[];
  shadow: Variant[];
}

export class UnknownModel extends Error {
  override name = 'UnknownModel';
}

/** How long a version no table uses stays loaded: requests routed to it just before a swap finish on it. */
const RELEASE_GRACE_MS = 10_000;

export class Router {
  private readonly tables = new Map<string, Promise<ModelTable>>();
  /** The last reload of each model, so reloads of one model apply in order. */
  private readonly reloads = new Map<string, Promise<void>>();
  private releaseTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly versions: ModelVersions,
    private readonly log: Logger,
  ) {}

  /** The model's table (read and loaded on first use). */
  table(model: string): Promise<ModelTable> {
    let t = this.tables.get(model);
    if (!t) {
      t = this.build(model);
      this.tables.set(model, t);
      t.catch(() => {
        if (this.tables.get(model) === t) this.tables.delete(model);
      });
    }
    return t;
  }

  /** The table in place now, if the model has been served (no database round trip). */
  current(model: string): Promise<ModelTable> | undefined {
    return this.tables.get(model);
  }

  /** Models this replica serves. */
  models(): string[] {
    return [...this.tables.keys()];
  }

  /**
   * Rereads a model's table (after a NOTIFY) and swaps it in once loaded. A table that cannot be
   * built (a version fails to load) leaves the old one serving, logged; a model left without
   * routes and champion stops being served.
   */
  reload(model: string): Promise<void> {
    if (!this.tables.has(model)) return Promise.resolve(); // not served here: read on first request
    const prev = this.reloads.get(model) ?? Promise.resolve();
    const next = prev.then(async () => {
      try {
        const t = await this.build(model);
        this.tables.set(model, Promise.resolve(t));
        this.log.info('routes reloaded', { model, source: t.source, epoch: t.epoch, variants: [...t.live, ...t.shadow].map((v) => `${v.variant}=v${v.served.version}:${v.weight}`) });
      } catch (e) {
        if (e instanceof UnknownModel) {
          this.tables.delete(model);
          this.log.warn('model no longer servable', { model, error: (e as Error).message });
        } else {
          this.log.error('routes reload failed; the previous table keeps serving', { model, error: (e as Error).message });
        }
      }
      this.scheduleRelease();
    });
    this.reloads.set(model, next);
    return next;
  }

  reloadAll(): Promise<void> {
    return Promise.all(this.models().map((m) => this.reload(m))).then(() => undefined);
  }

  private async build(model: string): Promise<ModelTable> {
    const routes = await readRoutes(this.db, model);
    if (routes) {
      const variants = await Promise.all(routes.routes.map(async (r) => ({ route: r, served: await this.versions.get(model, r.version) })));
      return {
        model,
        source: 'routes',
        epoch: routes.epoch,
        live: variants.filter((v) => v.route.mode === 'live' && v.route.weight > 0).map((v) => ({ variant: v.route.variant, weight: v.route.weight, served: v.served })),
        shadow: variants.filter((v) => v.route.mode === 'shadow').map((v) => ({ variant: v.route.variant, weight: 0, served: v.served })),
      };
    }
    const m = await getRegisteredModel(this.db, model);
    if (!m) throw new UnknownModel(`no registered model "${model}"`);
    const champion = m.aliases['champion'];
    if (champion === undefined) throw new UnknownModel(`model "${model}" has no champion alias and no serving routes`);
    const served = await this.versions.get(model, champion);
    return { model, source: 'alias', epoch: 0, live: [{ variant: 'champion', weight: 1, served }], shadow: [] };
  }

  /** Releases, after a grace period, versions that no table points at any more. */
  private scheduleRelease(): void {
    clearTimeout(this.releaseTimer);
    this.releaseTimer = setTimeout(() => void this.releaseUnused(), RELEASE_GRACE_MS);
    this.releaseTimer.unref();
  }

  private async releaseUnused(): Promise<void> {
    const used = new Set<string>();
    for (const t of this.tables.values()) {
      const table = await t.catch(() => undefined);
      for (const v of [...(table?.live ?? []), ...(table?.shadow ?? [])]) used.add(versionKey(v.served.model, v.served.version));
    }
    for (const key of this.versions.loadedKeys()) if (!used.has(key)) this.versions.release(key);
  }

  close(): void {
    clearTimeout(this.releaseTimer);
  }
}

/**
 * The live variant for a request: with a key, a hash of (key, epoch) picks it, so the same key
 * gets the same variant for as long as the weights stay (every replica computes the same); without
 * one, chance does.
 */
export function pickVariant(table: ModelTable, key: string | undefined): Variant {
  const u = key === undefined ? Math.random() : unitHash(`${key}\u0000${table.epoch}`);
  let acc = 0;
  for (const v of table.live) {
    acc += v.weight;
    if (u < acc) return v;
  }
  return table.live[table.live.length - 1]!;
}

/** FNV-1a (32 bits) of a string's UTF-16 units, in [0, 1). */
export function unitHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Avalanche the low bits (FNV's are weak for short, similar keys such as user-1, user-2).
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}
