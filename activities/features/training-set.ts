import type { Logger } from '../../infra/log';
import { getDatasetVersion, parseDatasetSpec } from '../../infra/db/datasets';
import { getFeatureViewDefinition, getFeatureViewVersion } from '../../infra/db/features';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { buildTrainingSetStep, featureViewSchema, type FeatureView, type FeatureViewPick } from '../../pipelines/steps/features';
import { readFrame } from '../data/frames';
import { implement } from '../runtime/implement';
import { readOfflineFeatures, writeDataset, type FeatureDeps } from './offline-store';
import { assertSafeView } from './online-store';
import { pointInTimeJoin, type PitFeatureSource } from './pit-join';
import { viewDefinitionSha256 } from './views';
import { invalidInput } from '../../pipelines/failures';

/**
 * Builds a training set: the entity rows (keys, a time, labels) joined point-in-time correctly
 * against the offline store of each view (pit-join.ts), written as a Parquet dataset and
 * registered under its name (identical content keeps its version). The entity rows may be given
 * as a registered version (`name@3`), the views by name and version (their registered
 * definitions, optionally only some features), and entity keys named otherwise in the entity
 * rows mapped by `keys`.
 */

export interface TrainingSetRequest {
  entities: DatasetRef | string;
  views: (FeatureView | FeatureViewPick)[];
  timestamp?: string;
  keys?: Record<string, string>;
  fullFeatureNames?: boolean;
  name?: string;
}

export async function buildTrainingSetFrom(
  ctx: FeatureDeps & { runId?: string; log?: Logger; heartbeat?: (d?: unknown) => void },
  req: TrainingSetRequest,
): Promise<{ dataset: DatasetRef; rows: number }> {
  const picked = await resolveViews(ctx, req.views);
  const views = picked.map((p) => assertSafeView(p.view));
  const sources = (await readPitSources(ctx, views)).map((s, i) => ({ ...s, view: { ...s.view, features: picked[i]!.features } }));
  ctx.heartbeat?.({ phase: 'read entities' });
  const entityRef = await resolveEntities(ctx, req.entities);
  const entities = await readFrame(ctx.store, entityRef);
  ctx.heartbeat?.({ phase: 'join', rows: entities.height });
  const joined = pointInTimeJoin(entities, sources, { timestamp: req.timestamp ?? 'event_timestamp', fullFeatureNames: req.fullFeatureNames, keys: req.keys });
  ctx.heartbeat?.({ phase: 'write', rows: joined.height });
  const dataset = await writeDataset(ctx, req.name ?? 'training_set', joined, {
    inputs: {
      entities: { name: entityRef.name, version: entityRef.version, uri: entityRef.uri, sha256: entityRef.sha256 },
      views: picked.map((p) => ({ name: p.view.name, version: p.view.version, features: p.features.map((f) => f.name) })),
      timestamp: req.timestamp ?? 'event_timestamp',
      ...(req.keys && Object.keys(req.keys).length ? { keys: req.keys } : {}),
    },
    runId: ctx.runId,
  });
  ctx.log?.info('training set built', { name: dataset.name, version: dataset.version, rows: joined.height });
  return { dataset, rows: joined.height };
}

/** A dataset ref as given, or a registered version (`name@3`, `name@latest`, `name`) looked up. */
async function resolveEntities(ctx: FeatureDeps, entities: DatasetRef | string): Promise<DatasetRef> {
  if (typeof entities !== 'string') return entities;
  const spec = parseDatasetSpec(entities);
  const v = await getDatasetVersion(ctx.db, spec.name, spec.version);
  if (!v) throw invalidInput(`entity dataset ${entities} is not registered`);
  return { uri: v.uri, sha256: v.sha256, size: v.sizeBytes, name: v.name, version: v.version, rows: v.rows, schema: v.schema };
}

/**
 * Each view's full definition (given, or as registered for a name and version) and the features
 * to join from it (all, or those picked, in the order picked).
 */
async function resolveViews(ctx: FeatureDeps, views: (FeatureView | FeatureViewPick)[]): Promise<{ view: FeatureView; features: FeatureView['features'] }[]> {
  const out: { view: FeatureView; features: FeatureView['features'] }[] = [];
  for (const v of views) {
    if ('entities' in v) {
      out.push({ view: v, features: v.features });
      continue;
    }
    const definition = await getFeatureViewDefinition(ctx.db, v.name, v.version);
    if (definition === undefined) throw invalidInput(`feature view ${v.name} v${v.version} was never materialized`);
    const view = featureViewSchema.parse(definition);
    const byName = new Map(view.features.map((f) => [f.name, f]));
    const unknown = (v.features ?? []).filter((f) => !byName.has(f));
    if (unknown.length) {
      throw invalidInput(`feature view ${v.name} v${v.version} has no feature ${unknown.map((f) => `"${f}"`).join(', ')} (it has ${view.features.map((f) => f.name).join(', ')})`);
    }
    out.push({ view, features: v.features ? v.features.map((f) => byName.get(f)!) : view.features });
  }
  return out;
}

/**
 * The offline rows of each view, for a point-in-time join: each view must have been materialized
 * with the definition given (else its rows would not mean what the caller thinks).
 */
export async function readPitSources(ctx: FeatureDeps & { heartbeat?: (d?: unknown) => void }, views: FeatureView[]): Promise<PitFeatureSource[]> {
  const sources: PitFeatureSource[] = [];
  for (const view of views) {
    const reg = await getFeatureViewVersion(ctx.db, view.name, view.version);
    if (!reg) throw invalidInput(`feature view ${view.name} v${view.version} was never materialized`);
    if (reg.definition_sha256 !== viewDefinitionSha256(view)) {
      throw invalidInput(`feature view ${view.name} v${view.version} is registered with another definition than the one given`);
    }
    ctx.heartbeat?.({ phase: 'read offline', view: view.name });
    sources.push({ view, frame: await readOfflineFeatures(ctx, view) });
  }
  return sources;
}

export const buildTrainingSet = implement(buildTrainingSetStep, async (input, ctx) =>
  buildTrainingSetFrom({ store: ctx.store, db: ctx.db, runId: ctx.run.runId, log: ctx.log, heartbeat: ctx.heartbeat }, input),
);
