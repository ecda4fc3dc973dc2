import { TEST_LABELS, type ColumnChart, type ColumnDriftResult } from './column-drift';
import type { DriftReport } from './dataset-drift';

/**
 * The drift report as one self-contained HTML page: inline CSS, one inline SVG per column
 * (reference against current shares per bin or value), no script and no external asset (a
 * Content-Security-Policy forbids them too). Every string from users or data — dataset and
 * column names, category values, URIs — goes through esc().
 */

export function esc(x: unknown): string {
  const s = typeof x === 'string' ? x : x === undefined || x === null ? '' : String(x);
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** A number for people: 4 significant digits, exponent form for the tiny and the huge. */
export function fmtNum(x: number | null | undefined): string {
  if (x === null || x === undefined) return 'n/a';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : x < 0 ? '−∞' : 'NaN';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-4 || a >= 1e7) return x.toExponential(3).replace(/\.?0+e/, 'e');
  return String(Number(x.toPrecision(4)));
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const clip = (s: string, n: number) => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

const CSS = `
:root{--drift:#cf222e;--ok:#1a7f37;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--ref:#8c959f;--cur:#0969da}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#fff}
main{max-width:1280px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
.muted{color:var(--muted)}code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}.drift{background:var(--drift)}.ok{background:var(--ok)}.skip{background:var(--muted)}
.big{font-size:15px;padding:3px 12px}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}.card{border:1px solid var(--line);border-radius:6px;padding:10px 14px;min-width:130px;background:var(--bg)}
.card strong{display:block;font-size:20px}table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:middle}
th{background:var(--bg);font-weight:600}td.r{text-align:right;font-variant-numeric:tabular-nums}tr.drifted td{background:#fff5f5}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;vertical-align:middle}.legend .ref{background:var(--ref)}.legend .cur{background:var(--cur)}
svg{display:block}svg text{font:10px system-ui,sans-serif;fill:#59636e}svg .ref{fill:var(--ref)}svg .cur{fill:var(--cur)}svg .axis{stroke:#d1d9e0}
ul.lines{margin:6px 0;padding-left:20px}
`;

const W = 380;
const H = 130;
const PAD_L = 36;
const PAD_R = 6;
const PAD_T = 8;
const PAD_B = 26;

/** Reference against current shares as grouped bars. */
export function chartSvg(chart: ColumnChart, referenceTotal: number, currentTotal: number, name = 'column'): string {
  const groups: { label: string; r: number; c: number }[] = [];
  if (chart.kind === 'bins') {
    for (let i = 0; i < chart.reference.length; i++) {
      const last = i === chart.reference.length - 1;
      groups.push({ label: `[${fmtNum(chart.edges[i])}, ${fmtNum(chart.edges[i + 1])}${last ? ']' : ')'}`, r: chart.reference[i]!, c: chart.current[i]! });
    }
  } else {
    chart.labels.forEach((label, i) => groups.push({ label, r: chart.reference[i]!, c: chart.current[i]! }));
    if (chart.other) groups.push({ label: `(${chart.other.categories} other values)`, r: chart.other.reference, c: chart.other.current });
  }
  const share = (n: number, total: number) => (total > 0 ? n / total : 0);
  const max = Math.max(1e-12, ...groups.map((g) => Math.max(share(g.r, referenceTotal), share(g.c, currentTotal))));
  const plotW = W - PAD_L - PAD_R;
  const plotH = H - PAD_T - PAD_B;
  const gw = plotW / Math.max(groups.length, 1);
  const bw = Math.max(gw * 0.4, 0.5);
  const y = (s: number) => PAD_T + plotH - (s / max) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(`distribution of ${name}: reference and current`)}">`);
  parts.push(`<line class="axis" x1="${PAD_L}" y1="${PAD_T + plotH}" x2="${W - PAD_R}" y2="${PAD_T + plotH}"/>`);
  parts.push(`<text x="${PAD_L - 4}" y="${PAD_T + 8}" text-anchor="end">${esc(pct(max))}</text><text x="${PAD_L - 4}" y="${PAD_T + plotH}" text-anchor="end">0</text>`);
  groups.forEach((g, i) => {
    const x0 = PAD_L + i * gw + (gw - 2 * bw) / 2;
    const rs = share(g.r, referenceTotal);
    const cs = share(g.c, currentTotal);
    const tip = `<title>${esc(`${g.label}: reference ${pct(rs)} (${g.r}), current ${pct(cs)} (${g.c})`)}</title>`;
    parts.push(`<g><rect class="ref" x="${x0.toFixed(2)}" y="${y(rs).toFixed(2)}" width="${bw.toFixed(2)}" height="${(PAD_T + plotH - y(rs)).toFixed(2)}">${tip}</rect>`);
    parts.push(`<rect class="cur" x="${(x0 + bw).toFixed(2)}" y="${y(cs).toFixed(2)}" width="${bw.toFixed(2)}" height="${(PAD_T + plotH - y(cs)).toFixed(2)}">${tip}</rect></g>`);
  });
  const base = PAD_T + plotH + 12;
  if (chart.kind === 'bins') {
    const e = chart.edges;
    parts.push(`<text x="${PAD_L}" y="${base}" text-anchor="start">${esc(fmtNum(e[0]))}</text>`);
    parts.push(`<text x="${W - PAD_R}" y="${base}" text-anchor="end">${esc(fmtNum(e[e.length - 1]))}</text>`);
  } else if (groups.length <= 12) {
    const room = Math.max(3, Math.floor(gw / 6));
    groups.forEach((g, i) => parts.push(`<text x="${(PAD_L + (i + 0.5) * gw).toFixed(2)}" y="${base}" text-anchor="middle">${esc(clip(g.label, room))}</text>`));
  } else {
    parts.push(`<text x="${PAD_L}" y="${base}" text-anchor="start">${groups.length} values (hover for each)</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}

function verdict(r: ColumnDriftResult): string {
  if (r.test === null) return '<span class="badge skip">not compared</span>';
  return r.drift ? '<span class="badge drift">drift</span>' : '<span class="badge ok">no drift</span>';
}

function testCell(r: ColumnDriftResult): string {
  if (r.test === null) return `<span class="muted">${esc(r.skipped)}</span>`;
  const rule = r.test === 'ks' ? 'p ≤' : r.pValue !== undefined ? 'p <' : '≥';
  const extra = r.details?.method ? ` <span class="muted">(${esc(r.details.method)})</span>` : '';
  return `${esc(TEST_LABELS[r.test])}${extra}<br><span class="muted">drift if ${rule} ${esc(fmtNum(r.threshold))}</span>`;
}

function columnRow(name: string, r: ColumnDriftResult, label = name): string {
  const stat = r.statistic === null && r.test !== null ? '∞' : fmtNum(r.statistic);
  const unseen = r.newCategories
    ? `<br><span class="muted">new in current: ${r.newCategories.count} (${esc(r.newCategories.sample.slice(0, 5).map((s) => clip(s, 30)).join(', '))}${r.newCategories.count > 5 ? ', …' : ''})</span>`
    : '';
  const chart = r.chart ? chartSvg(r.chart, r.referenceCount, r.currentCount, name) : '';
  return (
    `<tr class="${r.drift ? 'drifted' : ''}"><td><code>${esc(label)}</code><br><span class="muted">${esc(r.kind)}, ${r.referenceCount} / ${r.currentCount} values${r.distinct ? `, ${r.distinct} distinct` : ''}</span>${unseen}</td>` +
    `<td>${testCell(r)}</td><td class="r">${esc(stat)}</td><td class="r">${r.pValue === undefined ? '' : esc(fmtNum(r.pValue))}</td><td>${verdict(r)}</td><td>${chart}</td></tr>`
  );
}

const TABLE_HEAD = '<table><thead><tr><th>column</th><th>test</th><th>statistic</th><th>p-value</th><th>verdict</th><th>reference <span class="legend"><span class="ref"></span></span> vs current <span class="legend"><span class="cur"></span></span></th></tr></thead><tbody>';

export function renderDriftHtml(report: DriftReport): string {
  const { reference: ref, current: cur, summary: s } = report;
  const title = `Drift: ${cur.name}@${cur.version} against ${ref.name}@${ref.version}`;
  const parts: string[] = [];
  parts.push(`<header><h1>${esc(title)}</h1>`);
  parts.push(
    `<p>${s.datasetDrift ? '<span class="badge drift big">DATASET DRIFT</span>' : '<span class="badge ok big">NO DATASET DRIFT</span>'} ` +
      `<span class="muted">${s.drifted.length} of ${s.evaluated} compared columns drifted (share ${esc(pct(s.share))}; the dataset drifts at ${esc(pct(s.driftShare))})</span></p>`,
  );
  parts.push(
    `<p class="muted">reference <code>${esc(ref.name)}</code> v${ref.version}, ${ref.rows} rows, sha256 <code>${esc(ref.sha256.slice(0, 12))}</code> · ` +
      `current <code>${esc(cur.name)}</code> v${cur.version}, ${cur.rows} rows, sha256 <code>${esc(cur.sha256.slice(0, 12))}</code>` +
      (report.currentWindow ? ` · compared: ${report.currentWindow.rows} rows with <code>${esc(report.currentWindow.column)}</code> in [${esc(report.currentWindow.start)}, ${esc(report.currentWindow.end)})` : '') +
      '</p></header>',
  );

  parts.push('<section class="cards">');
  const cards: [string, string][] = [
    ['compared', String(s.evaluated)],
    ['drifted', String(s.drifted.length)],
    ['share', pct(s.share)],
    ['threshold', pct(s.driftShare)],
    ['not compared', String(s.skipped.length)],
  ];
  if (report.prediction) cards.push(['prediction', report.prediction.test === null ? 'not compared' : report.prediction.drift ? 'drift' : 'no drift']);
  for (const [label, value] of cards) parts.push(`<div class="card"><span class="muted">${esc(label)}</span><strong>${esc(value)}</strong></div>`);
  parts.push('</section>');

  if (report.prediction) {
    const p = report.prediction;
    const what = p.source === 'column' ? 'the prediction column' : p.source === 'probability' ? 'the positive-class probability' : 'the predicted class (argmax of the probabilities)';
    parts.push(`<h2>Prediction drift</h2><p class="muted">Compares ${esc(what)}; not counted in the dataset share.</p>`);
    parts.push(TABLE_HEAD + columnRow(p.column, p) + '</tbody></table>');
  }

  parts.push('<h2>Columns</h2>');
  if (report.columns.length === 0) parts.push('<p class="muted">No column to compare.</p>');
  else {
    const order = [...report.columns].sort((a, b) => Number(b.drift) - Number(a.drift) || Number(a.test === null) - Number(b.test === null));
    parts.push(TABLE_HEAD);
    for (const c of order) parts.push(columnRow(c.column, c));
    parts.push('</tbody></table>');
  }

  const { referenceOnly, currentOnly } = report.unmatched;
  if (referenceOnly.length || currentOnly.length) {
    parts.push('<h2>Columns on one side only</h2><ul class="lines">');
    if (referenceOnly.length) parts.push(`<li>only in the reference: ${referenceOnly.map((c) => `<code>${esc(c)}</code>`).join(', ')}</li>`);
    if (currentOnly.length) parts.push(`<li>only in the current dataset: ${currentOnly.map((c) => `<code>${esc(c)}</code>`).join(', ')}</li>`);
    parts.push('</ul>');
  }

  const pol = report.policy;
  parts.push('<h2>Policy</h2><ul class="lines">');
  parts.push(
    `<li>thresholds: ${Object.entries(pol.thresholds)
      .map(([t, v]) => `${esc(t)} ${esc(fmtNum(v))}`)
      .join(', ')}</li>`,
  );
  parts.push(`<li>small-sample tests (KS, chi-square, z) up to ${pol.sampleSizeCutoff} reference values; dataset drift at a share of ${esc(pct(pol.datasetDriftShare))}</li>`);
  if (pol.stattest) parts.push(`<li>test for every column: ${esc(pol.stattest)}</li>`);
  if (pol.columnStattests) parts.push(`<li>tests per column: ${Object.entries(pol.columnStattests).map(([c, t]) => `<code>${esc(c)}</code> ${esc(t)}`).join(', ')}</li>`);
  if (pol.columnThresholds) parts.push(`<li>thresholds per column: ${Object.entries(pol.columnThresholds).map(([c, t]) => `<code>${esc(c)}</code> ${esc(fmtNum(t))}`).join(', ')}</li>`);
  parts.push('<li>values are cleaned first: ±inf become NaN, NaN and nulls are dropped on both sides</li></ul>');

  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(title)}</title><style>${CSS}</style></head>` +
    `<body><main>${parts.join('\n')}</main></body></html>\n`
  );
}
