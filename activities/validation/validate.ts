import fs from 'node:fs';
import { failure, invalidInput } from '../../pipelines/failures';
import pl from 'nodejs-polars';
import { ArtifactError, type ArtifactStore } from '../../infra/artifacts';
import { recordValidationReport } from '../../infra/db/validation';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { validateDatasetStep, type ValidateDatasetOutput } from '../../pipelines/steps/validation';
import { withLocalCopy } from '../data/frames';
import { implement } from '../runtime/implement';
import { typeName } from './columns';
import { compareFrames } from './comparison';
import { evaluateSuite } from './expectations';
import { renderHtml } from './html';
import { assembleReport, failureSummary } from './report';

/**
 * `validate-dataset`: evaluates the suite (and the comparison with a reference version, when
 * given), stores the JSON and HTML reports as content-addressed artifacts, links them to the
 * dataset version in `validation_reports`, then fails the step non-retryably (ValidationFailed,
 * naming the failed expectations) if an error-severity expectation failed, unless
 * `onFailure: 'continue'`. The reports are written before the failure, so a failed run has them.
 */
export const validateDataset = implement(validateDatasetStep, async (input, ctx) => {
  const { dataset, suite, reference } = input;
  const progress = { phase: 'reading', done: 0, total: suite.expectations.length };
  // Polars work runs off the event loop (collect() is async): keep heartbeating through it.
  const beat = setInterval(() => ctx.heartbeat({ ...progress }), 5_000);
  beat.unref();
  try {
    ctx.heartbeat({ ...progress });
    const df = await load(ctx.store, dataset, 'dataset');
    if (df.height !== dataset.rows) ctx.log.warn('dataset row count differs from its ref', { ref: dataset.rows, read: df.height });

    progress.phase = 'expectations';
    const results = await evaluateSuite(df, suite, {
      signal: ctx.signal,
      onProgress: (done) => {
        progress.done = done;
        ctx.heartbeat({ ...progress });
      },
    });

    let comparison;
    if (reference) {
      progress.phase = 'comparison';
      ctx.heartbeat({ ...progress });
      comparison = await compareFrames(df, await load(ctx.store, reference, 'reference'), reference, input.nullRateJump);
    }

    progress.phase = 'reports';
    const columns = df.columns.map((name, i) => ({ name, type: typeName(df.dtypes[i]!) }));
    const report = assembleReport({ suite, dataset, columns, results, comparison, comparisonSeverity: input.comparisonSeverity });
    const reportRef = await ctx.store.putContent(`${JSON.stringify(report, null, 2)}\n`, { contentType: 'application/json' });
    const htmlRef = await ctx.store.putContent(renderHtml(report), { contentType: 'text/html; charset=utf-8' });
    const statistics = { ...report.statistics, errors: report.failed.length, warnings: report.warnings.length, comparison_findings: comparison?.findings.length ?? 0 };
    await recordValidationReport(ctx.db, {
      datasetName: dataset.name,
      datasetVersion: dataset.version,
      suiteName: suite.name,
      success: report.success,
      statistics,
      reportUri: reportRef.uri,
      htmlUri: htmlRef.uri,
      reference: reference ? { name: reference.name, version: reference.version } : undefined,
      runId: ctx.run.runId,
      node: ctx.run.node,
    });
    ctx.log.info('validation done', { suite: suite.name, dataset: `${dataset.name}@${dataset.version}`, success: report.success, ...statistics, report: reportRef.uri });

    if (!report.success && input.onFailure === 'fail') {
      throw failure('ValidationFailed', failureSummary(report, { report: reportRef.uri, html: htmlRef.uri }), {
        report: reportRef,
        html: htmlRef,
        failed: report.failed,
      });
    }
    const output: ValidateDatasetOutput = {
      success: report.success,
      failed: report.failed,
      warnings: report.warnings,
      report: reportRef,
      html: htmlRef,
      statistics: report.statistics,
      ...(comparison
        ? {
            comparison: {
              reference: { name: comparison.reference.name, version: comparison.reference.version },
              schemaChanges: comparison.findings.filter((f) => f.kind === 'schema').length,
              newCategories: comparison.new_categories.length,
              nullRateJumps: comparison.findings.filter((f) => f.kind === 'null_rate').length,
            },
          }
        : {}),
    };
    return output;
  } finally {
    clearInterval(beat);
  }
});

/** A dataset that cannot be read as stored (missing, corrupt) is bad input: retrying will not help. */
async function load(store: ArtifactStore, ref: DatasetRef, what: string): Promise<pl.DataFrame> {
  try {
    return await readParquetArtifact(store, ref);
  } catch (e) {
    if (e instanceof ArtifactError && !e.retryable) {
      throw invalidInput(`cannot read ${what} ${ref.name}@${ref.version} (${ref.uri}): ${e.message}`);
    }
    throw e;
  }
}

/**
 * readFrame() from ../data/frames, with one difference: the local copy gets a `.parquet` name.
 * nodejs-polars' readParquet(string) takes a string whose extension is not `.parquet` for inline
 * file content, not a path, so readFrame's extensionless temporary file fails ("File out of
 * specification: The file must end with PAR1"). Switch back to readFrame once it names its copy so.
 */
async function readParquetArtifact(store: ArtifactStore, ref: DatasetRef): Promise<pl.DataFrame> {
  return withLocalCopy(store, ref, async (file) => {
    const named = `${file}.parquet`;
    fs.renameSync(file, named);
    return pl.readParquet(named);
  });
}
