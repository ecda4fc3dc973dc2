import { invalidInput } from '../../pipelines/failures';
import pl from 'nodejs-polars';
import { registerDatasetVersion } from '../../infra/db/datasets';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { splitDatasetStep } from '../../pipelines/steps/split';
import { implement } from '../runtime/implement';
import type { StepContext } from '../runtime/step-context';
import { readFrame, writeFrame } from './frames';

const ROW = '__sluice_row';

export const splitDataset = implement(splitDatasetStep, async ({ dataset, holdoutFraction, seed, orderBy }, ctx) => {
  const df = await readFrame(ctx.store, dataset);
  if (orderBy && !df.columns.includes(orderBy)) {
    throw invalidInput(`dataset ${dataset.name}@${dataset.version} has no column "${orderBy}" to order the split by`);
  }
  let train: pl.DataFrame;
  let holdout: pl.DataFrame;
  if (orderBy) {
    const sorted = df.sort(orderBy);
    const nHoldout = Math.max(1, Math.round(sorted.height * holdoutFraction));
    train = sorted.head(sorted.height - nHoldout);
    holdout = sorted.tail(nHoldout);
  } else {
    // A seeded hash of the row position: the same rows go to the holdout every time.
    const bucket = pl.col(ROW).hash(seed, 0, 0, 0).modulo(1_000_000).lt(Math.round(holdoutFraction * 1_000_000));
    const indexed = df.withRowIndex(ROW);
    holdout = indexed.filter(bucket).drop(ROW);
    train = indexed.filter(bucket.not()).drop(ROW);
  }
  if (!train.height || !holdout.height) {
    throw invalidInput(`dataset ${dataset.name}@${dataset.version} (${df.height} rows) is too small to split ${holdoutFraction} off`);
  }
  ctx.countRows(df.height);
  return {
    train: await publish(ctx, dataset, 'train', train, { holdoutFraction, seed, orderBy }),
    holdout: await publish(ctx, dataset, 'holdout', holdout, { holdoutFraction, seed, orderBy }),
  };
});

async function publish(ctx: StepContext, parent: DatasetRef, part: 'train' | 'holdout', df: pl.DataFrame, how: object): Promise<DatasetRef> {
  const ref = await writeFrame(ctx.store, df);
  const name = `${parent.name}.${part}`;
  const { version } = await registerDatasetVersion(ctx.db, {
    name,
    uri: ref.uri,
    sha256: ref.sha256,
    sizeBytes: ref.size,
    rows: df.height,
    schema: parent.schema,
    source: { kind: 'split', of: `${parent.name}@${parent.version}`, part, ...how },
    runId: ctx.run.runId,
  });
  return { ...ref, name, version: version.version, rows: df.height, schema: parent.schema };
}
