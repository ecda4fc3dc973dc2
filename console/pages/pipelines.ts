import type { FastifyInstance } from 'fastify';
import { findPipeline } from '../../pipelines/catalogue';
import { renderDag } from '../dag';
import type { ConsoleDeps } from '../deps';
import { csrfField, notice, paramsForm, readParamsForm } from '../forms';
import { html, query } from '../html';
import { facts, page, table } from '../layout';
import { sendPage, within, type Flash } from '../respond';

/** Pipelines: the catalogue's pipelines, each with its DAG, its params as a form, and a start. */
export function registerPipelinePages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/pipelines', async (_req, reply) => {
    const specs = [...deps.catalogue.specs.values()].sort((a, b) => a.name.localeCompare(b.name));
    return sendPage(reply, page({ title: 'Pipelines', section: 'pipelines' }, html`
<p>Registered pipelines (the built-ins and <code>SLUICE_EXTRA_PIPELINES</code>). Each is a Temporal workflow type of its own name.</p>
${table(['Pipeline', 'Version', 'Nodes', 'Description', 'Runs'],
  specs.map((s) => [html`<a href="/pipelines/${s.name}">${s.name}</a>`, html`<code>${s.version}</code>`, s.nodes.length, s.description ?? '', html`<a href="/runs${query({ pipeline: s.name })}">runs</a>`]))}`));
  });

  app.get<{ Params: { name: string }; Querystring: Flash }>('/pipelines/:name', async (req, reply) => {
    const { spec } = findPipeline(deps.catalogue, req.params.name);
    const schedules = await within(deps.actions.schedules?.(spec.name));
    const steps = Object.entries(spec.steps);
    return sendPage(reply, page({ title: `Pipeline ${spec.name}`, section: 'pipelines' }, html`
${notice(req.query)}
${facts([['version', html`<code>${spec.version}</code>`], ['description', spec.description ?? '—'], ['nodes', spec.nodes.length], ['runs', html`<a href="/runs${query({ pipeline: spec.name })}">recent runs</a>`]])}
<h2>DAG</h2>
<div tabindex="0" class="dag-box">${renderDag(spec)}</div>
<h2>Schedules</h2>
${schedules === undefined ? html`<p class="muted">${deps.actions.schedules ? 'Temporal did not answer in time' : 'schedules are read from Temporal'}</p>` : table(['Schedule', 'Cron', 'State', 'Next runs', 'Note'], schedules.map((s) => [s.id, s.cron.join(', '), s.paused ? 'paused' : 'active', s.nextRuns.slice(0, 3).map((t) => t.replace('T', ' ').replace(/\.\d+Z$/, 'Z')).join(', '), s.note ?? '']), html`none (<code>sluice schedule create NAME --pipeline ${spec.name} --cron …</code>)`)}
<h2 id="start">Start a run</h2>
<p class="hint">Empty fields take the schema's default. The params are checked against the pipeline's schema before the run starts, as <code>sluice run</code> does.</p>
<form method="post" action="/pipelines/${spec.name}/start" class="params">
${csrfField(reply.generateCsrf())}
${paramsForm(spec.params)}
<div class="field"><label for="p-json">All params as one JSON object (optional; fields above win)</label><textarea id="p-json" name="_json" rows="3" placeholder="{}"></textarea></div>
<button type="submit">Start ${spec.name}</button>
</form>
<h2>Steps</h2>
${table(['Step', 'Version', 'Queue', 'Description'], steps.map(([name, s]) => [html`<code>${name}</code>`, s.version, s.queue, s.description ?? '']))}
<h2>Params schema</h2>
<pre tabindex="0" class="json">${JSON.stringify(spec.params, null, 2)}</pre>`));
  });

  app.post<{ Params: { name: string }; Body: Record<string, unknown> }>('/pipelines/:name/start', { preHandler: app.csrfProtection }, async (req, reply) => {
    const { spec } = findPipeline(deps.catalogue, req.params.name);
    try {
      const params = readParamsForm(spec.params, req.body ?? {});
      const started = await deps.actions.startRun(spec.name, params);
      // The runs list: a run has its own page once a worker records it (it may wait for one).
      return reply.redirect(`/runs${query({ pipeline: spec.name, done: `started ${spec.name}: workflow ${started.workflowId}, run ${started.runId}` })}`, 303);
    } catch (e) {
      return reply.redirect(`/pipelines/${encodeURIComponent(spec.name)}${query({ error: (e as Error).message })}#start`, 303);
    }
  });
}
