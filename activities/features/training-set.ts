import type { Logger } from '../../infra/log';
import { getFeatureViewVersion } from '../../infra/db/features';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { buildTrainingSetStep, type FeatureView } from '../../pipelines/steps/features';
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
 * registered under its name (identical content keeps its version).
 */

export interface TrainingSetRequest {
  entities: DatasetRef;
  views: FeatureView[];
  timestamp?: string;
  fullFeatureNames?: boolean;
  name?: string;
}

export async function buildTrainingSetFrom(
  ctx: FeatureDeps & { runId?: string; log?: Logger; heartbeat?: (d?: unknown) => void },
  req: TrainingSetRequest,
): Promise<{ dataset: DatasetRef; rows: number }> {
  const views = req.views.map((v) => assertSafeView(v));
  const sources = await readPitSources(ctx, views);
  ctx.heartbeat?.({ phase: 'read entities' });
  const entities = await readFrame(ctx.store, req.entities);
  ctx.heartbeat?.({ phase: 'join', rows: entities.height });
  const joined = pointInTimeJoin(entities, sources, { timestamp: req.timestamp ?? 'event_timestamp', fullFeatureNames: req.fullFeatureNames });
  ctx.heartbeat?.({ phase: 'write', rows: joined.height });
  const dataset = await writeDataset(ctx, req.name ?? 'training_set', joined, {
    inputs: {
      entities: { name: req.entities.name, version: req.entities.version, uri: req.entities.uri, sha256: req.entities.sha256 },
      views: views.map((v) => ({ name: v.name, version: v.version })),
      timestamp: req.timestamp ?? 'event_timestamp',
    },
    runId: ctx.runId,
  });
  ctx.log?.info('training set built', { name: dataset.name, version: dataset.version, rows: joined.height });
  return { dataset, rows: joined.height };
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
