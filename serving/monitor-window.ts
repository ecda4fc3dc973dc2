import pl from 'nodejs-polars';
import { writeFrame } from '../activities/data/frames';
import { PREDICTION, probaColumn, schemaOf } from '../activities/scoring/common';
import type { ArtifactStore } from '../infra/artifacts';
import { registerDatasetVersion } from '../infra/db/datasets';
import type { Db } from '../infra/db/pool';
import { readPredictionWindow, readWindowLabels, type LoggedPrediction } from '../infra/db/serving';
import type { BatchScored, LabelsArrived } from '../pipelines/monitor/protocol';
import type { DatasetRef } from '../pipelines/steps/dataset';

/**
 * A window of logged online predictions as the drift monitor takes a batch-scoring run: the
 * features the model was served (online_predictions.features, after any online look-up) become
 * a Parquet dataset `<model>.online`, the answers a predictions dataset `<model>.online.predictions`
 * (`prediction`, `proba_<class>`, as batch scoring writes them), both keyed by `prediction_id` and
 * timed by `predicted_at`, and the `batchScored` payload names them with the window. Labels given
 * through POST /v1/feedback for the window's predictions become `<model>.online.labels`
 * (`prediction_id`, `label`), sent as `labelsArrived` keyed by `prediction_id`: the monitor joins
 * them with the window's predictions as it joins file labels with a scored batch. Only this
 * module (loaded by `sluice monitor online` and tests) needs polars: the server never loads it.
 */

export const PREDICTION_ID = 'prediction_id';
export const PREDICTED_AT = 'predicted_at';
export const LABEL = 'label';

export interface OnlineWindow {
  start: Date;
  /** Exclusive. */
  end: Date;
}

export interface MonitorFeed {
  /** What to signal as `batchScored` (absent: no answered prediction in the window). */
  batch?: BatchScored;
  /** What to signal as `labelsArrived` after the batch (absent: no label given yet). */
  labels?: LabelsArrived;
  predictions: number;
  labelled: number;
}

/**
 * The window of the given length that ends at `end`, or by default the last whole one before
 * `now`: windows end at multiples of their length since the epoch (a 1h window run at 14:07 is
 * [13:00, 14:00)), so a job run every window sends each window once, whenever in it it runs.
 */
export function alignedWindow(lengthMs: number, end?: Date, now = Date.now()): OnlineWindow {
  if (!(lengthMs > 0)) throw new Error(`a window must be longer than zero, got ${lengthMs} ms`);
  const e = end ?? new Date(Math.floor(now / lengthMs) * lengthMs);
  if (Number.isNaN(e.getTime())) throw new Error('the window end is not a valid time');
  return { start: new Date(e.getTime() - lengthMs), end: e };
}

/** The batch id of a model's window: the same window read twice is the same batch (the monitor ignores the second). */
export const onlineBatchId = (model: string, w: OnlineWindow) => `online:${model}:${w.start.toISOString()}/${w.end.toISOString()}`;

export async function onlineMonitorFeed(deps: { db: Db; store: ArtifactStore }, model: string, w: OnlineWindow): Promise<MonitorFeed> {
  if (!(w.start < w.end)) throw new Error(`the window's start (${w.start.toISOString()}) must come before its end (${w.end.toISOString()})`);
  const logged = await readPredictionWindow(deps.db, model, w.start, w.end);
  if (!logged.length) return { predictions: 0, labelled: 0 };
  const batchId = onlineBatchId(model, w);
  const keys = [pl.Series(PREDICTION_ID, logged.map((p) => p.id), pl.Utf8), pl.Series(PREDICTED_AT, logged.map((p) => p.createdAt.getTime()), pl.Int64).cast(pl.Datetime('ms'))];
  const source = { kind: 'online-predictions', model, start: w.start.toISOString(), end: w.end.toISOString() };
  const dataset = await publish(deps, `${model}.online`, pl.DataFrame([...keys, ...featureColumns(logged)]), source);
  const predictions = await publish(deps, `${model}.online.predictions`, pl.DataFrame([...keys, ...outputColumns(logged)]), source);
  const batch: BatchScored = {
    batchId,
    dataset,
    window: { column: PREDICTED_AT, start: w.start.toISOString(), end: w.end.toISOString() },
    rows: logged.length,
    predictions,
  };

  const given = await readWindowLabels(deps.db, model, w.start, w.end);
  if (!given.length) return { batch, predictions: logged.length, labelled: 0 };
  const labelFrame = pl.DataFrame([pl.Series(PREDICTION_ID, given.map((g) => g.predictionId), pl.Utf8), typedSeries(LABEL, given.map((g) => g.label))]);
  const labelled = await publish(deps, `${model}.online.labels`, labelFrame, { ...source, kind: 'online-feedback' });
  const labels: LabelsArrived = {
    // A new id whenever more labels arrived for the window (a new dataset version); the same labels again keep theirs.
    batchId: `${batchId}:labels-v${labelled.version}`,
    labels: { source: { dataset: { name: labelled.name, version: labelled.version } }, key: PREDICTION_ID, label: LABEL, batch: batchId },
  };
  return { batch, labels, predictions: logged.length, labelled: given.length };
}

/** One column per feature the log holds, typed from its values. */
function featureColumns(logged: readonly LoggedPrediction[]): pl.Series[] {
  const names = [...new Set(logged.flatMap((p) => Object.keys(p.features)))];
  return names.map((n) => typedSeries(n, logged.map((p) => p.features[n])));
}

/** `prediction`, then `proba_<class>` for each class any answer gave, as batch scoring names them. */
function outputColumns(logged: readonly LoggedPrediction[]): pl.Series[] {
  const classes = [...new Set(logged.flatMap((p) => Object.keys(p.output.probabilities ?? {})))];
  return [
    typedSeries(PREDICTION, logged.map((p) => p.output.prediction)),
    ...classes.map((c) => pl.Series(probaColumn(c), logged.map((p) => p.output.probabilities?.[c] ?? null), pl.Float64)),
  ];
}

/** JSON values as one typed column: numbers (Float64), booleans, else text; null stays null. */
function typedSeries(name: string, values: readonly unknown[]): pl.Series {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length && present.every((v) => typeof v === 'number')) return pl.Series(name, values.map((v) => (v ?? null) as number | null), pl.Float64);
  if (present.length && present.every((v) => typeof v === 'boolean')) return pl.Series(name, values.map((v) => (v ?? null) as boolean | null), pl.Bool);
  return pl.Series(name, values.map((v) => (v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v))), pl.Utf8);
}

async function publish(deps: { db: Db; store: ArtifactStore }, name: string, df: pl.DataFrame, source: object): Promise<DatasetRef & { name: string; version: number }> {
  const ref = await writeFrame(deps.store, df);
  const schema = schemaOf(df);
  const { version } = await registerDatasetVersion(deps.db, { name, uri: ref.uri, sha256: ref.sha256, sizeBytes: ref.size, rows: df.height, schema, source });
  return { ...ref, name, version: version.version, rows: df.height, schema };
}
