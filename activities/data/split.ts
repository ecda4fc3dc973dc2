import { invalidInput } from '../../pipelines/failures';
import pl from 'nodejs-polars';
import type { z } from 'zod';
import { registerDatasetVersion } from '../../infra/db/datasets';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import type { EvaluationRange } from '../../pipelines/steps/evaluation-data';
import { splitDatasetStep } from '../../pipelines/steps/split';
import { implement } from '../runtime/implement';
import type { StepContext } from '../runtime/step-context';
import { readFrame, writeFrame } from './frames';
import { rangeFilters } from './time-range';

const ROW = '__sluice_row';

type SplitInput = z.output<typeof splitDatasetStep.input>;

export const splitDataset = implement(splitDatasetStep, async (input, ctx) => {
  const { dataset, evaluation } = input;
  if (evaluation && !('column' in evaluation)) return explicitHoldout(input);
  const df = await readFrame(ctx.store, dataset);
  const { train, holdout, how } = evaluation ? splitByRange(df, dataset, evaluation) : splitByFraction(df, input);
  ctx.countRows(df.height);
  return {
    train: await publish(ctx, dataset, 'train', train, how),
    holdout: await publish(ctx, dataset, 'holdout', holdout, how),
  };
});

/** An evaluation dataset (registered, or ingested from a source) is the holdout as it is; every row of the dataset trains. */
function explicitHoldout({ dataset, evaluationData, target, features }: SplitInput): { train: DatasetRef; holdout: DatasetRef } {
  if (!evaluationData) throw invalidInput('the evaluation dataset was not resolved (evaluationData is missing)');
  const needed = [...(target ? [target] : []), ...(features ?? dataset.schema.filter((c) => c.type !== 'date' && c.type !== 'timestamp').map((c) => c.name))];
  const has = new Set(evaluationData.schema.map((c) => c.name));
  const missing = [...new Set(needed)].filter((c) => !has.has(c));
  if (missing.length) {
    throw invalidInput(
      `evaluation dataset ${evaluationData.name}@${evaluationData.version} lacks training column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} ` +
        `(it has ${[...has].join(', ')})`,
    );
  }
  return { train: dataset, holdout: evaluationData };
}

/** Training rows before `from` (from `trainFrom`), evaluation rows from `from` (to `to`). */
function splitByRange(df: pl.DataFrame, dataset: DatasetRef, range: EvaluationRange) {
  const where = `dataset ${dataset.name}@${dataset.version}`;
  const { train: inTrain, evaluation: inEvaluation } = rangeFilters(df, range, where);
  const train = df.filter(inTrain);
  const holdout = df.filter(inEvaluation);
  const bounds = `${range.column} in [${range.from}, ${range.to ?? '∞'})`;
  if (!holdout.height) throw invalidInput(`${where} (${df.height} rows) has no evaluation rows with ${bounds}`);
  if (!train.height) throw invalidInput(`${where} (${df.height} rows) has no training rows with ${range.column} in [${range.trainFrom ?? '-∞'}, ${range.from})`);
  return { train, holdout, how: { evaluation: range } };
}

/** A seeded random share of the rows, or the latest share by `orderBy`. */
function splitByFraction(df: pl.DataFrame, { dataset, holdoutFraction, seed, orderBy }: SplitInput) {
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
  return { train, holdout, how: { holdoutFraction, seed, orderBy } };
}

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
