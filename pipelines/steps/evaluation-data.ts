import { z } from 'zod';
import { step } from '../dsl/step';
import { datasetName, datasetRef } from './dataset';
import { boundedExpr } from '../expr/ast';
import { declaredSchema, deriveSpec, ingestCheckpoint, ingestSource } from './ingestion';

/**
 * Where a training pipeline's evaluation rows come from, when not from a fractional split:
 *
 * - `{ dataset: { name, version? } }`: a registered dataset version (the latest without
 *   `version`), e.g. one ingested with `ingest-validate`; training uses every row of its own data.
 * - `{ source, name? }`: a source ingested as a dataset of its own (`<dataset>.evaluation` by
 *   default) on every run, as the training source is; training uses every row of its own data.
 * - `{ column, from, to?, trainFrom? }`: a time range of the same dataset, as a forecast meets its
 *   data: evaluation on rows with `from <= column < to` (no upper bound without `to`), training on
 *   rows with `trainFrom <= column < from` (every earlier row without `trainFrom`). Rows whose
 *   `column` is null are in neither.
 *
 * Bounds are ISO 8601 dates or times (`2015-04-01`, `2015-04-01T06:00:00Z`; UTC without an offset)
 * for date and timestamp columns, numbers for numeric ones.
 */
const ISO_DATE_OR_TIME = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Epoch milliseconds of an ISO 8601 date or time; one without an offset is UTC (never the machine's zone). */
export function isoToEpochMs(text: string): number {
  const t = text.replace(' ', 'T');
  const m = ISO_DATE_OR_TIME.exec(text);
  if (!m) return NaN;
  if (!m[1]) return Date.parse(`${t}T00:00:00Z`);
  return Date.parse(m[4] ? t : `${t}Z`);
}

export const timeBound = z.union([
  z.string().refine((s) => Number.isFinite(isoToEpochMs(s)), { error: 'expected an ISO 8601 date or time (2015-04-01, 2015-04-01T06:00:00Z) or a number' }),
  z.number(),
]);
export type TimeBound = z.infer<typeof timeBound>;

export const evaluationRange = z
  .object({
    column: z.string().min(1).describe('the time (or numeric) column that orders the rows'),
    from: timeBound.describe('first evaluation value (inclusive); training rows are before it'),
    to: timeBound.optional().describe('end of the evaluation range (exclusive); default: no end'),
    trainFrom: timeBound.optional().describe('first training value (inclusive); default: every row before `from`'),
  })
  .strict();
export type EvaluationRange = z.infer<typeof evaluationRange>;

export const evaluationDatasetChoice = z
  .object({
    dataset: z.object({ name: datasetName, version: z.number().int().positive().optional().describe('default: the latest') }).strict(),
  })
  .strict();

export const evaluationSourceChoice = z
  .object({
    source: ingestSource,
    name: datasetName.optional().describe('the evaluation dataset\'s name; default: <dataset>.evaluation'),
  })
  .strict();

export const evaluationSpec = z.union([evaluationDatasetChoice, evaluationSourceChoice, evaluationRange], {
  error: 'expected { dataset: { name, version? } } (a registered dataset), { source, name? } (a source to ingest) or { column, from, to?, trainFrom? } (a time range of the same dataset)',
});
export type EvaluationSpec = z.infer<typeof evaluationSpec>;

/**
 * The evaluation dataset an evaluation spec names, as a dataset version: a registered one looked
 * up, or a source ingested (nothing for a time range or no spec). Its own node, uncached like
 * ingestion, so that "the latest version" is looked up and a source read on every run, while the
 * split after it stays cached for as long as the evaluation data is the same version.
 */
export const resolveEvaluationDataStep = step({
  name: 'dataset.resolve-evaluation',
  description: 'the evaluation dataset a training run names: a registered version looked up (or the latest), or a source ingested',
  input: z.strictObject({
    evaluation: evaluationSpec.optional(),
    dataset: datasetName.describe('the training dataset\'s name: an evaluation source is ingested as <dataset>.evaluation unless named'),
    // An evaluation source is raw data like the training source: the same declared types, derived
    // columns (a derived label above all) and filter make its rows comparable with the training rows.
    schema: declaredSchema.optional(),
    derive: deriveSpec.optional(),
    filter: boundedExpr.optional(),
  }),
  output: z.object({ dataset: datasetRef.optional() }),
  queue: 'cpu',
  // As ingestion's: reading a source can be long; a lost worker is noticed within the heartbeat timeout.
  timeouts: { startToClose: '2h', heartbeat: '30s' },
  retry: { maximumAttempts: 5, initialInterval: '5s', maximumInterval: '2m' },
  cache: false,
  /** A source is ingested as the ingest step does: a retry resumes that ingestion. */
  checkpoint: ingestCheckpoint,
});
