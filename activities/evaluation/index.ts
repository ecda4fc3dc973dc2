import type { ArtifactStore } from '../../infra/artifacts';
import { compareModelsStep, evaluateModelStep, type CompareModelsInput, type EvaluateModelInput } from '../../pipelines/steps/evaluation';
import type { ModelRef } from '../../pipelines/steps/model';
import { withLocalCopy } from '../data/frames';
import { implement, type StepImplementation } from '../runtime/implement';
import type { StepContext } from '../runtime/step-context';
import { evaluateFile } from './evaluate';
import { openModel } from '../onnx/scoring';
import { compareReports, summarize, type ComparisonReport, type EvaluationReport } from './report';
import { renderComparisonHtml, renderEvaluationHtml } from './report-html';
import { invalidInput } from '../../pipelines/failures';

export { buildReport, summarize, metricDeltas, compareReports, type EvaluationReport, type ComparisonReport } from './report';
export { renderEvaluationHtml, renderComparisonHtml } from './report-html';
export { evaluateFile } from './evaluate';

/**
 * Steps `evaluate-model` and `compare-models`. Scoring is deterministic, so a retry recomputes
 * the same reports, which land on the same content-addressed keys; progress is heartbeated per
 * batch (there is nothing worth resuming from: metrics need every prediction).
 */

function providers(ctx: StepContext): string[] {
  return ctx.device.provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'];
}

type Options = Omit<EvaluateModelInput, 'model' | 'dataset'>;

async function evaluateOne(ctx: StepContext, file: string, model: ModelRef, input: EvaluateModelInput | CompareModelsInput, role: string): Promise<EvaluationReport> {
  const o: Options = input;
  const scoring = await openModel(ctx.store, model, { executionProviders: providers(ctx) });
  try {
    return await evaluateFile(scoring, file, input.dataset, {
      ...(o.target ? { target: o.target } : {}),
      sliceBy: o.sliceBy,
      maxSlices: o.maxSlices,
      calibrationBins: o.calibrationBins,
      batchSize: o.batchSize,
      ...(o.title ? { title: o.title } : {}),
      signal: ctx.signal,
      onProgress: (rowsDone, rowsTotal) => ctx.heartbeat({ model: role, phase: 'scoring', rowsDone, rowsTotal }),
      onPhase: (phase) => ctx.heartbeat({ model: role, phase }),
    });
  } finally {
    await scoring.release();
  }
}

async function publish(store: ArtifactStore, report: EvaluationReport | ComparisonReport, html: string) {
  return {
    report: await store.putContent(`${JSON.stringify(report, null, 2)}\n`, { contentType: 'application/json' }),
    html: await store.putContent(html, { contentType: 'text/html; charset=utf-8' }),
  };
}

export const evaluateModel = implement(evaluateModelStep, async (input, ctx) => {
  const report = await withLocalCopy(ctx.store, input.dataset, (file) => evaluateOne(ctx, file, input.model, input, 'model'));
  ctx.log.info('model evaluated', { rows: report.rows, metrics: report.metrics });
  return { ...summarize(report), ...(await publish(ctx.store, report, renderEvaluationHtml(report))) };
});

/** Champion and challenger must answer the same question: same task, target and classes (in order). */
function checkComparable(input: CompareModelsInput): void {
  const a = input.challenger.signature;
  const b = input.champion?.signature;
  if (!b) return;
  const targetA = input.target ?? a.target;
  const targetB = input.target ?? b.target;
  const problems: string[] = [];
  if (a.task !== b.task) problems.push(`tasks differ (challenger ${a.task}, champion ${b.task})`);
  if (targetA !== targetB) problems.push(`targets differ (challenger ${targetA}, champion ${targetB})`);
  const ca = (a.classes ?? []).map(String);
  const cb = (b.classes ?? []).map(String);
  if (ca.length !== cb.length || ca.some((c, i) => c !== cb[i])) problems.push(`classes differ (challenger [${ca.join(', ')}], champion [${cb.join(', ')}])`);
  if (problems.length) throw invalidInput(`champion and challenger are not comparable: ${problems.join('; ')}`);
}

export const compareModels = implement(compareModelsStep, async (input, ctx) => {
  checkComparable(input);
  const { challenger, champion } = await withLocalCopy(ctx.store, input.dataset, async (file) => ({
    challenger: await evaluateOne(ctx, file, input.challenger, input, 'challenger'),
    champion: input.champion ? await evaluateOne(ctx, file, input.champion, input, 'champion') : null,
  }));
  const cmp = compareReports(challenger, champion, input.title);
  ctx.log.info('models compared', { deltas: cmp.deltas });
  return {
    challenger: summarize(challenger),
    champion: champion ? summarize(champion) : null,
    deltas: cmp.deltas,
    ...(await publish(ctx.store, cmp, renderComparisonHtml(cmp))),
  };
});

export const evaluationImplementations: StepImplementation[] = [evaluateModel, compareModels] as StepImplementation[];
