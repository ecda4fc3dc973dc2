import type { FastifyInstance } from 'fastify';
import { listRunsPage, runInputArtifacts, runNodeSummary, runPipelineNames, runProblems, type NodeStatusCount } from '../../infra/db/console-queries';
import { findRun, listStepArtifacts, type RunDetailRow } from '../../infra/db/runs';
import type { PipelineSpec } from '../../pipelines/dsl/spec';
import { renderDag, type DagNodeState } from '../dag';
import type { ConsoleDeps } from '../deps';
import { csrfField, notice } from '../forms';
import { duration, html, jsonScript, query, time } from '../html';
import { chart, facts, page, statusBadge, table } from '../layout';
import { mergeLiveState, nodeStatesFromRows, statePayload } from '../run-state';
import { sendPage, positiveInt, within, type Flash } from '../respond';

const RUN_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'];
const PAGE_SIZE = 50;

const artifactLink = (uri: string) => `/artifacts${query({ uri })}`;
const lineageLink = (kind: string, id: string) => `/lineage${query({ kind, id })}`;

function day(s: string | undefined): Date | undefined {
  if (!s || !/^\d{4}-\d{2}-\d{2}$/.test(s)) return undefined;
  const d = new Date(`${s}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The spec a run is drawn with: the catalogue's, when it is the version the run started with (or the only one there is). */
function specOf(deps: ConsoleDeps, run: RunDetailRow): { spec: PipelineSpec | undefined; sameVersion: boolean } {
  const spec = deps.catalogue.specs.get(run.pipeline_name);
  return { spec, sameVersion: spec?.version === run.pipeline_version };
}

/**
 * Node summaries of ended runs, which no longer change: a run with a 100,000-item fan-out is summed
 * once, not on every view. Bounded; the oldest entry goes first.
 */
const endedSummaries = new Map<string, NodeStatusCount[]>();
const MAX_ENDED_SUMMARIES = 200;

async function nodeSummary(deps: ConsoleDeps, run: RunDetailRow): Promise<NodeStatusCount[]> {
  if (run.status === 'running') return runNodeSummary(deps.db, run.run_id);
  const key = `${run.run_id}@${run.ended_at?.toISOString() ?? ''}`;
  let rows = endedSummaries.get(key);
  if (!rows) {
    rows = await runNodeSummary(deps.db, run.run_id);
    if (endedSummaries.size >= MAX_ENDED_SUMMARIES) endedSummaries.delete(endedSummaries.keys().next().value!);
    endedSummaries.set(key, rows);
  }
  return rows;
}

async function liveStates(deps: ConsoleDeps, run: RunDetailRow) {
  const rows = await nodeSummary(deps, run);
  const live = run.status === 'running' ? await within(deps.actions.runState?.(run.workflow_id, run.run_id)) : undefined;
  return { rows, live, states: mergeLiveState(nodeStatesFromRows(rows), live) };
}

export function registerRunPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get<{ Querystring: Flash & { pipeline?: string; status?: string; since?: string; until?: string; page?: string } }>('/runs', async (req, reply) => {
    const q = req.query;
    const pageNo = positiveInt(q.page) ?? 1;
    const status = q.status && RUN_STATUSES.includes(q.status) ? q.status : undefined;
    const filter = { pipeline: q.pipeline || undefined, status, since: day(q.since), until: day(q.until) };
    const [{ rows, more }, names] = await Promise.all([listRunsPage(deps.db, filter, { limit: PAGE_SIZE, offset: (pageNo - 1) * PAGE_SIZE }), runPipelineNames(deps.db)]);
    const keep = { pipeline: filter.pipeline, status, since: q.since, until: q.until };
    return sendPage(reply, page({ title: 'Runs', section: 'runs' }, html`
${notice(q)}
<form method="get" action="/runs" class="filters" aria-label="Filter runs">
  <label for="f-pipeline">Pipeline</label>
  <select id="f-pipeline" name="pipeline"><option value="">all</option>${names.map((n) => html`<option${n === filter.pipeline ? html` selected` : ''}>${n}</option>`)}</select>
  <label for="f-status">Status</label>
  <select id="f-status" name="status"><option value="">all</option>${RUN_STATUSES.map((s) => html`<option${s === status ? html` selected` : ''}>${s}</option>`)}</select>
  <label for="f-since">From</label><input id="f-since" type="date" name="since" value="${q.since ?? ''}">
  <label for="f-until">Before</label><input id="f-until" type="date" name="until" value="${q.until ?? ''}">
  <button type="submit">Filter</button>
</form>
${table(['Workflow', 'Pipeline', 'Status', 'Started', 'Duration', 'Error'], rows.map((r) => [
  html`<a href="/runs/${encodeURIComponent(r.run_id)}">${r.workflow_id}</a>`,
  html`<a href="/pipelines/${r.pipeline_name}">${r.pipeline_name}</a>`,
  statusBadge(r.status),
  time(r.started_at),
  duration((r.ended_at ?? new Date()).getTime() - r.started_at.getTime()),
  html`<span class="clip">${r.error ?? ''}</span>`,
]), 'no runs match')}
<nav class="pager" aria-label="Pages">
  ${pageNo > 1 ? html`<a href="/runs${query({ ...keep, page: pageNo - 1 })}" rel="prev">← newer</a>` : ''}
  <span>page ${pageNo}</span>
  ${more ? html`<a href="/runs${query({ ...keep, page: pageNo + 1 })}" rel="next">older →</a>` : ''}
</nav>`));
  });

  app.get<{ Params: { id: string }; Querystring: Flash }>('/runs/:id', async (req, reply) => {
    const run = await findRun(deps.db, req.params.id);
    if (!run) return sendPage(reply, page({ title: 'Run not found', section: 'runs' }, html`<p>No run recorded as <code>${req.params.id}</code> (a run is recorded once it starts running).</p>`), 404);
    const { spec, sameVersion } = specOf(deps, run);
    const [{ rows, live, states }, problems, artifacts, inputs] = await Promise.all([liveStates(deps, run), runProblems(deps.db, run.run_id), listStepArtifacts(deps.db, run.run_id), runInputArtifacts(deps.db, run.run_id)]);
    const payload = statePayload(spec, run.status, states);
    const drawn: Record<string, DagNodeState> = Object.fromEntries(Object.entries(payload.nodes).map(([id, n]) => [id, { status: n.status, ...(states[id]?.items ? { items: states[id]!.items } : {}) }]));
    const t0 = run.started_at.getTime();
    // The Gantt: one bar per node (a fan-out's items as one bar, first start to last end), drawn
    // as a stacked horizontal bar whose first, invisible part is the offset from the run's start.
    const bars = new Map<string, { start: number; end: number; status: string }>();
    for (const r of rows) {
      const b = bars.get(r.node);
      const end = (r.last_ended ?? new Date()).getTime();
      if (!b) bars.set(r.node, { start: r.first_started.getTime(), end, status: states[r.node]?.status ?? r.status });
      else bars.set(r.node, { start: Math.min(b.start, r.first_started.getTime()), end: Math.max(b.end, end), status: b.status });
    }
    const gantt = [...bars.entries()].sort((a, b) => b[1].start - a[1].start);
    const awaiting = Object.entries(live?.nodes ?? {}).filter(([, n]) => n.awaiting === 'approval').map(([id]) => id);
    const temporal = deps.temporalUi ? `${deps.temporalUi.url}/namespaces/${encodeURIComponent(deps.temporalUi.namespace)}/workflows/${encodeURIComponent(run.workflow_id)}/${encodeURIComponent(run.run_id)}/history` : undefined;
    const csrf = awaiting.length ? reply.generateCsrf() : '';
    return sendPage(reply, page({ title: `Run ${run.workflow_id}`, section: 'runs', charts: true }, html`
${notice(req.query)}
${facts([
  ['pipeline', html`<a href="/pipelines/${run.pipeline_name}">${run.pipeline_name}</a> <code>${run.pipeline_version}</code>`],
  ['status', html`<span id="run-status">${statusBadge(run.status)}</span>`],
  ['run id', html`<code>${run.run_id}</code>`],
  ['started', time(run.started_at)],
  ['ended', time(run.ended_at)],
  ['duration', duration((run.ended_at ?? new Date()).getTime() - t0)],
  ['Temporal', temporal ? html`<a href="${temporal}">open the workflow in the Temporal UI</a>` : html`<span class="muted">Temporal UI not configured</span>`],
])}
${run.error ? html`<h2>Error</h2><pre tabindex="0" class="error">${run.error}</pre>` : ''}
${awaiting.length ? html`<h2>Waiting for approval</h2>${awaiting.map((node) => html`
<form method="post" action="/runs/${encodeURIComponent(run.run_id)}/approve" class="inline-form" aria-label="Decide ${node}">
  ${csrfField(csrf)}<input type="hidden" name="node" value="${node}">
  <strong>${node}</strong>
  <label for="reason-${node}">Reason</label><input id="reason-${node}" name="reason" required>
  <button name="decision" value="approve">Approve</button> <button name="decision" value="reject">Reject</button>
</form>`)}` : ''}
<h2>DAG</h2>
${spec ? html`${sameVersion ? '' : html`<p class="hint">Drawn with the pipeline's current definition (<code>${spec.version}</code>); this run started with <code>${run.pipeline_version}</code>.</p>`}
<div tabindex="0" class="dag-box" id="run-dag" data-state-url="/runs/${encodeURIComponent(run.run_id)}/state.json" data-poll-ms="${deps.pollMs ?? 2000}" data-final="${payload.final ? 'true' : 'false'}">${renderDag(spec, drawn)}</div>
<p class="legend">${['pending', 'running', 'succeeded', 'cached', 'failed', 'skipped', 'awaiting'].map((s) => html`<span class="badge s-${s}">${s}</span> `)}</p>` : html`<p class="muted">Pipeline ${run.pipeline_name} is not in this console's catalogue.</p>`}
<h2>Timeline</h2>
${gantt.length ? chart('gantt', `Step timeline of ${run.workflow_id}`, {
  animation: false,
  grid: { left: 160, right: 24, top: 10, bottom: 30 },
  tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
  xAxis: { type: 'value', name: 's', min: 0 },
  yAxis: { type: 'category', data: gantt.map(([n]) => n) },
  series: [
    { type: 'bar', stack: 't', name: 'offset', silent: true, itemStyle: { color: 'transparent' }, data: gantt.map(([, b]) => +((b.start - t0) / 1000).toFixed(3)) },
    { type: 'bar', stack: 't', name: 'seconds', data: gantt.map(([, b]) => ({ value: +((b.end - b.start) / 1000).toFixed(3), itemStyle: { color: STATUS_COLOURS[b.status] ?? '#777' } })) },
  ],
}, { height: Math.max(120, 26 * gantt.length + 50) }) : html`<p class="muted">no step has started</p>`}
<h2>Attempts and errors</h2>
${table(['Node', 'Status', 'Attempt', 'Started', 'Ended', 'Error'], problems.map((p) => [html`<code>${p.node_id}</code>`, statusBadge(p.status), p.attempt, time(p.started_at), time(p.ended_at), html`<pre tabindex="0" class="error small">${p.error ?? ''}</pre>`]), 'every step succeeded on its first attempt')}
<h2>Nodes</h2>
${table(['Node', 'Step', 'Queue', 'Status', 'Count', 'Max attempt', 'First start', 'Last end'], rows.map((r) => [html`<code>${r.node}</code>`, r.step ?? '', r.queue, statusBadge(r.status), r.fanout ? r.count : '', r.max_attempt, time(r.first_started), time(r.last_ended)]), 'no node has run yet')}
<h2>Input artifacts</h2>
${table(['Node', 'Artifact', 'Lineage'], inputs.map((a) => [html`<code>${a.to_id.slice(run.run_id.length + 1)}</code>`, html`<a href="${artifactLink(a.from_id)}">${a.from_id}</a>`, html`<a href="${lineageLink('artifact', a.from_id)}">made by</a>`]), 'no input artifacts recorded')}
<h2>Output artifacts</h2>
${table(['Node', 'Relation', 'Artifact', 'Lineage'], artifacts.slice(0, 500).map((a) => [html`<code>${a.from_id.slice(run.run_id.length + 1)}</code>`, a.relation, html`<a href="${artifactLink(a.to_id)}">${a.to_id}</a>`, html`<a href="${lineageLink('artifact', a.to_id)}">lineage</a>`]), 'no artifacts recorded')}
${artifacts.length > 500 ? html`<p class="hint">${artifacts.length - 500} more not shown.</p>` : ''}
<h2>Params</h2>
<pre tabindex="0" class="json">${JSON.stringify(run.params, null, 2)}</pre>
${jsonScript('run-state', payload)}`));
  });

  app.get<{ Params: { id: string } }>('/runs/:id/state.json', async (req, reply) => {
    const run = await findRun(deps.db, req.params.id);
    if (!run) return reply.code(404).send({ error: 'no such run' });
    const { spec } = specOf(deps, run);
    const started = performance.now();
    const { states } = await liveStates(deps, run);
    // A run so large that summing it takes a while is polled less often: at most ~10% of the server's time.
    const nextPollMs = Math.max(deps.pollMs ?? 2000, Math.round((performance.now() - started) * 10));
    return reply.header('Cache-Control', 'no-store').send({ ...statePayload(spec, run.status, states), nextPollMs });
  });

  app.post<{ Params: { id: string }; Body: { node?: string; decision?: string; reason?: string } }>('/runs/:id/approve', { preHandler: app.csrfProtection }, async (req, reply) => {
    const run = await findRun(deps.db, req.params.id);
    const back = `/runs/${encodeURIComponent(req.params.id)}`;
    if (!run) return reply.code(404).send({ error: 'no such run' });
    const { node = '', decision, reason = '' } = req.body ?? {};
    try {
      if (decision !== 'approve' && decision !== 'reject') throw new Error('decision must be approve or reject');
      const r = await deps.actions.approve(run.workflow_id, { node, decision, reason, by: req.user ?? deps.defaultActor });
      return reply.redirect(`${back}${query({ done: `${node}: ${r.approved ? 'approved' : 'rejected'}` })}`, 303);
    } catch (e) {
      return reply.redirect(`${back}${query({ error: (e as Error).message })}`, 303);
    }
  });
}

/** Bar colours of the timeline, the same hues as the DAG's node states. */
export const STATUS_COLOURS: Record<string, string> = {
  succeeded: '#2e8540',
  cached: '#4a7fb0',
  running: '#c58a00',
  failed: '#c0392b',
  skipped: '#8a8a8a',
  pending: '#b0b0b0',
  awaiting: '#8e44ad',
};
