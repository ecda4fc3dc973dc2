import type { FastifyInstance } from 'fastify';
import { driftSeries, listMonitorDecisions, monitoredModels, performanceSeries } from '../../infra/db/console-queries';
import type { ConsoleDeps } from '../deps';
import { csrfField, notice } from '../forms';
import { html, num, query, time } from '../html';
import { chart, page, statusBadge, table } from '../layout';
import { sendPage, within, type Flash } from '../respond';

/** Monitoring: per model, drift per column over time (one point per scored window), the share of drifted columns, and the monitor's decisions. */

const MAX_COLUMNS = 30;
/** Windows listed in the table (the charts show every window read). */
const WINDOW_ROWS = 50;

export function registerMonitoringPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/monitoring', async (_req, reply) => {
    const rows = await monitoredModels(deps.db);
    return sendPage(reply, page({ title: 'Monitoring', section: 'monitoring' }, table(['Model', 'Drift checks', 'Last check', 'Drifted share', 'Dataset drift'], rows.map((m) => [
      html`<a href="/monitoring/${encodeURIComponent(m.model)}">${m.model}</a>`, m.checks, time(m.last_checked), num(m.last_share), statusBadge(m.last_drift ? 'failed' : 'succeeded'),
    ]), 'no drift checks recorded (a drift monitor records one per scored batch)')));
  });

  app.get<{ Params: { model: string }; Querystring: Flash }>('/monitoring/:model', async (req, reply) => {
    const { model } = req.params;
    const [points, decisions, status, perf] = await Promise.all([
      driftSeries(deps.db, model),
      listMonitorDecisions(deps.db, model),
      within(deps.actions.monitorStatus?.(model)),
      performanceSeries(deps.db, model),
    ]);
    const perfMetrics = [...new Set(perf.map((p) => p.metric))];
    const minValue = [...perf].reverse().find((p) => p.min_value !== null)?.min_value;
    const windows = points.map((p) => p.checked_at.toISOString());
    const columns = [...new Set(points.flatMap((p) => Object.keys(p.columns ?? {})))].sort().slice(0, MAX_COLUMNS);
    const policy = (status as { policy?: unknown } | undefined)?.policy;
    const base = { animation: false, grid: { left: 55, right: 20, top: 36, bottom: 30 }, tooltip: { trigger: 'axis' } };
    return sendPage(reply, page({ title: `Monitoring ${model}`, section: 'monitoring', charts: true }, html`
${notice(req.query)}
<p><a href="/models/${encodeURIComponent(model)}">model ${model}</a> · ${points.length} drift checks</p>
<form method="post" action="/monitoring/${encodeURIComponent(model)}/retrain" class="inline-form" aria-label="Retrain">
  ${csrfField(reply.generateCsrf())}
  <label for="retrain-reason">Reason</label><input id="retrain-reason" name="reason" required size="30">
  <button type="submit">Retrain now</button>
</form>
${points.length ? html`
<h2>Share of drifted columns</h2>
${chart('drift-share', `Share of drifted columns of ${model} per window`, {
  ...base,
  xAxis: { type: 'time' },
  yAxis: { type: 'value', min: 0, max: 1 },
  series: [{ type: 'line', name: 'drifted share', showSymbol: true, data: points.map((p) => [p.checked_at.toISOString(), p.share]) }],
}, { height: 220 })}
<h2>Drift per column</h2>
<p class="hint">One point per scored window; the dashed line is the column's threshold (a p-value for KS, chi-square and z: drift below it; a distance otherwise: drift above it).</p>
<div class="grid">${columns.map((c, i) => {
  const last = [...points].reverse().find((p) => p.columns[c])?.columns[c];
  const pvalue = last?.test === 'ks' || last?.test === 'chisquare' || last?.test === 'z';
  const value = (p: (typeof points)[number]) => {
    const r = p.columns[c];
    if (!r) return null;
    return pvalue ? r.pValue ?? null : r.statistic;
  };
  return chart(`drift-col-${i}`, `Drift of column ${c} per window`, {
    ...base,
    title: { text: `${c}${last?.test ? ` (${last.test}${pvalue ? ' p-value' : ''})` : ''}`, textStyle: { fontSize: 13 } },
    xAxis: { type: 'time' },
    yAxis: { type: 'value', scale: true },
    series: [{
      type: 'line', name: c, showSymbol: true, connectNulls: false,
      data: points.map((p) => [p.checked_at.toISOString(), value(p)]),
      ...(typeof last?.threshold === 'number' ? { markLine: { symbol: 'none', silent: true, lineStyle: { type: 'dashed', color: '#c0392b' }, label: { formatter: 'threshold' }, data: [{ yAxis: last.threshold }] } } : {}),
    }],
  }, { height: 220 });
})}</div>
<h2>Windows</h2>
${points.length > WINDOW_ROWS ? html`<p class="hint">The latest ${WINDOW_ROWS} of ${points.length} (all of them in the charts); every report is on the <a href="/reports">reports page</a>.</p>` : ''}
${table(['Checked', 'Batch', 'Dataset', 'Drifted share', 'Dataset drift', 'Drifted columns', 'Report'], [...points].reverse().slice(0, WINDOW_ROWS).map((p) => [
  time(p.checked_at), p.batch_id, `${p.dataset_name}@${p.dataset_version}`, num(p.share), statusBadge(p.dataset_drift ? 'failed' : 'succeeded'), p.drifted.join(', '),
  html`<a href="/reports/view${query({ uri: p.html_uri })}">report</a>`,
]))}` : html`<p class="muted">no drift checks recorded for ${model}</p>`}
<h2>Performance</h2>
${perf.length ? chart('performance', `Task metric of ${model} per labelled window`, {
  ...base,
  legend: { top: 0 },
  xAxis: { type: 'time' },
  yAxis: { type: 'value', scale: true },
  series: perfMetrics.map((m, k) => ({
    type: 'line', name: m, showSymbol: true,
    data: perf.filter((p) => p.metric === m).map((p) => [p.decided_at.toISOString(), p.value]),
    ...(k === 0 && typeof minValue === 'number' ? { markLine: { symbol: 'none', silent: true, lineStyle: { type: 'dashed', color: '#c0392b' }, label: { formatter: 'minimum' }, data: [{ yAxis: minValue }] } } : {}),
  })),
}, { height: 220 }) : html`<p class="muted">no labelled window yet (<code>sluice monitor labels ${model} …</code> joins outcomes with the scored rows)</p>`}
<h2>Decisions</h2>
${table(['When', 'Kind', 'Reason', 'Numbers'], decisions.map((d) => [time(d.decided_at), d.kind, d.reason, d.numbers ? JSON.stringify(d.numbers) : '']), 'no decisions')}
<h2>Policy</h2>
${policy ? html`<pre tabindex="0" class="json">${JSON.stringify(policy, null, 2)}</pre>` : html`<p class="muted">no running monitor answered (its policy is shown while it runs)</p>`}`));
  });

  app.post<{ Params: { model: string }; Body: { reason?: string } }>('/monitoring/:model/retrain', { preHandler: app.csrfProtection }, async (req, reply) => {
    const { model } = req.params;
    const back = `/monitoring/${encodeURIComponent(model)}`;
    const reason = (req.body?.reason ?? '').trim();
    try {
      if (!reason) throw new Error('a retrain needs a reason (recorded with the decision)');
      if (!deps.actions.retrain) throw new Error(`this console cannot retrain (use \`sluice retrain ${model}\`)`);
      // `sluice retrain`'s own path: the signal, then the monitor's decision on it (which may be "not started: why").
      const outcome = await deps.actions.retrain(model, { reason, by: req.user ?? deps.defaultActor });
      return reply.redirect(`${back}${query(outcome.kind === 'not-started' ? { error: outcome.message } : { done: outcome.message })}`, 303);
    } catch (e) {
      return reply.redirect(`${back}${query({ error: (e as Error).message })}`, 303);
    }
  });
}
