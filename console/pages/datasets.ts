import type { FastifyInstance } from 'fastify';
import { getDatasetVersion, listDatasets, listDatasetVersions } from '../../infra/db/datasets';
import { listValidationReports } from '../../infra/db/validation';
import type { ColumnProfile, DatasetProfile } from '../../pipelines/steps/profile';
import type { ConsoleDeps } from '../deps';
import { html, num, query, time } from '../html';
import { chart, facts, page, statusBadge, table } from '../layout';
import { positiveInt, sendPage } from '../respond';

/** Datasets: names, versions, a version's schema, its profile as charts, and its validation results. */

/** Charts are drawn for this many columns at most; the profile table lists them all. */
const MAX_COLUMN_CHARTS = 24;

const reportLink = (uri: string) => `/reports/view${query({ uri })}`;

function columnChart(i: number, c: ColumnProfile) {
  if (c.numeric) {
    const { edges, counts } = c.numeric.histogram;
    return chart(`col-${i}`, `Histogram of ${c.name}`, {
      animation: false,
      title: { text: c.name, textStyle: { fontSize: 13 } },
      grid: { left: 50, right: 10, top: 30, bottom: 40 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: counts.map((_, k) => `${num(edges[k])}–${num(edges[k + 1])}`), axisLabel: { hideOverlap: true } },
      yAxis: { type: 'value', name: 'rows' },
      series: [{ type: 'bar', barCategoryGap: '5%', data: counts }],
    }, { height: 220 });
  }
  if (c.top?.length) {
    const top = [...c.top].reverse();
    return chart(`col-${i}`, `Top categories of ${c.name}`, {
      animation: false,
      title: { text: c.name, textStyle: { fontSize: 13 } },
      grid: { left: 110, right: 10, top: 30, bottom: 30 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'value', name: 'rows' },
      yAxis: { type: 'category', data: top.map((t) => t.value) },
      series: [{ type: 'bar', data: top.map((t) => t.count) }],
    }, { height: 220 });
  }
  return '';
}

export function registerDatasetPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/datasets', async (_req, reply) => {
    const rows = await listDatasets(deps.db);
    return sendPage(reply, page({ title: 'Datasets', section: 'datasets' }, table(['Dataset', 'Versions', 'Latest', 'Updated'], rows.map((d) => [
      html`<a href="/datasets/${encodeURIComponent(d.name)}">${d.name}</a>`, d.versions,
      d.latestVersion ? html`<a href="/datasets/${encodeURIComponent(d.name)}/${d.latestVersion}">v${d.latestVersion}</a>` : '—', time(d.latestCreatedAt),
    ]), 'no datasets')));
  });

  app.get<{ Params: { name: string } }>('/datasets/:name', async (req, reply) => {
    const { name } = req.params;
    const [versions, reports] = await Promise.all([listDatasetVersions(deps.db, name), listValidationReports(deps.db, { dataset: name, limit: 50 })]);
    return sendPage(reply, page({ title: `Dataset ${name}`, section: 'datasets' }, html`
<h2>Versions</h2>
${table(['Version', 'Created', 'Rows', 'Bad rows', 'Columns', 'Run'], versions.map((v) => [
  html`<a href="/datasets/${encodeURIComponent(name)}/${v.version}">v${v.version}</a>`, time(v.createdAt), v.rows, v.badRows, v.schema.length,
  v.runId ? html`<a href="/runs/${encodeURIComponent(v.runId)}">run</a>` : '',
]), 'no versions')}
<h2>Validation results</h2>
${validationTable(reports)}`));
  });

  app.get<{ Params: { name: string; version: string } }>('/datasets/:name/:version', async (req, reply) => {
    const { name } = req.params;
    const version = positiveInt(req.params.version);
    const v = version ? await getDatasetVersion(deps.db, name, version) : undefined;
    if (!v) return sendPage(reply, page({ title: 'Dataset version not found', section: 'datasets' }, html`<p>No version ${req.params.version} of dataset <code>${name}</code>.</p>`), 404);
    const profile = v.profile as DatasetProfile | null;
    const columns = profile?.columns ?? [];
    const reports = await listValidationReports(deps.db, { dataset: name, version: v.version, limit: 20 });
    return sendPage(reply, page({ title: `${name} v${v.version}`, section: 'datasets', charts: true }, html`
${facts([
  ['dataset', html`<a href="/datasets/${encodeURIComponent(name)}">${name}</a>`], ['rows', v.rows], ['bad rows', v.badRows], ['size', `${v.sizeBytes} bytes`],
  ['created', time(v.createdAt)], ['run', v.runId ? html`<a href="/runs/${encodeURIComponent(v.runId)}">${v.runId}</a>` : '—'],
  ['artifact', html`<a href="/lineage${query({ kind: 'artifact', id: v.uri })}">${v.uri}</a>`],
  ['quarantine', v.quarantineUri ? html`<a href="/artifacts${query({ uri: v.quarantineUri })}">${v.quarantineUri}</a>` : '—'],
])}
<h2>Schema</h2>
${table(['Column', 'Type', 'Nullable'], v.schema.map((c) => [c.name, c.type, c.nullable ? 'yes' : 'no']))}
<h2>Profile</h2>
${columns.length ? html`
${chart('nulls', `Null fraction per column of ${name} v${v.version}`, {
  animation: false,
  grid: { left: 50, right: 10, top: 20, bottom: 60 },
  tooltip: { trigger: 'axis' },
  xAxis: { type: 'category', data: columns.map((c) => c.name), axisLabel: { rotate: 30 } },
  yAxis: { type: 'value', name: 'null fraction', min: 0, max: 1 },
  series: [{ type: 'bar', data: columns.map((c) => c.nullFraction) }],
}, { height: 220 })}
<div class="grid">${columns.slice(0, MAX_COLUMN_CHARTS).map((c, i) => columnChart(i, c))}</div>
${table(['Column', 'Type', 'Nulls', 'Distinct', 'Min', 'Mean', 'Std', 'Median', 'Max'], columns.map((c) => [
  c.name, c.type, c.nulls, c.distinct,
  c.numeric ? num(c.numeric.min) : c.temporal?.min ?? '', c.numeric ? num(c.numeric.mean) : '', c.numeric ? num(c.numeric.std) : '',
  c.numeric ? num(c.numeric.quantiles.p50) : '', c.numeric ? num(c.numeric.max) : c.temporal?.max ?? '',
]))}` : html`<p class="muted">no profile recorded</p>`}
<h2>Validation results</h2>
${validationTable(reports)}`));
  });
}

function validationTable(reports: Awaited<ReturnType<typeof listValidationReports>>) {
  return table(['When', 'Version', 'Suite', 'Result', 'Statistics', 'Report', 'Run'], reports.map((r) => [
    time(r.created_at), `v${r.dataset_version}`, r.suite_name, statusBadge(r.success ? 'succeeded' : 'failed'),
    Object.entries(r.statistics).filter(([, x]) => typeof x === 'number').map(([k, x]) => `${k} ${num(x)}`).join(', '),
    html`<a href="${reportLink(r.html_uri)}">HTML</a> · <a href="${reportLink(r.report_uri)}">JSON</a>`,
    html`<a href="/runs/${encodeURIComponent(r.run_id)}">run</a>`,
  ]), 'no validation results');
}
