import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { PredictionOutput } from '../infra/db/serving';
import type { Logger } from '../infra/log';
import { badRequest, ServingError } from './errors';
import { InferenceUnavailable } from './inference';
import { checkRows } from './input';
import type { ServingMetrics } from './metrics';
import { ENTITY_FIELD } from './online-features';
import type { Feature, FeatureRow, ServedVersion } from './models';
import type { PredictionLog } from './prediction-log';
import { pickVariant, UnknownModel, type Router, type Variant } from './router';

/**
 * One prediction request, whichever protocol brought it: route (live variant by weight, sticky on
 * the request key), check the rows against that version's features, score (micro-batched), give
 * every row a prediction id, log every row (live and shadow) to the prediction log, and mirror
 * the rows to the shadow variants without waiting for them.
 */

export interface PredictRequest {
  model: string;
  /** Sticky assignment key (a user id); none: chance picks the variant. */
  key?: string | undefined;
  /** The request's rows for a version (v2 builds them from tensors, which depends on the version's inputs). */
  instances: (served: ServedVersion) => unknown[];
  /** How a row is named in errors (`instances[3]`). */
  where: (i: number) => string;
}

export interface PredictResult {
  served: ServedVersion;
  variant: string;
  ids: string[];
  outputs: PredictionOutput[];
}

export class Predictor {
  constructor(
    private readonly router: Router,
    private readonly log: PredictionLog,
    private readonly metrics: ServingMetrics,
    private readonly logger: Logger,
  ) {}

  async predict(req: PredictRequest): Promise<PredictResult> {
    let table;
    try {
      table = await this.router.table(req.model);
    } catch (e) {
      if (e instanceof UnknownModel) throw new ServingError(404, 'unknown_model', e.message, 'model');
      throw e;
    }
    const live = pickVariant(table, req.key);
    const rows = await rowsFor(live.served, req.instances(live.served), req.where);
    const labels = { model: req.model, version: String(live.served.version), variant: live.variant };
    const t0 = performance.now();
    const createdAt = new Date();
    const ids = rows.map(() => randomUUID());
    let outputs: PredictionOutput[];
    try {
      outputs = await live.served.predict(rows);
    } catch (e) {
      const latencyMs = performance.now() - t0;
      this.metrics.requests.inc(labels);
      this.metrics.errors.inc({ ...labels, code: 'inference_failed' });
      this.logger.error('inference failed', { model: req.model, version: live.served.version, variant: live.variant, error: (e as Error).message });
      const error = (e as Error).message;
      for (const [i, row] of rows.entries()) this.append(live, ids[i]!, null, req.key, createdAt, latencyMs, row, null, error);
      throw new ServingError(503, 'inference_failed', e instanceof InferenceUnavailable ? e.message : `model ${req.model} version ${live.served.version} could not score the request`);
    }
    const latencyMs = performance.now() - t0;
    this.metrics.requests.inc(labels);
    this.metrics.latency.observe(labels, latencyMs / 1000);
    for (const [i, row] of rows.entries()) this.append(live, ids[i]!, null, req.key, createdAt, latencyMs, row, outputs[i]!, null);
    for (const shadow of table.shadow) void this.mirror(shadow, req, live.served, rows, ids, createdAt);
    return { served: live.served, variant: live.variant, ids, outputs };
  }

  /** A shadow variant scores the same request; its answer goes only to the log (paired with the live prediction it mirrors). */
  private async mirror(shadow: Variant, req: PredictRequest, live: ServedVersion, liveRows: FeatureRow[], liveIds: string[], createdAt: Date): Promise<void> {
    const t0 = performance.now();
    let rows: FeatureRow[] | undefined;
    try {
      rows = readsAsLive(shadow.served, live) ? liveRows.map((r) => project(shadow.served.features, r)) : await rowsFor(shadow.served, req.instances(shadow.served), req.where);
      const outputs = await shadow.served.predict(rows);
      const latencyMs = performance.now() - t0;
      for (const [i, row] of rows.entries()) this.append(shadow, randomUUID(), liveIds[i]!, req.key, createdAt, latencyMs, row, outputs[i]!, null);
    } catch (e) {
      const latencyMs = performance.now() - t0;
      this.metrics.shadowErrors.inc({ model: req.model, version: String(shadow.served.version), variant: shadow.variant });
      const error = (e as Error).message;
      for (const [i, id] of liveIds.entries()) this.append(shadow, randomUUID(), id, req.key, createdAt, latencyMs, rows?.[i] ?? {}, null, error);
    }
  }

  private append(v: Variant, id: string, shadowOf: string | null, key: string | undefined, createdAt: Date, latencyMs: number, features: FeatureRow, output: PredictionOutput | null, error: string | null): void {
    this.log.append({
      id,
      model: v.served.model,
      version: v.served.version,
      variant: v.variant,
      mode: shadowOf ? 'shadow' : 'live',
      shadowOf,
      requestKey: key ?? null,
      createdAt,
      latencyMs,
      features,
      output,
      error,
    });
  }
}

/**
 * Whether a shadow version's rows are the live version's, so the live rows can be reused rather
 * than looked up again: both read features by entity key, and every feature the shadow reads the
 * live version read too, of the same type, from the same view version (or inline for both). Then
 * the look-up and the checks would give the shadow the values the live rows hold.
 */
function readsAsLive(shadow: ServedVersion, live: ServedVersion): boolean {
  if (!shadow.online || !live.online) return false;
  return shadow.features.every((f) => live.features.some((l) => l.name === f.name && l.type === f.type) && shadow.online!.sourceOf(f.name) === live.online!.sourceOf(f.name));
}

/** A checked row cut down to a version's features (what that version's own check would have kept). */
function project(features: readonly Feature[], row: FeatureRow): FeatureRow {
  const out: FeatureRow = {};
  for (const f of features) out[f.name] = row[f.name]!;
  return out;
}

/**
 * The rows a version scores: looked up by entity key where the version reads feature views,
 * else checked as given. An `entity` field sent to a version without feature views is refused
 * rather than ignored: the caller expects features to be looked up, and none would be.
 */
function rowsFor(served: ServedVersion, instances: unknown[], where: (i: number) => string): Promise<FeatureRow[]> | FeatureRow[] {
  if (served.online) return served.online.rows(instances, where);
  if (!served.features.some((f) => f.name === ENTITY_FIELD)) {
    const i = instances.findIndex((inst) => inst !== null && typeof inst === 'object' && ENTITY_FIELD in inst);
    if (i >= 0) throw badRequest(`${where(i)}.${ENTITY_FIELD}`, `model ${served.model} version ${served.version} reads no feature view (its registry lineage names none): send the feature values`);
  }
  return checkRows(served.features, instances, where);
}
