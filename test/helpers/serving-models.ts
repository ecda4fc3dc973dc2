import fs from 'node:fs';
import path from 'node:path';
import pl from 'nodejs-polars';
import { putParquetFile } from '../../activities/data/frames';
import { materializeFeatures } from '../../activities/features/materialize';
import { schemaOf } from '../../activities/scoring/common';
import { runGbdt, runLogistic } from '../../activities/training/steps';
import type { ArtifactStore } from '../../infra/artifacts';
import { registerDatasetVersion } from '../../infra/db/datasets';
import type { Db } from '../../infra/db/pool';
import { registerModelVersion, setAlias } from '../../infra/db/registry';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { col, featureView, materializeFeaturesInput, onlineTableName } from '../../pipelines/steps/features';
import type { ModelRef } from '../../pipelines/steps/model';
import { trainGbdtStep, trainLogisticStep } from '../../pipelines/steps/training';
import type { Logger } from '../../infra/log';
import type { ServeOptions } from '../../serving/server';
import { testStepContext } from './step-context';

/**
 * The demo model for serving tests and the serving benchmark, registered in seconds without
 * Temporal: penguins' species from the four measurements, island and sex, trained by calling the
 * trainers' implementations directly. Version 1 is a logistic regression (champion), version 2 a
 * small GBDT: two versions that answer differently enough to tell apart.
 */
export const PENGUINS = 'node_modules/vega-datasets/data/penguins.json';
export const SERVING_MODEL = 'penguins-species';

export interface PenguinModels {
  v1: ModelRef;
  v2: ModelRef;
  /** Penguins rows (the features, as a request sends them), nulls left out. */
  rows: Record<string, number | string>[];
}

export async function registerPenguinModels(db: Db, store: ArtifactStore, dir: string): Promise<PenguinModels> {
  const records = JSON.parse(fs.readFileSync(PENGUINS, 'utf8')) as Record<string, number | string | null>[];
  const file = path.join(dir, 'penguins.parquet');
  pl.readRecords(records).writeParquet(file);
  const ref = await putParquetFile(store, file);
  const frame = pl.readParquet(file);
  const schema = schemaOf(frame);
  const { version } = await registerDatasetVersion(db, { name: 'penguins', uri: ref.uri, sha256: ref.sha256, sizeBytes: ref.size, rows: frame.height, schema, source: { kind: 'test', file: PENGUINS } });
  const train: DatasetRef = { ...ref, name: 'penguins', version: version.version, rows: frame.height, schema };
  const ctx = () => testStepContext({ store, db });
  const logistic = (await runLogistic(trainLogisticStep.input.parse({ train, target: 'Species' }), ctx())) as { model: ModelRef };
  const gbdt = (await runGbdt(trainGbdtStep.input.parse({ train, target: 'Species', params: { nEstimators: 5, maxLeaves: 4 } }), ctx())) as { model: ModelRef };
  const register = async (m: ModelRef, description: string) =>
    (await registerModelVersion(db, { name: SERVING_MODEL, source: { uri: m.uri, sha256: m.sha256, size: m.size }, signature: m.signature, createdBy: 'test', description })).version;
  const v1 = await register(logistic.model, 'logistic');
  const v2 = await register(gbdt.model, 'gbdt');
  await setAlias(db, { name: SERVING_MODEL, alias: 'champion', version: v1.version, actor: 'test', reason: 'serving test' });
  const rows = records.filter((r) => Object.values(r).every((v) => v !== null)).map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'Species')) as Record<string, number | string>);
  return { v1: { ...logistic.model, registered: { name: SERVING_MODEL, version: v1.version } }, v2: { ...gbdt.model, registered: { name: SERVING_MODEL, version: v2.version } }, rows };
}

/** The same penguins under feature-view names (letters, digits and "_"), keyed by `penguin_id` (1-based). */
export const PENGUIN_FEATURES = ['island', 'beak_length_mm', 'beak_depth_mm', 'flipper_length_mm', 'body_mass_g', 'sex'] as const;
export const PENGUIN_VIEW = { name: 'penguin_measures', version: 1 } as const;

export interface PenguinFeatureModel {
  /** The registered version (champion), its lineage naming PENGUIN_VIEW. */
  model: ModelRef;
  /** The training data, also the view's source: penguin_id, the features, species, measured_at. */
  train: DatasetRef;
  /** Penguins by id - 1: penguin_id, the features and species. */
  penguins: Record<string, string | number>[];
  /** The view's online table. */
  table: string;
}

/**
 * A model served by entity key: the penguins are materialized as feature view
 * `penguin_measures` v1 (the materialize-features step's implementation: offline part and online
 * table), and a model of their species is trained on the same columns and registered, champion,
 * with the view in its lineage, so the server reads its features by `penguin_id`.
 */
export async function registerPenguinFeatureModel(db: Db, store: ArtifactStore, dir: string, o: { name: string; trainer?: 'logistic' | 'gbdt' }): Promise<PenguinFeatureModel> {
  const records = (JSON.parse(fs.readFileSync(PENGUINS, 'utf8')) as Record<string, string | number | null>[]).filter((r) => Object.values(r).every((v) => v !== null));
  const penguins = records.map((r, i) => ({
    penguin_id: i + 1,
    island: r['Island']!,
    beak_length_mm: r['Beak Length (mm)']!,
    beak_depth_mm: r['Beak Depth (mm)']!,
    flipper_length_mm: r['Flipper Length (mm)']!,
    body_mass_g: r['Body Mass (g)']!,
    sex: r['Sex']!,
    species: r['Species']!,
  }));
  const frame = pl.readRecords(penguins).withColumns(pl.col('penguin_id').cast(pl.Int64), pl.lit(Date.UTC(2024, 0, 1)).cast(pl.Datetime('ms')).alias('measured_at'));
  const file = path.join(dir, 'penguin-measures.parquet');
  frame.writeParquet(file);
  const ref = await putParquetFile(store, file);
  const schema = schemaOf(frame);
  const { version } = await registerDatasetVersion(db, { name: 'penguin-measures', uri: ref.uri, sha256: ref.sha256, sizeBytes: ref.size, rows: frame.height, schema, source: { kind: 'test', file: PENGUINS } });
  const train: DatasetRef = { ...ref, name: 'penguin-measures', version: version.version, rows: frame.height, schema };

  const view = featureView({ ...PENGUIN_VIEW, entities: ['penguin_id'], timestamp: 'measured_at', ttl: '0s', features: PENGUIN_FEATURES.map((f) => col(f).as(f)) });
  await materializeFeatures.run(materializeFeaturesInput.parse({ source: train, view }), testStepContext({ store, db }, { node: 'materialize' }));

  const features = [...PENGUIN_FEATURES];
  const trained =
    o.trainer === 'gbdt'
      ? ((await runGbdt(trainGbdtStep.input.parse({ train, target: 'species', features, params: { nEstimators: 5, maxLeaves: 4 } }), testStepContext({ store, db }))) as { model: ModelRef })
      : ((await runLogistic(trainLogisticStep.input.parse({ train, target: 'species', features }), testStepContext({ store, db }))) as { model: ModelRef });
  const m = trained.model;
  const { version: v } = await registerModelVersion(db, { name: o.name, source: { uri: m.uri, sha256: m.sha256, size: m.size }, signature: m.signature, createdBy: 'test', lineage: { featureViews: [{ ...PENGUIN_VIEW }] } });
  await setAlias(db, { name: o.name, alias: 'champion', version: v.version, actor: 'test', reason: 'served by entity key' });
  return { model: { ...m, registered: { name: o.name, version: v.version } }, train, penguins, table: onlineTableName(PENGUIN_VIEW) };
}

/**
 * A serving process for a test: any free port, no rate limit, no migration (the test migrates),
 * small micro-batches, and a prediction log that the test flushes when it reads the log.
 */
export function testServeOptions(databaseUrl: string, home: string, log: Logger, extra: Partial<ServeOptions> = {}): ServeOptions {
  return {
    databaseUrl,
    artifacts: { kind: 'local', root: path.join(home, 'artifacts') },
    host: '127.0.0.1',
    port: 0,
    rateLimit: 0,
    batchRows: 64,
    batchWaitMs: 1,
    migrate: false,
    log,
    predictionLog: { flushRows: 100_000, flushMs: 60_000 },
    ...extra,
  };
}
