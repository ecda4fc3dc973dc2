import pl from 'nodejs-polars';
import type { ArtifactStore } from '../../infra/artifacts';
import { getDatasetVersion, registerDatasetVersion } from '../../infra/db/datasets';
import type { Db } from '../../infra/db/pool';
import { invalidInput } from '../../pipelines/failures';
import type { BatchLabelsResult, JoinLabelsInput, JoinLabelsOutput, LabelsSource, ScoredBatch } from '../../pipelines/monitor/protocol';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { readFrame, writeFrame } from '../data/frames';
import { columnDrift, type ColumnSample } from '../drift/column-drift';
import { accuracy, rocAuc } from '../evaluation/metrics/classification';
import { regressionMetrics } from '../evaluation/metrics/regression';
import { confinedPath } from '../ingestion/sources/file';
import { PREDICTION, probaColumn, schemaOf, windowFilter } from '../scoring/common';

/**
 * Arrived labels, joined with what was scored: per scored batch, the predictions that have a
 * label (by key) give the model's task metric on that window, and the labels' distribution is
 * compared with the reference's target (label drift: the outcome rate moved, whatever the
 * inputs did). The batch's input rows with their labels are added to the accumulated labelled
 * dataset `<model>.labelled`, which a retrain learns from.
 */

/** Join key as text: a date key in the predictions meets the same date read from a CSV. */
const KEY = '__sluice_key';
const LABEL = '__sluice_label';

export async function joinLabels(deps: { db: Db; store: ArtifactStore; dataRoots: string[] }, input: JoinLabelsInput): Promise<JoinLabelsOutput> {
  const { key } = input.labels;
  const labelColumn = input.labels.label ?? input.target;
  const raw = await readLabels(deps, input.labels.source);
  for (const [what, c] of [['key', key], ['label', labelColumn]] as const) {
    if (!raw.columns.includes(c)) throw invalidInput(`the labels have no ${what} column "${c}" (columns: ${raw.columns.join(', ')})`);
  }
  // One label per key (the last given wins); rows without a label say nothing.
  const labels = raw
    .select(pl.col(key).cast(pl.Utf8).alias(KEY), pl.col(labelColumn).alias(LABEL))
    .filter(pl.col(LABEL).isNotNull().and(pl.col(KEY).isNotNull()))
    .unique({ subset: [KEY], keep: 'last', maintainOrder: true });

  const reference = await readFrame(deps.store, input.reference.uri);
  const referenceTarget = reference.columns.includes(input.target) ? reference.getColumn(input.target).dropNulls() : null;

  const results: BatchLabelsResult[] = [];
  const labelledParts: pl.DataFrame[] = [];
  const matchedKeys = new Set<string>();
  // Oldest window first: the monitor takes the last labelled batch as the newest window (a
  // retrain's evaluation week), and scored batches are remembered in the order their runs ended,
  // which for a backfill's parallel runs is any order.
  const endOf = (b: ScoredBatch) => (b.window ? Date.parse(b.window.end) : Number.NEGATIVE_INFINITY);
  const byWindow = [...input.batches].sort((a, b) => (endOf(a) === endOf(b) ? 0 : endOf(a) < endOf(b) ? -1 : 1));
  for (const batch of byWindow) {
    if (!batch.predictions) continue;
    const predictions = await readFrame(deps.store, batch.predictions.uri);
    if (!predictions.columns.includes(key)) {
      throw invalidInput(`the predictions of batch ${batch.batchId} have no key column "${key}": score with keep: ["${key}"] so labels can be joined`);
    }
    const joined = predictions.withColumns(pl.col(key).cast(pl.Utf8).alias(KEY)).join(labels, { on: KEY, how: 'inner' });
    if (!joined.height) continue;
    for (const k of joined.getColumn(KEY).toArray() as string[]) matchedKeys.add(k);
    results.push(batchResult(batch, joined, referenceTarget));
    labelledParts.push(await labelledRows(deps.store, batch, labels, key, input.target));
  }

  let labelled: DatasetRef | null = null;
  if (labelledParts.length) {
    const previous = input.previous ? [await readFrame(deps.store, input.previous.uri)] : [];
    // Accumulated: earlier labelled batches and these, one row per key (the newest label wins).
    const all = pl.concat([...previous, ...labelledParts], { how: 'diagonalRelaxed' }).unique({ subset: [key], keep: 'last', maintainOrder: true });
    labelled = await publish(deps, `${input.model}.labelled`, all, { kind: 'labels', labels: input.labelsBatchId, batches: results.map((r) => r.batchId), previous: input.previous ? `${input.previous.name}@${input.previous.version}` : null });
  }
  const unmatched = labels.height - matchedKeys.size;
  return { batches: results, labelled, unmatched };
}

async function readLabels(deps: { db: Db; store: ArtifactStore; dataRoots: string[] }, source: LabelsSource): Promise<pl.DataFrame> {
  if ('dataset' in source) {
    const v = await getDatasetVersion(deps.db, source.dataset.name, source.dataset.version ?? 'latest');
    if (!v) throw invalidInput(`no dataset version ${source.dataset.name}@${source.dataset.version ?? 'latest'} to read labels from`);
    return readFrame(deps.store, v.uri);
  }
  const file = await confinedPath(source.path, deps.dataRoots);
  try {
    if (/\.(parquet|pq)$/i.test(file)) return pl.readParquet(file);
    if (/\.(jsonl|ndjson)$/i.test(file)) return pl.readJSON(file, { format: 'lines' });
    if (/\.json$/i.test(file)) return pl.readJSON(file);
    return pl.readCSV(file, { sep: /\.tsv$/i.test(file) ? '\t' : ',' });
  } catch (e) {
    throw invalidInput(`cannot read labels from ${file}: ${(e as Error).message}`);
  }
}

/** Classification when the predictions are classes (labels, or with class probabilities); else regression. */
function taskOf(predictions: pl.DataFrame): 'classification' | 'regression' {
  if (predictions.columns.some((c) => c.startsWith(probaColumn('')))) return 'classification';
  const t = predictions.getColumn(PREDICTION).dtype;
  return t.isNumeric() && !t.isInteger() ? 'regression' : 'classification';
}

/** Classes compare as text (a number read as 2.0 prints as 2, like the integer 2). */
const classText = (v: unknown) => String(v);

function batchResult(batch: ScoredBatch, joined: pl.DataFrame, referenceTarget: pl.Series | null): BatchLabelsResult {
  const task = taskOf(joined);
  const metrics: Record<string, number> = {};
  const truth = joined.getColumn(LABEL).toArray();
  const predicted = joined.getColumn(PREDICTION).toArray();
  let labelDrift: BatchLabelsResult['labelDrift'] = null;
  if (task === 'classification') {
    const yt = truth.map(classText);
    const yp = predicted.map(classText);
    const classes = [...new Set([...yt, ...yp])].sort();
    const index = new Map(classes.map((c, i) => [c, i]));
    const acc = accuracy(Int32Array.from(yt, (c) => index.get(c)!), Int32Array.from(yp, (c) => index.get(c)!));
    if (acc !== null) metrics.accuracy = acc;
    // AUC of a binary model: the probability of its second class (classes in probability-column order).
    const probaCols = joined.columns.filter((c) => c.startsWith(probaColumn('')));
    if (probaCols.length === 2) {
      const positive = probaCols[1]!.slice(probaColumn('').length);
      const scores = Float64Array.from(joined.getColumn(probaCols[1]!).cast(pl.Float64).toArray() as number[]);
      const auc = rocAuc(Uint8Array.from(yt, (c) => (c === positive ? 1 : 0)), scores);
      if (auc !== null) metrics.roc_auc = auc;
    }
    if (referenceTarget) {
      const counts = (xs: unknown[]) => xs.reduce<Map<string, number>>((m, x) => m.set(classText(x), (m.get(classText(x)) ?? 0) + 1), new Map());
      const ref = counts(referenceTarget.toArray());
      const cur = counts(yt);
      labelDrift = drift({ kind: 'categorical', reference: ref, current: cur }, rates(ref), rates(cur));
    }
  } else {
    const yt = Float64Array.from(truth as number[], Number);
    const r = regressionMetrics(yt, Float64Array.from(predicted as number[], Number));
    if (r.metrics.rmse !== null) metrics.rmse = r.metrics.rmse;
    if (referenceTarget?.dtype.isNumeric()) {
      const ref = Float64Array.from(referenceTarget.cast(pl.Float64).toArray() as number[]);
      labelDrift = drift({ kind: 'numeric', reference: ref, current: yt }, { mean: mean(ref) }, { mean: mean(yt) });
    }
  }
  return { batchId: batch.batchId, window: batch.window, rows: joined.height, task, metrics, labelDrift };
}

function drift(sample: ColumnSample, referenceRate: Record<string, number>, currentRate: Record<string, number>): NonNullable<BatchLabelsResult['labelDrift']> {
  const r = columnDrift(sample, {});
  return { test: r.test, statistic: r.statistic, pValue: r.pValue ?? null, threshold: r.threshold, drift: r.drift, referenceRate, currentRate };
}

const rates = (m: Map<string, number>) => {
  const n = [...m.values()].reduce((a, b) => a + b, 0);
  return Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v / n]));
};
const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);

/** The batch's input rows (its window) with their label under the target's name. */
async function labelledRows(store: ArtifactStore, batch: ScoredBatch, labels: pl.DataFrame, key: string, target: string): Promise<pl.DataFrame> {
  let rows = await readFrame(store, batch.dataset.uri);
  if (!rows.columns.includes(key)) throw invalidInput(`the scored input ${batch.dataset.name}@${batch.dataset.version} has no key column "${key}"`);
  if (batch.window) rows = rows.filter(windowFilter(batch.window));
  if (rows.columns.includes(target)) rows = rows.drop(target);
  return rows
    .withColumns(pl.col(key).cast(pl.Utf8).alias(KEY))
    .join(labels, { on: KEY, how: 'inner' })
    .drop(KEY)
    .rename({ [LABEL]: target });
}

async function publish(deps: { db: Db; store: ArtifactStore }, name: string, df: pl.DataFrame, source: object): Promise<DatasetRef> {
  const ref = await writeFrame(deps.store, df);
  const schema = schemaOf(df);
  const { version } = await registerDatasetVersion(deps.db, { name, uri: ref.uri, sha256: ref.sha256, sizeBytes: ref.size, rows: df.height, schema, source });
  return { ...ref, name, version: version.version, rows: df.height, schema };
}
