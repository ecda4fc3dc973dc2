import { confusionMatrixChart, esc, fmt, histogramChart, PALETTE, reliabilityChart, scatterChart, unitLineChart, type LineSeries } from './charts-svg';
import type { ComparisonReport, EvaluationReport } from './report';

import { modelVersionUri } from '../../pipelines/vocab/model-uri';
/**
 * Evaluation reports as self-contained HTML pages: inline CSS and SVG, no script, no external
 * asset. Every string that comes from users or data (model and dataset names, class labels,
 * column names, slice values, titles) is escaped.
 */

/** Curves drawn per chart at most (multiclass one-vs-rest); the JSON report has them all. */
const MAX_CURVES = 10;

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#111;margin:0;background:#f6f7f9}
main{max-width:1200px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:18px;margin:28px 0 10px}h3{font-size:15px;margin:18px 0 8px}
section{background:#fff;border:1px solid #e3e6ea;border-radius:8px;padding:16px 20px;margin:16px 0}
table{border-collapse:collapse;margin:6px 0}th,td{padding:4px 10px;border-bottom:1px solid #eceef1;text-align:left;vertical-align:top}
th{font-weight:600;background:#fafbfc}td.n{text-align:right;font-variant-numeric:tabular-nums}
.meta td:first-child{color:#555;padding-right:18px}
.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.chart{background:#fff}.ct{font-size:13px;font-weight:600}.tk{font-size:10px;fill:#444}.al{font-size:11px;fill:#333}.lg{font-size:10px;fill:#222}.cv{font-size:11px}
.notes li{margin:2px 0}.note{color:#555}
.better{color:#15803d;font-weight:600}.worse{color:#b91c1c;font-weight:600}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
`;

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><main>${body}</main></body></html>
`;
}

const num = (v: number | null | undefined) => `<td class="n">${esc(fmt(v))}</td>`;

function modelName(r: EvaluationReport): string {
  return r.model.registered ? modelVersionUri(r.model.registered.name, r.model.registered.version) : r.model.uri;
}

function metaTable(r: EvaluationReport): string {
  const rows: [string, string][] = [
    ['model', `<code>${esc(modelName(r))}</code>`],
    ['model sha256', `<code>${esc(r.model.sha256)}</code>`],
    ['task', esc(r.task)],
    ['dataset', `<code>${esc(`${r.dataset.name}@${r.dataset.version}`)}</code> (${esc(String(r.dataset.rows))} rows)`],
    ['target', `<code>${esc(r.target)}</code>`],
    ['rows evaluated', esc(String(r.rows))],
  ];
  if (r.skippedRows) rows.push(['rows skipped', `${esc(String(r.skippedRows))} (no target value)`]);
  if (r.classification?.positiveClass !== undefined) rows.push(['positive class', `<code>${esc(r.classification.positiveClass)}</code>`]);
  return `<table class="meta">${rows.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v}</td></tr>`).join('')}</table>`;
}

function notesList(notes: string[]): string {
  return notes.length ? `<ul class="notes">${notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
}

function metricsTable(metrics: Record<string, number | null>): string {
  const rows = Object.entries(metrics).map(([k, v]) => `<tr><td><code>${esc(k)}</code></td>${num(v)}</tr>`);
  return `<table><tr><th>metric</th><th>value</th></tr>${rows.join('')}</table>`;
}

const SLICE_COLUMNS: Record<EvaluationReport['task'], string[]> = {
  binary: ['accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'pr_auc', 'log_loss'],
  multiclass: ['accuracy', 'f1_macro', 'f1_weighted', 'roc_auc', 'pr_auc', 'log_loss'],
  regression: ['rmse', 'mae', 'r2', 'mape'],
};

function slicesSection(r: EvaluationReport): string {
  if (!r.slices.length) return '';
  const cols = SLICE_COLUMNS[r.task];
  const tables = r.slices.map((s) => {
    const head = `<tr><th>${esc(s.column)}</th><th>rows</th>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
    const body = s.slices.map(
      (x) => `<tr><td>${x.value === null ? '<em>(missing)</em>' : `<code>${esc(x.value)}</code>`}</td>${num(x.rows)}${cols.map((c) => num(x.metrics[c])).join('')}</tr>`,
    );
    const omitted = s.omittedSlices ? `<p class="note">${esc(`${s.omittedSlices} smaller value(s), ${s.omittedRows} rows, not shown.`)}</p>` : '';
    return `<h3>by ${esc(s.column)}</h3><table>${head}${body.join('')}</table>${omitted}`;
  });
  return `<section><h2>Slices</h2>${tables.join('')}</section>`;
}

function curveSeries(curves: { class: string; points: { x: number[]; y: number[] } | null }[], label: (c: string) => string, opts: Partial<LineSeries> = {}): LineSeries[] {
  return curves
    .filter((c) => c.points)
    .slice(0, MAX_CURVES)
    .map((c, i) => ({ name: label(c.class), x: c.points!.x, y: c.points!.y, color: PALETTE[i % PALETTE.length]!, ...opts }));
}

function classificationSection(r: EvaluationReport): string {
  const c = r.classification!;
  const binary = r.task === 'binary';
  const charts: string[] = [];
  const rocLabel = (cls: string) => {
    const auc = c.roc.find((x) => x.class === cls)?.auc;
    return `${binary ? 'ROC' : cls} (AUC ${fmt(auc, 3)})`;
  };
  const prLabel = (cls: string) => {
    const ap = c.pr.find((x) => x.class === cls)?.averagePrecision;
    return `${binary ? 'PR' : cls} (AP ${fmt(ap, 3)})`;
  };
  if (c.roc.some((x) => x.points)) {
    charts.push(unitLineChart({ title: binary ? 'ROC curve' : 'ROC curves (one-vs-rest)', xLabel: 'false positive rate', yLabel: 'true positive rate', series: curveSeries(c.roc, rocLabel), diagonal: true }));
  }
  if (c.pr.some((x) => x.points)) {
    charts.push(
      unitLineChart({
        title: binary ? 'Precision-recall curve' : 'Precision-recall curves (one-vs-rest)',
        xLabel: 'recall',
        yLabel: 'precision',
        series: curveSeries(c.pr, prLabel),
        hlines: binary ? [{ y: c.pr[0]!.prevalence }] : [],
        legendCorner: 'bl',
      }),
    );
  }
  if (c.calibration) {
    charts.push(
      reliabilityChart({
        title: `Calibration (ECE ${fmt(c.calibration.ece, 3)})`,
        xLabel: c.calibration.kind === 'positive-class' ? `mean predicted p(${c.positiveClass ?? 'positive'})` : 'mean top-label confidence',
        yLabel: c.calibration.kind === 'positive-class' ? 'observed positive rate' : 'observed accuracy',
        bins: c.calibration.bins,
      }),
    );
  }
  const hidden = c.roc.filter((x) => x.points).length > MAX_CURVES ? `<p class="note">${esc(`Curves of the first ${MAX_CURVES} classes drawn; the JSON report has all of them.`)}</p>` : '';
  const perClassHead = '<tr><th>class</th><th>support</th><th>predicted</th><th>precision</th><th>recall</th><th>F1</th><th>ROC AUC</th><th>avg precision</th></tr>';
  const perClass = c.perClass.map(
    (p) => `<tr><td><code>${esc(p.class)}</code></td>${num(p.support)}${num(p.predicted)}${num(p.precision)}${num(p.recall)}${num(p.f1)}${num(p.rocAuc)}${num(p.averagePrecision)}</tr>`,
  );
  return `<section><h2>Curves</h2><div class="charts">${charts.join('')}</div>${hidden}</section>
<section><h2>Confusion matrix</h2>${confusionMatrixChart({ title: 'Confusion matrix', labels: c.classes, matrix: c.confusionMatrix })}
<h3>Per class</h3><table>${perClassHead}${perClass.join('')}</table></section>`;
}

function regressionSection(r: EvaluationReport): string {
  const g = r.regression!;
  return `<section><h2>Predictions</h2><div class="charts">${scatterChart({ title: 'Predicted vs actual', xLabel: 'actual', yLabel: 'predicted', x: g.sample.actual, y: g.sample.predicted })}${histogramChart({
    title: 'Residuals (actual − predicted)',
    xLabel: 'residual',
    edges: g.residuals.edges,
    counts: g.residuals.counts,
  })}</div></section>`;
}

function evaluationBody(r: EvaluationReport, heading: string): string {
  return `<section>${heading}${metaTable(r)}${notesList(r.notes)}</section>
<section><h2>Metrics</h2>${metricsTable(r.metrics)}</section>
${r.classification ? classificationSection(r) : ''}${r.regression ? regressionSection(r) : ''}${slicesSection(r)}`;
}

export function renderEvaluationHtml(r: EvaluationReport): string {
  const title = r.title ?? `Evaluation of ${modelName(r)} on ${r.dataset.name}@${r.dataset.version}`;
  return page(title, evaluationBody(r, `<h1>${esc(title)}</h1>`));
}

export function renderComparisonHtml(c: ComparisonReport): string {
  const ch = c.challenger;
  const title = c.title ?? `Champion/challenger on ${ch.dataset.name}@${ch.dataset.version}`;
  const parts: string[] = [`<h1>${esc(title)}</h1>`];
  if (!c.champion) {
    parts.push(`<section><p>${esc('No champion to compare with: the challenger is evaluated alone.')}</p></section>`);
  } else {
    const rows = Object.entries(c.deltas).map(([k, d]) => {
      const cls = d.better === 'challenger' ? 'better' : d.better === 'champion' ? 'worse' : '';
      const verdict = d.better === null ? '—' : d.better === 'tie' ? 'tie' : d.better;
      return `<tr><td><code>${esc(k)}</code></td>${num(d.challenger)}${num(d.champion)}<td class="n ${cls}">${esc(d.delta === null ? '—' : `${d.delta > 0 ? '+' : ''}${fmt(d.delta)}`)}</td><td>${esc(d.direction ?? '—')}</td><td class="${cls}">${esc(verdict)}</td></tr>`;
    });
    parts.push(
      `<section><h2>Deltas</h2><table class="meta"><tr><td>challenger</td><td><code>${esc(modelName(ch))}</code></td></tr><tr><td>champion</td><td><code>${esc(modelName(c.champion))}</code></td></tr></table>` +
        `<table><tr><th>metric</th><th>challenger</th><th>champion</th><th>delta</th><th>better is</th><th>better</th></tr>${rows.join('')}</table></section>`,
    );
    const a = ch.classification;
    const b = c.champion.classification;
    if (ch.task === 'binary' && a && b) {
      const pick = (r: EvaluationReport['classification'], which: 'roc' | 'pr') => r![which][0]?.points;
      const series = (which: 'roc' | 'pr'): LineSeries[] =>
        [
          { name: `challenger (${which === 'roc' ? 'AUC' : 'AP'} ${fmt(which === 'roc' ? a.roc[0]?.auc : a.pr[0]?.averagePrecision, 3)})`, p: pick(a, which), color: PALETTE[0]! },
          { name: `champion (${which === 'roc' ? 'AUC' : 'AP'} ${fmt(which === 'roc' ? b.roc[0]?.auc : b.pr[0]?.averagePrecision, 3)})`, p: pick(b, which), color: PALETTE[1]!, dash: true },
        ]
          .filter((s) => s.p)
          .map((s) => ({ name: s.name, x: s.p!.x, y: s.p!.y, color: s.color, ...(s.dash ? { dash: true } : {}) }));
      parts.push(
        `<section><h2>Curves, both models</h2><div class="charts">${unitLineChart({ title: 'ROC curves', xLabel: 'false positive rate', yLabel: 'true positive rate', series: series('roc'), diagonal: true })}${unitLineChart({ title: 'Precision-recall curves', xLabel: 'recall', yLabel: 'precision', series: series('pr'), legendCorner: 'bl' })}</div></section>`,
      );
    }
  }
  parts.push(`<h2>Challenger</h2>${evaluationBody(ch, `<h3><code>${esc(modelName(ch))}</code></h3>`)}`);
  if (c.champion) parts.push(`<h2>Champion</h2>${evaluationBody(c.champion, `<h3><code>${esc(modelName(c.champion))}</code></h3>`)}`);
  return page(title, parts.join('\n'));
}
