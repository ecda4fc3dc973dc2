import { html, jsonScript, type Html, type Interpolation } from './html';

/** The console's sections, in the order of its navigation bar. */
export const SECTIONS = [
  ['pipelines', 'Pipelines'],
  ['runs', 'Runs'],
  ['models', 'Models'],
  ['datasets', 'Datasets'],
  ['monitoring', 'Monitoring'],
  ['reports', 'Reports'],
  ['rollouts', 'Rollouts'],
] as const;
export type Section = (typeof SECTIONS)[number][0];

export interface PageOptions {
  title: string;
  section?: Section;
  /** Pages with charts load ECharts; the console's own script always loads (it starts charts and polling). */
  charts?: boolean;
}

/**
 * The page shell: navigation, one <main>, and the scripts. Scripts are files (never inline), so
 * the Content-Security-Policy can forbid inline script; page data travels as JSON blocks.
 */
export function page(o: PageOptions, body: Interpolation): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · Sluice</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/console/console.css">
${o.charts ? html`<script src="/static/echarts/echarts.min.js" defer></script>` : ''}
<script src="/static/console/console.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/">Sluice</a>
  <nav aria-label="Sections"><ul>
    ${SECTIONS.map(([id, label]) => html`<li><a href="/${id}"${o.section === id ? html` aria-current="page"` : ''}>${label}</a></li>`)}
  </ul></nav>
</header>
<main id="main">
<h1>${o.title}</h1>
${body}
</main>
</body>
</html>`;
}

export function statusBadge(status: string): Html {
  return html`<span class="badge s-${status.replace(/[^a-z_]/g, '')}">${status}</span>`;
}

/** A table, or a line saying there is nothing. */
export function table(head: readonly string[], rows: readonly Interpolation[][], empty: Interpolation = 'nothing yet', caption?: string): Html {
  if (!rows.length) return html`<p class="muted">${empty}</p>`;
  return html`<div class="scroll"><table>${caption ? html`<caption>${caption}</caption>` : ''}
<thead><tr>${head.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead>
<tbody>${rows.map((r) => html`<tr>${r.map((c) => html`<td>${c}</td>`)}</tr>`)}</tbody></table></div>`;
}

/** Definition list of label → value pairs. */
export function facts(pairs: readonly [string, Interpolation][]): Html {
  return html`<dl class="facts">${pairs.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>`;
}

/**
 * A chart: a <div> the console script fills with ECharts from the option in the JSON block
 * beside it. Options are plain JSON (no functions), so the server builds them and the browser
 * only draws. `label` is the chart's accessible name.
 */
export function chart(id: string, label: string, option: unknown, opts: { height?: number } = {}): Html {
  return html`<figure class="chart-box"><div class="chart" id="${id}" role="img" aria-label="${label}" data-chart="${id}-option" style="height:${opts.height ?? 280}px"></div>
${jsonScript(`${id}-option`, option)}</figure>`;
}
