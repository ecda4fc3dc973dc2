import { invalidInput } from '../../pipelines/failures';
import pl from 'nodejs-polars';
import { ArtifactError, type ArtifactStore } from '../../infra/artifacts';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { detectDriftStep, type ColumnDriftSummary, type DetectDriftOutput } from '../../pipelines/steps/drift';
import { withLocalCopy } from '../data/frames';
import { windowFilter } from '../scoring/common';
import { implement, type StepImplementation } from '../runtime/implement';
import type { ColumnDriftResult } from './column-drift';
import { assembleDriftReport, datasetDrift } from './dataset-drift';
import { renderDriftHtml } from './report-html';

export { columnDrift, defaultStatTest, isDrift, DEFAULT_THRESHOLDS, STAT_TESTS, TEST_LABELS, type ColumnDriftOptions, type ColumnDriftResult, type ColumnSample, type StatTestName } from './column-drift';
export { assembleDriftReport, datasetDrift, DriftInputError, DRIFT_REPORT_FORMAT, type DatasetDriftOptions, type DatasetDriftResult, type DriftReport } from './dataset-drift';
export { chartSvg, renderDriftHtml } from './report-html';

/**
 * `detect-drift`: reads the reference and current dataset versions (only the columns it needs),
 * compares them column by column (dataset-drift.ts), stores the JSON report and its HTML page as
 * content-addressed artifacts, and returns the verdicts. Bad input — a named column missing on a
 * side, a numeric-only test forced on a categorical column, an unreadable dataset — fails
 * non-retryably (InvalidInput); anything else is retried. The step is a pure function of its
 * inputs (same data and policy, same report bytes), so a retry republishes the same artifacts.
 */
export const detectDrift = implement(detectDriftStep, async (input, ctx) => {
  const progress = { phase: 'reading', done: 0, total: 0 };
  ctx.heartbeat({ ...progress });
  const predictionCols = input.prediction === undefined ? [] : typeof input.prediction === 'string' ? [input.prediction] : input.prediction;
  const needed = input.columns ? [...new Set([...input.columns, ...predictionCols])] : undefined;
  const reference = await load(ctx.store, input.reference, 'reference', needed);
  const window = input.currentWindow;
  let current = await load(ctx.store, input.current, 'current', needed && window ? [...new Set([...needed, window.column])] : needed);
  if (window) {
    // Only the rows the scoring run scored: its window of the dataset.
    if (!current.columns.includes(window.column)) throw invalidInput(`current ${input.current.name}@${input.current.version} has no window column "${window.column}"`);
    current = current.filter(windowFilter(window));
    if (needed && !needed.includes(window.column)) current = current.drop(window.column);
  }

  progress.phase = 'columns';
  const result = datasetDrift(reference, current, {
    columns: input.columns,
    categorical: input.categorical,
    prediction: input.prediction,
    thresholds: input.thresholds,
    stattest: input.stattest,
    columnStattests: input.columnStattests,
    columnThresholds: input.columnThresholds,
    datasetDriftShare: input.datasetDriftShare,
    sampleSizeCutoff: input.sampleSizeCutoff,
    onColumn: (done, total) => {
      progress.done = done;
      progress.total = total;
      ctx.heartbeat({ ...progress });
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('cancelled');
    },
  });

  progress.phase = 'reports';
  ctx.heartbeat({ ...progress });
  const report = assembleDriftReport(result, input.reference, input.current, window ? { ...window, rows: current.height } : undefined);
  const reportRef = await ctx.store.putContent(`${JSON.stringify(report, null, 2)}\n`, { contentType: 'application/json' });
  const htmlRef = await ctx.store.putContent(renderDriftHtml(report), { contentType: 'text/html; charset=utf-8' });
  ctx.log.info('drift detected', {
    reference: `${input.reference.name}@${input.reference.version}`,
    current: `${input.current.name}@${input.current.version}`,
    datasetDrift: result.datasetDrift,
    share: result.share,
    drifted: result.drifted.length,
    evaluated: result.evaluated,
    ...(result.prediction ? { predictionDrift: result.prediction.drift } : {}),
    report: reportRef.uri,
  });

  const output: DetectDriftOutput = {
    datasetDrift: result.datasetDrift,
    share: result.share,
    driftShare: result.driftShare,
    evaluated: result.evaluated,
    drifted: result.drifted,
    columns: Object.fromEntries(result.columns.map((c) => [c.column, summary(c)])),
    ...(result.prediction ? { prediction: { column: result.prediction.column, source: result.prediction.source, ...summary(result.prediction) } } : {}),
    report: reportRef,
    html: htmlRef,
  };
  return output;
});

/** The verdict part of a column result (charts and details stay in the report). */
function summary(r: ColumnDriftResult): ColumnDriftSummary {
  return {
    kind: r.kind,
    test: r.test,
    statistic: r.statistic,
    ...(r.pValue === undefined ? {} : { pValue: r.pValue }),
    threshold: r.threshold,
    drift: r.drift,
    referenceCount: r.referenceCount,
    currentCount: r.currentCount,
    ...(r.skipped ? { skipped: r.skipped } : {}),
  };
}

/** A dataset that cannot be read as stored (missing, corrupt) is bad input: retrying will not help. */
async function load(store: ArtifactStore, ref: DatasetRef, what: string, columns?: string[]): Promise<pl.DataFrame> {
  try {
    return await withLocalCopy(
      store,
      ref,
      async (file) => {
        if (!columns) return pl.readParquet(file);
        // Read only what is compared; a column the file lacks is reported by datasetDrift().
        const present = new Set(pl.scanParquet(file).columns);
        const wanted = columns.filter((c) => present.has(c));
        return wanted.length ? pl.readParquet(file, { columns: wanted }) : pl.DataFrame({});
      },
      { extension: '.parquet' },
    );
  } catch (e) {
    if (e instanceof ArtifactError && !e.retryable) {
      throw invalidInput(`cannot read ${what} ${ref.name}@${ref.version} (${ref.uri}): ${e.message}`);
    }
    throw e;
  }
}

/** The drift step implementations, for the worker registry. */
export const driftImplementations = [detectDrift] as StepImplementation[];
