import { METRIC_DIRECTIONS, type MetricSet, type SliceSet } from '../../pipelines/steps/evaluation';
import type { ModelCard } from '../../pipelines/steps/registry';
import { modelVersionUri } from '../../pipelines/vocab/model-uri';

/**
 * A model card as Markdown, for `sluice models card`. The card itself is assembled at
 * registration (activities/registry/model-card.ts) and kept as JSON with the version; printing it
 * is the CLI's business.
 */

/** Control characters (terminal escapes) out of anything printed; newlines and tabs kept. */
export function clean(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '');
}

/** A table cell: one line, pipes escaped. */
function cell(v: unknown): string {
  const s = v === null || v === undefined ? '—' : typeof v === 'number' ? fmtNum(v) : typeof v === 'string' ? v : JSON.stringify(v);
  return clean(s).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** Inline code that survives backticks in the value. */
function code(v: string): string {
  const s = clean(v).replace(/\r?\n/g, ' ');
  const longest = Math.max(0, ...[...s.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return longest ? `${fence} ${s} ${fence}` : `${fence}${s}${fence}`;
}

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return '—';
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

function table(head: string[], rows: unknown[][]): string {
  return [`| ${head.map(cell).join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

const SLICE_METRICS: Record<string, string[]> = {
  binary: ['accuracy', 'precision', 'recall', 'f1', 'roc_auc'],
  multiclass: ['accuracy', 'f1_macro', 'f1_weighted', 'roc_auc'],
  regression: ['rmse', 'mae', 'r2', 'mape'],
};

function sliceTables(slices: SliceSet[], task: string): string[] {
  const cols = SLICE_METRICS[task] ?? [];
  return slices.map((s) => {
    const rows = s.slices.map((x) => [x.value === null ? '(missing)' : x.value, x.rows, ...cols.map((c) => x.metrics[c] ?? null)]);
    const more = s.omittedSlices ? `\n\n${s.omittedSlices} smaller value(s) (${s.omittedRows} rows) not shown.` : '';
    return `### By ${clean(s.column)}\n\n${table([s.column, 'rows', ...cols], rows)}${more}`;
  });
}

const KNOWN_ORDER = Object.keys(METRIC_DIRECTIONS);

/** Known metrics in their usual order (accuracy, precision… rmse…), then the others by name. */
export function orderedMetrics(m: MetricSet): [string, number | null][] {
  const rank = (k: string) => (KNOWN_ORDER.includes(k) ? KNOWN_ORDER.indexOf(k) : KNOWN_ORDER.length);
  return Object.entries(m).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

export interface CardContext {
  aliases?: string[];
  createdAt?: Date;
  createdBy?: string;
  status?: string;
}

/** The card as Markdown. Every value is cleaned of control characters; table cells escape `|`. */
export function renderModelCardMarkdown(card: ModelCard, ctx: CardContext = {}): string {
  const out: string[] = [];
  const text = (s: string | undefined) => (s && s.trim() ? clean(s.trim()) : '_Not stated._');
  out.push(`# Model card: ${clean(card.name)} v${card.version}`);
  const facts = [
    `- **URI**: ${code(modelVersionUri(card.name, card.version))}`,
    `- **Task**: ${card.task}`,
    ...(ctx.aliases?.length ? [`- **Aliases**: ${ctx.aliases.map((a) => code(a)).join(', ')}`] : []),
    ...(ctx.createdAt ? [`- **Registered**: ${ctx.createdAt.toISOString()}${ctx.createdBy ? ` by ${clean(ctx.createdBy)}` : ''}`] : []),
    ...(ctx.status && ctx.status !== 'READY' ? [`- **Status**: ${ctx.status}`] : []),
    `- **Owners**: ${card.owners.length ? card.owners.map(clean).join(', ') : '_not stated_'}`,
    `- **License**: ${card.license ? clean(card.license) : '_not stated_'}`,
  ];
  out.push(facts.join('\n'));
  out.push(`## Overview\n\n${text(card.overview ?? card.description)}`);
  out.push(`## Intended use\n\n${text(card.intendedUse)}`);
  out.push(`## Out-of-scope use\n\n${text(card.outOfScopeUse)}`);

  const dataRows = (ds: ModelCard['trainingData']) => ds.map((d) => [d.name, d.version, d.sha256 ? d.sha256.slice(0, 12) : null, d.uri ?? null]);
  out.push(`## Training data\n\n${card.trainingData.length ? table(['dataset', 'version', 'sha256', 'uri'], dataRows(card.trainingData)) : '_Not recorded._'}`);
  const fv = card.featureViews.length ? `\n\nFeature views: ${card.featureViews.map((f) => code(`${f.name}@${f.version}`)).join(', ')}` : '';
  out[out.length - 1] += fv;
  const evRows = card.evaluationData.map((d) => [d.name, d.version, d.rows ?? null, d.target ?? null, d.sha256 ? d.sha256.slice(0, 12) : null]);
  out.push(`## Evaluation data\n\n${evRows.length ? table(['dataset', 'version', 'rows', 'target', 'sha256'], evRows) : '_Not recorded._'}`);

  const metricRows = orderedMetrics(card.metrics);
  const metrics = [`## Metrics\n\n${metricRows.length ? table(['metric', 'value'], metricRows) : '_None recorded._'}`];
  if (metricRows.some(([, v]) => v === null)) metrics.push('A dash (—) is a metric undefined on the evaluation data (for example, recall of a class absent from it).');
  out.push([...metrics, ...sliceTables(card.slices, card.task)].join('\n\n'));

  out.push(`## Limitations\n\n${text(card.limitations)}`);
  out.push(`## Ethical considerations and risks\n\n${text(card.ethicalRisks)}`);

  const matrix = card.inputs.some((i) => 'columns' in i);
  const io = [
    `## Input and output format`,
    matrix ? 'ONNX inputs, a 2-D one `[N, k]` taking its columns in the order listed:' : 'One ONNX input per raw feature column, shape `[N, 1]`:',
    table(['input', 'column', 'type'], card.inputs.map((i) => [i.name, 'columns' in i ? i.columns.join(', ') : i.column, i.type])),
  ];
  const outs = Object.entries(card.outputs).filter(([, v]) => v);
  io.push(`Outputs: ${outs.map(([k, v]) => `${k} ${code(v!)}`).join(', ')}`);
  if (card.classes) io.push(`Classes (output order): ${card.classes.map((c) => code(String(c))).join(', ')}${card.task === 'binary' ? ` (positive: ${code(String(card.classes[1]))})` : ''}`);
  if (card.target) io.push(`Target column: ${code(card.target)}`);
  out.push(io.join('\n\n'));

  const params = Object.entries(card.params);
  if (params.length) out.push(`## Parameters\n\n${table(['param', 'value'], params)}`);

  out.push(
    [
      '## Provenance',
      '',
      `- Artifact: ${code(card.source.uri)} (sha256 ${code(card.source.sha256)}, ${card.source.size} bytes)`,
      `- Pipeline run: ${card.runId ? code(card.runId) : '_none_'}${card.pipeline ? ` (pipeline ${code(card.pipeline)})` : ''}`,
      `- Code version: ${card.codeVersion ? code(card.codeVersion) : '_unknown_'}`,
    ].join('\n'),
  );
  return `${out.join('\n\n')}\n`;
}
