import type { FastifyInstance } from 'fastify';
import {
  getModelVersion,
  getRegisteredModel,
  listAliasEvents,
  listDecisions,
  listModelVersions,
  listRegisteredModels,
  RegistryError,
  setAlias,
  type ModelVersionRow,
} from '../../infra/db/registry';
import type { ConsoleDeps } from '../deps';
import { csrfField, notice } from '../forms';
import { html, num, query, time, type Html } from '../html';
import { chart, facts, page, table } from '../layout';
import { positiveInt, sendPage, type Flash } from '../respond';

/** Models: the registry (MLflow's pages): versions with metrics side by side, aliases and their audit trail, cards, decisions, compare. */

const metricNames = (vs: readonly ModelVersionRow[]) => [...new Set(vs.flatMap((v) => Object.keys(v.metrics)))].sort();

function notFound(name: string): never {
  throw new RegistryError('NOT_FOUND', `no registered model "${name}"`);
}

/** A model card's text sections and facts (pipelines/steps/registry.ts modelCard), as HTML. */
function renderCard(card: Record<string, unknown>): Html {
  const text = (k: string, title: string) => (typeof card[k] === 'string' && card[k] ? html`<h3>${title}</h3><p class="prose">${card[k] as string}</p>` : '');
  const list = (k: string) => (Array.isArray(card[k]) ? (card[k] as Record<string, unknown>[]) : []);
  const data = (k: string) => list(k).map((d) => `${String(d.name)}@${String(d.version)}`).join(', ') || '—';
  return html`
${facts([
  ['task', String(card.task ?? '—')],
  ['target', String(card.target ?? '—')],
  ['owners', (card.owners as string[] | undefined)?.join(', ') || '—'],
  ['license', String(card.license ?? '—')],
  ['training data', data('trainingData')],
  ['evaluation data', data('evaluationData')],
  ['pipeline', String(card.pipeline ?? '—')],
  ['code version', String(card.codeVersion ?? '—')],
])}
${text('overview', 'Overview')}${text('description', 'Description')}${text('intendedUse', 'Intended use')}${text('outOfScopeUse', 'Out-of-scope use')}${text('limitations', 'Limitations')}${text('ethicalRisks', 'Ethical risks')}
<h3>Inputs</h3>
${table(['Name', 'Type'], list('inputs').map((i) => [String(i.name ?? ''), String(i.type ?? i.dtype ?? '')]), 'no inputs recorded')}
${list('slices').length ? html`<h3>Slices</h3><pre tabindex="0" class="json">${JSON.stringify(card.slices, null, 2)}</pre>` : ''}`;
}

export function registerModelPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/models', async (_req, reply) => {
    const models = await listRegisteredModels(deps.db);
    return sendPage(reply, page({ title: 'Models', section: 'models' }, table(['Model', 'Versions', 'Aliases', 'Updated', 'Description'], models.map((m) => [
      html`<a href="/models/${encodeURIComponent(m.name)}">${m.name}</a>`,
      m.last_version,
      Object.entries(m.aliases).sort().map(([a, v]) => `${a}=v${v}`).join(' '),
      time(m.updated_at),
      m.description ?? '',
    ]), 'no registered models')));
  });

  app.get<{ Params: { name: string }; Querystring: Flash }>('/models/:name', async (req, reply) => {
    const name = req.params.name;
    const model = (await getRegisteredModel(deps.db, name)) ?? notFound(name);
    const [versions, events, decisions] = await Promise.all([listModelVersions(deps.db, name, { limit: 50 }), listAliasEvents(deps.db, name), listDecisions(deps.db, name, { limit: 20 })]);
    const metrics = metricNames(versions);
    const ascending = [...versions].reverse();
    const latest = versions[0]?.version;
    const csrf = reply.generateCsrf();
    return sendPage(reply, page({ title: `Model ${name}`, section: 'models', charts: true }, html`
${notice(req.query)}
${facts([['description', model.description ?? '—'], ['versions', model.last_version], ['updated', time(model.updated_at)], ['monitoring', html`<a href="/monitoring/${encodeURIComponent(name)}">drift over time</a>`]])}
<h2>Aliases</h2>
${table(['Alias', 'Version'], Object.entries(model.aliases).sort().map(([a, v]) => [a, html`<a href="/models/${encodeURIComponent(name)}/versions/${v}">v${v}</a>`]), 'no aliases')}
<form method="post" action="/models/${encodeURIComponent(name)}/aliases" class="inline-form" aria-label="Move an alias">
  ${csrfField(csrf)}
  <label for="alias">Alias</label><input id="alias" name="alias" required value="champion" size="12">
  <label for="alias-version">Version</label><input id="alias-version" name="version" type="number" min="1" required value="${latest ?? ''}" size="5">
  <label for="alias-reason">Reason</label><input id="alias-reason" name="reason" required size="30">
  <button type="submit">Move alias</button>
</form>
${model.aliases.champion !== undefined ? html`<form method="post" action="/models/${encodeURIComponent(name)}/rollback" class="inline-form" aria-label="Roll back champion">
  ${csrfField(csrf)}
  <label for="rollback-reason">Reason</label><input id="rollback-reason" name="reason" required size="30">
  <button type="submit">Roll back champion</button>
</form>` : ''}
<h2>Versions</h2>
${metrics.length && ascending.length > 1 ? chart('metrics', `Metrics of ${name} across versions`, {
  animation: false,
  legend: { top: 0 },
  grid: { left: 50, right: 20, top: 30, bottom: 30 },
  tooltip: { trigger: 'axis' },
  xAxis: { type: 'category', name: 'version', data: ascending.map((v) => `v${v.version}`) },
  yAxis: { type: 'value', scale: true },
  series: metrics.map((m) => ({ type: 'line', name: m, connectNulls: true, data: ascending.map((v) => v.metrics[m] ?? null) })),
}) : ''}
${table(['Version', 'Created', 'Aliases', ...metrics, 'Run', 'By'], versions.map((v) => [
  html`<a href="/models/${encodeURIComponent(name)}/versions/${v.version}">v${v.version}</a>`,
  time(v.created_at),
  v.aliases.join(', '),
  ...metrics.map((m) => num(v.metrics[m])),
  v.run_id ? html`<a href="/runs/${encodeURIComponent(v.run_id)}">run</a>` : '',
  v.created_by,
]), 'no versions')}
${versions.length > 1 ? html`<form method="get" action="/models/${encodeURIComponent(name)}/compare" class="inline-form" aria-label="Compare two versions">
  <label for="cmp-a">Compare</label><select id="cmp-a" name="a">${versions.map((v, i) => html`<option value="${v.version}"${i === 1 ? html` selected` : ''}>v${v.version}</option>`)}</select>
  <label for="cmp-b">with</label><select id="cmp-b" name="b">${versions.map((v, i) => html`<option value="${v.version}"${i === 0 ? html` selected` : ''}>v${v.version}</option>`)}</select>
  <button type="submit">Compare</button></form>` : ''}
<h2>Alias history</h2>
${table(['When', 'Alias', 'Change', 'By', 'Why', 'Decision'], [...events].reverse().map((e) => [
  time(e.created_at), e.alias,
  e.action === 'delete' ? `v${e.from_version} → (removed)` : `${e.from_version === null ? '(none)' : `v${e.from_version}`} → v${e.to_version}`,
  e.actor, e.reason, e.decision_id ?? '',
]), 'no alias moves')}
<h2>Promotion decisions</h2>
${table(['When', 'Outcome', 'Mode', 'Challenger', 'Champion', 'Metric', 'Challenger value', 'Champion value', 'Delta', 'Margin', 'By', 'Reason'], decisions.map((d) => [
  time(d.created_at), d.outcome, d.mode, `v${d.challenger_version}`, d.champion_version === null ? '(none)' : `v${d.champion_version}`,
  d.metric ?? '', num(d.challenger_value), num(d.champion_value), num(d.delta), d.margin === null ? '' : `${num(d.margin)} ${d.margin_kind ?? ''}`, d.decided_by, d.reason,
]), 'no decisions')}`));
  });

  app.get<{ Params: { name: string; version: string } }>('/models/:name/versions/:version', async (req, reply) => {
    const { name } = req.params;
    const version = positiveInt(req.params.version) ?? notFound(name);
    const v = (await getModelVersion(deps.db, name, version)) ?? notFound(`${name}/${version}`);
    return sendPage(reply, page({ title: `${name} v${version}`, section: 'models' }, html`
${facts([
  ['model', html`<a href="/models/${encodeURIComponent(name)}">${name}</a>`],
  ['status', v.status], ['aliases', v.aliases.join(', ') || '—'], ['created', time(v.created_at)], ['by', v.created_by],
  ['run', v.run_id ? html`<a href="/runs/${encodeURIComponent(v.run_id)}">${v.run_id}</a>` : '—'],
  ['artifact', html`<a href="/lineage${query({ kind: 'artifact', id: v.source_uri })}">${v.source_uri}</a>`],
])}
<h2>Metrics</h2>
${table(['Metric', 'Value'], Object.entries(v.metrics).sort().map(([k, x]) => [k, num(x)]), 'no metrics')}
<h2>Model card</h2>
${renderCard(v.model_card)}
<h2>Params</h2>
<pre tabindex="0" class="json">${JSON.stringify(v.params, null, 2)}</pre>`));
  });

  app.get<{ Params: { name: string }; Querystring: { a?: string; b?: string } }>('/models/:name/compare', async (req, reply) => {
    const { name } = req.params;
    const [a, b] = [positiveInt(req.query.a), positiveInt(req.query.b)];
    if (!a || !b) throw new RegistryError('INVALID', 'compare needs two versions: ?a=N&b=M');
    const [va, vb] = await Promise.all([getModelVersion(deps.db, name, a), getModelVersion(deps.db, name, b)]);
    if (!va || !vb) notFound(`${name}/${!va ? a : b}`);
    const metrics = metricNames([va, vb]);
    const params = [...new Set([...Object.keys(va.params), ...Object.keys(vb.params)])].sort();
    const show = (x: unknown) => (x === undefined ? '—' : typeof x === 'number' ? num(x) : JSON.stringify(x));
    return sendPage(reply, page({ title: `${name}: v${a} vs v${b}`, section: 'models', charts: true }, html`
<p><a href="/models/${encodeURIComponent(name)}">← ${name}</a></p>
${metrics.length ? chart('compare', `Metrics of v${a} and v${b}`, {
  animation: false,
  legend: { top: 0 },
  grid: { left: 50, right: 20, top: 30, bottom: 40 },
  tooltip: { trigger: 'axis' },
  xAxis: { type: 'category', data: metrics },
  yAxis: { type: 'value' },
  series: [va, vb].map((v) => ({ type: 'bar', name: `v${v.version}`, data: metrics.map((m) => v.metrics[m] ?? null) })),
}) : ''}
<h2>Metrics</h2>
${table(['Metric', `v${a}`, `v${b}`, `v${b} − v${a}`], metrics.map((m) => {
  const [x, y] = [va.metrics[m], vb.metrics[m]];
  return [m, num(x), num(y), typeof x === 'number' && typeof y === 'number' ? num(y - x) : '—'];
}), 'no metrics', 'Metrics side by side')}
<h2>Params</h2>
${table(['Param', `v${a}`, `v${b}`], params.map((p) => [p, show(va.params[p]), show(vb.params[p])]), 'no params')}
<h2>Versions</h2>
${table(['', `v${a}`, `v${b}`], [
  ['created', time(va.created_at), time(vb.created_at)],
  ['aliases', va.aliases.join(', '), vb.aliases.join(', ')],
  ['run', va.run_id ?? '', vb.run_id ?? ''],
  ['code', va.code_version ?? '', vb.code_version ?? ''],
  ['sha256', va.source_sha256.slice(0, 12), vb.source_sha256.slice(0, 12)],
])}`));
  });

  app.post<{ Params: { name: string }; Body: { alias?: string; version?: string; reason?: string } }>('/models/:name/aliases', { preHandler: app.csrfProtection }, async (req, reply) => {
    const { name } = req.params;
    const back = `/models/${encodeURIComponent(name)}`;
    const { alias = '', version = '', reason = '' } = req.body ?? {};
    try {
      const v = positiveInt(version);
      if (!v) throw new RegistryError('INVALID', `version must be a positive integer, got "${version}"`);
      // The registry validates name, alias, version, actor and reason, and audits the move.
      const change = await setAlias(deps.db, { name, alias, version: v, actor: req.user ?? deps.defaultActor, reason });
      const done = change.changed ? `${name}@${alias}: ${change.from === null ? '(none)' : `v${change.from}`} → v${change.to}` : `${name}@${alias} already points at v${change.to}: nothing changed`;
      return reply.redirect(`${back}${query({ done })}`, 303);
    } catch (e) {
      return reply.redirect(`${back}${query({ error: (e as Error).message })}`, 303);
    }
  });

  app.post<{ Params: { name: string }; Body: { reason?: string } }>('/models/:name/rollback', { preHandler: app.csrfProtection }, async (req, reply) => {
    const { name } = req.params;
    const back = `/models/${encodeURIComponent(name)}`;
    const reason = (req.body?.reason ?? '').trim();
    try {
      if (!reason) throw new RegistryError('INVALID', 'a rollback needs a reason (kept in the audit trail)');
      if (!deps.actions.rollbackChampion) throw new Error('this console cannot roll back (use `sluice models rollback`)');
      // `sluice models rollback`'s own function: the previous champion from the audit trail, the move audited.
      const change = await deps.actions.rollbackChampion(name, { actor: req.user ?? deps.defaultActor, reason });
      const done = `${name}@champion v${change.from} → v${change.to}`;
      return reply.redirect(`${back}${query({ done })}`, 303);
    } catch (e) {
      return reply.redirect(`${back}${query({ error: (e as Error).message })}`, 303);
    }
  });
}
