import type { EvaluationSummary, MetricSet } from '../../pipelines/steps/evaluation';
import type { ModelRef } from '../../pipelines/steps/model';
import type { ModelCard, ModelCardInput } from '../../pipelines/steps/registry';

/**
 * Model cards: assembled at registration from what people wrote (owners, license, intended use,
 * limitations…) and what the pipeline knows (signature, metrics with slices, data, lineage), kept
 * as JSON with the version, printed as Markdown by `sluice models card` (cli/render/model-card.ts).
 */

export type ModelCardDraft = Omit<ModelCard, 'name' | 'version'>;

export function buildModelCard(a: {
  input: ModelCardInput;
  model: ModelRef;
  description?: string;
  metrics: MetricSet;
  evaluation?: EvaluationSummary;
  trainingData: { name: string; version: number; uri?: string; sha256?: string }[];
  featureViews: { name: string; version: number }[];
  params: Record<string, unknown>;
  runId: string | null;
  pipeline: string | null;
  codeVersion: string | null;
}): ModelCardDraft {
  const sig = a.model.signature;
  const ev = a.evaluation;
  return {
    ...a.input,
    task: sig.task,
    ...(a.description ? { description: a.description } : {}),
    trainingData: a.trainingData.map((d) => ({ name: d.name, version: d.version, ...(d.uri ? { uri: d.uri } : {}), ...(d.sha256 ? { sha256: d.sha256 } : {}) })),
    evaluationData: ev ? [{ name: ev.dataset.name, version: ev.dataset.version, uri: ev.dataset.uri, sha256: ev.dataset.sha256, rows: ev.rows, target: ev.target }] : [],
    featureViews: a.featureViews,
    metrics: a.metrics,
    slices: ev?.slices ?? [],
    params: a.params,
    inputs: sig.inputs,
    outputs: sig.outputs,
    ...(sig.classes ? { classes: sig.classes } : {}),
    ...(sig.target ? { target: sig.target } : {}),
    source: { uri: a.model.uri, sha256: a.model.sha256, size: a.model.size },
    runId: a.runId,
    pipeline: a.pipeline,
    codeVersion: a.codeVersion,
  };
}
