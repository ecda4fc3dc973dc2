import pl from 'nodejs-polars';
import type { ArtifactStore } from '../../infra/artifacts';
import type { Db } from '../../infra/db/pool';
import { listOfflineParts, registerFeatureDataset } from '../../infra/db/features';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { offlineDatasetName, type FeatureView } from '../../pipelines/steps/features';
import { readFrame, writeFrame } from '../data/frames';
import { CREATED_TS, EVENT_TS, finestUnit, frameSchema, timeUnitOf, type TimeUnit } from './columns';
import { invalidInput } from '../../pipelines/failures';

/**
 * The offline store: each materialization writes its interval's feature rows (every row, not
 * only the latest per entity) as one Parquet part, a version of dataset `<view>.v<version>`
 * registered in feature_datasets. Identical parts are one version (content-addressed), so a
 * retried step registers nothing new. Readers take the union of a view version's parts; rows
 * that appear in several (overlapping intervals) are resolved by the point-in-time join's
 * (event_ts, created_ts) rule, where the later materialization wins.
 */

export interface FeatureDeps {
  store: ArtifactStore;
  db: Db;
}

export async function writeOfflinePart(
  deps: FeatureDeps,
  view: FeatureView,
  frame: pl.DataFrame,
  meta: { inputs: unknown; runId?: string },
): Promise<DatasetRef> {
  const ref = await writeFrame(deps.store, frame);
  const schema = frameSchema(frame);
  const name = offlineDatasetName(view);
  const { version } = await registerFeatureDataset(deps.db, {
    name,
    kind: 'offline',
    view: { name: view.name, version: view.version },
    uri: ref.uri,
    sha256: ref.sha256,
    size: ref.size,
    rows: frame.height,
    schema,
    inputs: meta.inputs,
    runId: meta.runId,
  });
  return { ...ref, name, version, rows: frame.height, schema };
}

/** Registers a frame made elsewhere (a training set) as a versioned dataset. */
export async function writeDataset(deps: FeatureDeps, name: string, frame: pl.DataFrame, meta: { inputs: unknown; runId?: string }): Promise<DatasetRef> {
  const ref = await writeFrame(deps.store, frame);
  const schema = frameSchema(frame);
  const { version } = await registerFeatureDataset(deps.db, {
    name,
    kind: 'training',
    uri: ref.uri,
    sha256: ref.sha256,
    size: ref.size,
    rows: frame.height,
    schema,
    inputs: meta.inputs,
    runId: meta.runId,
  });
  return { ...ref, name, version, rows: frame.height, schema };
}

/** Every offline row of a view version: [...entities, event_ts, created_ts, ...features]. */
export async function readOfflineFeatures(deps: FeatureDeps, view: FeatureView): Promise<pl.DataFrame> {
  const parts = await listOfflineParts(deps.db, view);
  if (!parts.length) throw invalidInput(`feature view ${view.name} v${view.version} has no offline data: materialize it first`);
  const columns = [...view.entities, EVENT_TS, CREATED_TS, ...view.features.map((f) => f.name)];
  const frames: pl.DataFrame[] = [];
  for (const p of parts) {
    const df = await readFrame(deps.store, { uri: p.uri, sha256: p.sha256, size: p.size_bytes });
    const missing = columns.filter((c) => !df.columns.includes(c));
    if (missing.length) throw invalidInput(`offline part ${p.name}@${p.version} lacks ${missing.join(', ')}: its view definition differs`);
    frames.push(df.select(...columns.map((c) => pl.col(c))));
  }
  if (frames.length === 1) return frames[0]!;
  // Parts may hold their times in different units (the source's); a relaxed concat would take the
  // first part's and truncate finer ones, so every part is cast up to the finest first.
  const unitOf = (c: string) => finestUnit(...frames.map((f) => timeUnitOf(f.getColumn(c).dtype)).filter((u): u is TimeUnit => !!u));
  const units = [EVENT_TS, CREATED_TS].map((c) => ({ c, unit: unitOf(c) }));
  const aligned = frames.map((f) => f.withColumns(...units.map(({ c, unit }) => pl.col(c).cast(pl.Datetime(unit)))));
  return pl.concat(aligned, { how: 'verticalRelaxed' });
}
