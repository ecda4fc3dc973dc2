import fs from 'node:fs';
import path from 'node:path';
import pl from 'nodejs-polars';
import { putParquetFile } from '../../activities/data/frames';
import { schemaOf } from '../../activities/scoring/common';
import { runGbdt, runLogistic } from '../../activities/training/steps';
import type { ArtifactStore } from '../../infra/artifacts';
import { registerDatasetVersion } from '../../infra/db/datasets';
import type { Db } from '../../infra/db/pool';
import { registerModelVersion, setAlias } from '../../infra/db/registry';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import type { ModelRef } from '../../pipelines/steps/model';
import { trainGbdtStep, trainLogisticStep } from '../../pipelines/steps/training';
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
