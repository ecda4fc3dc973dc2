import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { isKnownArtifact, lineageAround, recentDriftChecks } from '../../infra/db/console-queries';
import { listValidationReports } from '../../infra/db/validation';
import type { ConsoleDeps } from '../deps';
import { html, num, query, time } from '../html';
import { page, statusBadge, table } from '../layout';
import { sendPage } from '../respond';

/**
 * Reports and artifacts served as what they are. Refs carry no content type through a run, so it
 * is read from the first bytes (as cli/report-pages.ts does): an HTML report opens as a page, a
 * JSON report as JSON, anything else as a download. Only recorded artifacts and reports are
 * served, and an HTML report runs sandboxed (its own origin, no access to the console's cookies).
 */

const reportLink = (uri: string) => `/reports/view${query({ uri })}`;

export function sniffContentType(head: Buffer): string {
  const text = head.subarray(0, 512).toString('utf8');
  if (/^\s*<(!doctype html|html)[\s>]/i.test(text)) return 'text/html; charset=utf-8';
  if (/^\s*[{[]/.test(text)) return 'application/json; charset=utf-8';
  if (head.subarray(0, 4).toString('latin1') === 'PAR1') return 'application/vnd.apache.parquet';
  if (/^[\x09\x0a\x0d\x20-\x7e]*$/.test(head.subarray(0, 512).toString('latin1'))) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

async function serveArtifact(deps: ConsoleDeps, uri: string | undefined, reply: FastifyReply) {
  if (!uri || !(await isKnownArtifact(deps.db, uri))) return reply.code(404).type('text/plain').send('no such artifact or report\n');
  const stream = await deps.store.get(uri);
  const first: Buffer[] = [];
  const it = stream[Symbol.asyncIterator]();
  const step = await it.next();
  if (!step.done) first.push(Buffer.from(step.value as Buffer));
  const type = sniffContentType(first[0] ?? Buffer.alloc(0));
  reply.type(type).header('X-Content-Type-Options', 'nosniff');
  if (type.startsWith('text/html')) reply.header('Content-Security-Policy', "sandbox allow-scripts; default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'");
  if (type === 'application/octet-stream' || type.startsWith('application/vnd')) reply.header('Content-Disposition', 'attachment');
  return reply.send(Readable.from((async function* () {
    yield* first;
    for (let s = await it.next(); !s.done; s = await it.next()) yield s.value as Buffer;
  })()));
}

export function registerReportPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/reports', async (_req, reply) => {
    const [validations, drift] = await Promise.all([listValidationReports(deps.db, { limit: 50 }), recentDriftChecks(deps.db, 50)]);
    return sendPage(reply, page({ title: 'Reports', section: 'reports' }, html`
<p class="hint">Evaluation reports are outputs of the runs that made them (see a run's output artifacts).</p>
<h2>Validation</h2>
${table(['When', 'Dataset', 'Suite', 'Result', 'Report'], validations.map((r) => [
  time(r.created_at), html`<a href="/datasets/${encodeURIComponent(r.dataset_name)}/${r.dataset_version}">${r.dataset_name}@${r.dataset_version}</a>`, r.suite_name,
  statusBadge(r.success ? 'succeeded' : 'failed'), html`<a href="${reportLink(r.html_uri)}">HTML</a> · <a href="${reportLink(r.report_uri)}">JSON</a>`,
]), 'no validation reports')}
<h2>Drift</h2>
${table(['When', 'Model', 'Batch', 'Drifted share', 'Dataset drift', 'Report'], drift.map((d) => [
  time(d.checked_at), html`<a href="/monitoring/${encodeURIComponent(d.model)}">${d.model}</a>`, d.batch_id, num(d.share),
  statusBadge(d.dataset_drift ? 'failed' : 'succeeded'), html`<a href="${reportLink(d.html_uri)}">HTML</a> · <a href="${reportLink(d.report_uri)}">JSON</a>`,
]), 'no drift reports')}`));
  });

  app.get<{ Querystring: { uri?: string } }>('/reports/view', async (req, reply) => serveArtifact(deps, req.query.uri, reply));
  app.get<{ Querystring: { uri?: string } }>('/artifacts', async (req, reply) => serveArtifact(deps, req.query.uri, reply));

  app.get<{ Querystring: { kind?: string; id?: string } }>('/lineage', async (req, reply) => {
    const { kind = 'artifact', id = '' } = req.query;
    const edges = id ? await lineageAround(deps.db, kind, id) : [];
    const link = (k: string, v: string) => {
      if (k === 'step_run') return html`<a href="/runs/${encodeURIComponent(v.split('/')[0]!)}">${v}</a>`;
      if (k === 'run') return html`<a href="/runs/${encodeURIComponent(v)}">${v}</a>`;
      return html`<a href="/lineage${query({ kind: k, id: v })}">${v}</a>`;
    };
    return sendPage(reply, page({ title: 'Lineage', section: 'runs' }, html`
<p>${kind} <code>${id}</code>${kind === 'artifact' && id ? html` · <a href="/artifacts${query({ uri: id })}">open</a>` : ''}</p>
${table(['From', 'Relation', 'To', 'When'], edges.map((e) => [html`${e.from_kind} ${link(e.from_kind, e.from_id)}`, e.relation, html`${e.to_kind} ${link(e.to_kind, e.to_id)}`, time(e.created_at)]), 'no recorded edges')}`));
  });
}
