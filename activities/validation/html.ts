import type { ExpectationResult } from './expectations';
import { boundsText, describeFailure, type ValidationReport } from './report';

/**
 * The report as one self-contained HTML page: inline CSS, bar charts drawn with CSS, no script,
 * no external asset (a Content-Security-Policy forbids them too). Every string that comes from
 * users or data (names, values, regexes) goes through esc().
 */

export function esc(x: unknown): string {
  const s = typeof x === 'string' ? x : x === undefined ? '' : JSON.stringify(x);
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const num = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? 'n/a' : Number.isInteger(x) ? String(x) : x.toFixed(digits));
const pct = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${x.toFixed(2)}%`);
const clamp = (x: number) => Math.max(0, Math.min(100, x));

function bar(percent: number | null | undefined, cls = ''): string {
  const w = percent === null || percent === undefined ? 0 : clamp(percent);
  return `<span class="bar ${cls}"><span style="width:${w.toFixed(2)}%"></span></span>`;
}

function status(ok: boolean, severity: string): string {
  if (ok) return '<span class="badge ok">passed</span>';
  return severity === 'warn' ? '<span class="badge warn">warning</span>' : '<span class="badge fail">failed</span>';
}

const CSS = `
:root{--ok:#1a7f37;--fail:#cf222e;--warn:#9a6700;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#fff}
main{max-width:1200px;margin:0 auto;padding:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}
h3{font-size:14px;margin:12px 0 6px}.muted{color:var(--muted)}code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}.ok{background:var(--ok)}.fail{background:var(--fail)}.warn{background:var(--warn)}
.big{font-size:15px;padding:3px 12px}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}.card{border:1px solid var(--line);border-radius:6px;padding:10px 14px;min-width:130px;background:var(--bg)}
.card strong{display:block;font-size:20px}table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border-bottom:1px solid var(--line);padding:5px 8px;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600}td.r,th.r{text-align:right}tr.failed td{background:#fff5f5}tr.warned td{background:#fff8e6}
.bar{display:inline-block;width:120px;height:10px;background:#eaeef2;border-radius:3px;vertical-align:middle;margin-right:6px;overflow:hidden}
.bar>span{display:block;height:100%;background:var(--fail)}.bar.ref>span{background:#8c959f}.bar.cur>span{background:#0969da}.bar.good>span{background:var(--ok)}
details{margin:2px 0}summary{cursor:pointer;color:#0969da}ul.lines{margin:6px 0;padding-left:20px}ul.lines li{margin:2px 0}.jump{color:var(--fail);font-weight:600}
`;

export function renderHtml(report: ValidationReport): string {
  const { suite, dataset, statistics: st } = report;
  const title = `Validation: ${suite.name} on ${dataset.name}@${dataset.version}`;
  const parts: string[] = [];
  parts.push(`<header><h1>${esc(title)}</h1>`);
  parts.push(
    `<p>${report.success ? '<span class="badge ok big">PASSED</span>' : '<span class="badge fail big">FAILED</span>'} ` +
      `<span class="muted">dataset <code>${esc(dataset.name)}</code> version ${dataset.version}, ${dataset.rows} rows, ` +
      `sha256 <code>${esc(dataset.sha256.slice(0, 12))}</code></span></p>`,
  );
  if (suite.description) parts.push(`<p>${esc(suite.description)}</p>`);
  parts.push('</header>');

  parts.push('<section class="cards">');
  for (const [label, value] of [
    ['evaluated', st.evaluated_expectations],
    ['successful', st.successful_expectations],
    ['unsuccessful', st.unsuccessful_expectations],
    ['success', pct(st.success_percent)],
    ['errors', report.failed.length],
    ['warnings', report.warnings.length],
  ] as const) {
    parts.push(`<div class="card"><span class="muted">${label}</span><strong>${esc(String(value))}</strong></div>`);
  }
  parts.push('</section>');

  if (report.failed.length) parts.push(`<h2>Errors</h2><ul class="lines">${report.failed.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`);
  if (report.warnings.length) parts.push(`<h2>Warnings</h2><ul class="lines">${report.warnings.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`);

  parts.push('<h2>Expectations</h2>');
  if (report.results.length === 0) parts.push('<p class="muted">This suite has no expectations.</p>');
  else {
    parts.push('<table><thead><tr><th>status</th><th>severity</th><th>expectation</th><th>arguments</th><th>observed</th></tr></thead><tbody>');
    for (const r of report.results) parts.push(resultRow(r));
    parts.push('</tbody></table>');
  }

  if (report.comparison) parts.push(comparisonSection(report.comparison));

  parts.push('<h2>Columns</h2><table><thead><tr><th>column</th><th>type</th></tr></thead><tbody>');
  for (const c of dataset.columns) parts.push(`<tr><td><code>${esc(c.name)}</code></td><td>${esc(c.type)}</td></tr>`);
  parts.push('</tbody></table>');

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body><main>
${parts.join('\n')}
<footer class="muted"><p>${esc(report.format)}</p></footer>
</main></body>
</html>
`;
}

function args(r: ExpectationResult): string {
  const { type: _t, severity: _s, name: _n, ...rest } = r.expectation as Record<string, unknown>;
  return Object.entries(rest)
    .filter(([, v]) => v !== undefined && v !== false)
    .map(([k, v]) => `<div><span class="muted">${esc(k)}</span> <code>${esc(typeof v === 'string' ? JSON.stringify(v) : v)}</code></div>`)
    .join('');
}

function observed(r: ExpectationResult): string {
  if (r.exception_info) return `<span class="jump">${esc(r.exception_info.exception_message)}</span>`;
  const res = r.result;
  if (res.unexpected_count !== undefined) {
    const considered = (res.element_count ?? 0) - (res.missing_count ?? 0);
    let html = `${bar(res.unexpected_percent)}${res.unexpected_count} unexpected of ${considered} (${pct(res.unexpected_percent)})`;
    if (res.missing_count !== undefined) html += `<div class="muted">${res.missing_count} missing (${pct(res.missing_percent)})</div>`;
    return html;
  }
  if (r.expectation.type === 'quantilesBetween') {
    const obs = res.observed_value as { quantiles: number[]; values: (number | null)[] };
    return obs.quantiles.map((q, i) => `<div>q${esc(String(q))} = <code>${esc(num(obs.values[i]))}</code> in ${esc(boundsText(r.expectation.type === 'quantilesBetween' ? r.expectation.ranges[i]! : {}))}</div>`).join('');
  }
  if ('observed_value' in res) return `<code>${esc(typeof res.observed_value === 'number' ? num(res.observed_value, 4) : res.observed_value)}</code>`;
  return r.success ? '' : esc(describeFailure(r));
}

function resultRow(r: ExpectationResult): string {
  const cls = r.success ? '' : r.severity === 'warn' ? ' class="warned"' : ' class="failed"';
  let row = `<tr${cls}><td>${status(r.success, r.severity)}</td><td>${esc(r.severity)}</td><td><code>${esc(r.id)}</code></td><td>${args(r)}</td><td>${observed(r)}`;
  const res = r.result;
  if (res.partial_unexpected_list?.length) {
    row += `<details><summary>unexpected values (first ${res.partial_unexpected_list.length})</summary>`;
    row += '<table><thead><tr><th class="r">row</th><th>value</th></tr></thead><tbody>';
    res.partial_unexpected_list.forEach((v, i) => {
      row += `<tr><td class="r mono">${res.partial_unexpected_index_list?.[i] ?? ''}</td><td class="mono">${esc(v === null ? 'null' : v)}</td></tr>`;
    });
    row += '</tbody></table>';
    if (res.partial_unexpected_counts?.length) {
      const max = Math.max(...res.partial_unexpected_counts.map((c) => c.count));
      row += '<h3>most frequent</h3><table><tbody>';
      for (const c of res.partial_unexpected_counts) {
        row += `<tr><td class="mono">${esc(c.value === null ? 'null' : c.value)}</td><td>${bar((c.count / max) * 100)}${c.count}</td></tr>`;
      }
      row += '</tbody></table>';
    }
    row += '</details>';
  }
  return `${row}</td></tr>`;
}

function comparisonSection(c: NonNullable<ValidationReport['comparison']>): string {
  const parts: string[] = [];
  parts.push(
    `<h2>Comparison with ${esc(c.reference.name)}@${c.reference.version}</h2>` +
      `<p class="muted">reference: ${c.reference.rows} rows; findings count as ${esc(c.severity)}s; null-rate jump threshold +${esc(num(c.null_rate_threshold * 100))} points</p>`,
  );
  if (c.findings.length === 0) parts.push('<p><span class="badge ok">no change found</span></p>');
  else parts.push(`<ul class="lines">${c.findings.map((f) => `<li>${esc(f.message)}</li>`).join('')}</ul>`);

  const { added, removed, type_changed } = c.schema;
  if (added.length + removed.length + type_changed.length) {
    parts.push('<h3>Schema changes</h3><table><thead><tr><th>column</th><th>change</th><th>reference</th><th>current</th></tr></thead><tbody>');
    for (const a of added) parts.push(`<tr><td><code>${esc(a.column)}</code></td><td>added</td><td></td><td>${esc(a.type)}</td></tr>`);
    for (const r of removed) parts.push(`<tr><td><code>${esc(r.column)}</code></td><td>removed</td><td>${esc(r.type)}</td><td></td></tr>`);
    for (const t of type_changed) parts.push(`<tr><td><code>${esc(t.column)}</code></td><td>type changed</td><td>${esc(t.reference)}</td><td>${esc(t.current)}</td></tr>`);
    parts.push('</tbody></table>');
  }
  if (c.new_categories.length) {
    parts.push('<h3>New categories</h3><table><thead><tr><th>column</th><th class="r">new values</th><th class="r">rows</th><th>most frequent</th></tr></thead><tbody>');
    for (const n of c.new_categories) {
      const sample = n.sample.map((s) => `<code>${esc(s.value)}</code> ×${s.count}`).join(', ');
      parts.push(`<tr><td><code>${esc(n.column)}</code></td><td class="r">${n.distinct_count}</td><td class="r">${n.row_count}</td><td>${sample}</td></tr>`);
    }
    parts.push('</tbody></table>');
  }
  if (c.null_rates.length) {
    parts.push('<h3>Null rates</h3><table><thead><tr><th>column</th><th>reference</th><th>current</th><th class="r">change</th></tr></thead><tbody>');
    for (const r of c.null_rates) {
      const p = (x: number | null) => (x === null ? null : x * 100);
      const delta = r.delta === null ? 'n/a' : `${r.delta >= 0 ? '+' : ''}${(r.delta * 100).toFixed(1)} pts`;
      parts.push(
        `<tr><td><code>${esc(r.column)}</code></td><td>${bar(p(r.reference), 'ref')}${pct(p(r.reference))}</td>` +
          `<td>${bar(p(r.current), 'cur')}${pct(p(r.current))}</td><td class="r${r.jump ? ' jump' : ''}">${delta}</td></tr>`,
      );
    }
    parts.push('</tbody></table>');
  }
  return parts.join('\n');
}
