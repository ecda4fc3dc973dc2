import type { FastifyInstance } from 'fastify';
import { listRoutes, variantTraffic } from '../../infra/db/console-queries';
import type { RolloutStatus, ShadowReportSummary } from '../../pipelines/rollout/protocol';
import type { ConsoleDeps } from '../deps';
import { html, num, time } from '../html';
import { chart, facts, page, statusBadge, table } from '../layout';
import { sendPage, within } from '../respond';

/** Rollouts: each served model's routes (live weights, shadows) and the last hour's traffic per variant, from serving_routes and online_predictions. */
export function registerRolloutPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/rollouts', async (_req, reply) => {
    const since = new Date(Date.now() - 3_600_000);
    const [routes, traffic] = await Promise.all([listRoutes(deps.db), variantTraffic(deps.db, since)]);
    const models = [...new Set([...routes.map((r) => r.model_name), ...traffic.map((t) => t.model_name)])].sort();
    // A model whose routes a rollout set has a rollout workflow to ask; so has one whose traffic in
    // the hour had a `candidate` variant (only rollouts route one) and whose rollout has ended (its
    // outcome, a shadow's report). Models that only ever served their champion are not asked.
    const asked = models.filter((m) => routes.some((r) => r.model_name === m && r.rollout_id) || traffic.some((t) => t.model_name === m && t.variant === 'candidate'));
    const statuses = new Map(await Promise.all(asked.map(async (m) => [m, await within(deps.actions.rolloutStatus?.(m))] as const)));
    return sendPage(reply, page({ title: 'Rollouts', section: 'rollouts', charts: true }, html`
<p class="hint">Models without routes are served by their <code>champion</code> alias. Traffic: the last hour.</p>
${models.length ? models.map((m, i) => {
  const rs = routes.filter((r) => r.model_name === m);
  const ts = traffic.filter((t) => t.model_name === m);
  const live = rs.filter((r) => r.mode === 'live');
  const st = statuses.get(m);
  return html`<section aria-labelledby="model-${i}"><h2 id="model-${i}"><a href="/models/${encodeURIComponent(m)}">${m}</a></h2>
${st ? rolloutSummary(st) : ''}
${live.length ? chart(`weights-${i}`, `Live weights of ${m}`, {
  animation: false,
  tooltip: { trigger: 'item' },
  series: [{ type: 'pie', radius: ['40%', '70%'], data: live.map((r) => ({ name: `${r.variant} (v${r.version})`, value: r.weight })) }],
}, { height: 200 }) : ''}
${table(['Variant', 'Version', 'Mode', 'Weight', 'Epoch', 'Rollout', 'Updated'], rs.map((r) => [r.variant, `v${r.version}`, r.mode, num(r.weight), r.epoch, r.rollout_id ?? 'by hand', time(r.updated_at)]), 'no routes: the champion serves everything', 'Routes')}
${table(['Variant', 'Version', 'Mode', 'Requests', 'Errors', 'Error rate', 'Mean latency (ms)', 'p95 latency (ms)', 'Feedback', 'Mean reward'], ts.map((t) => [
  t.variant, `v${t.version}`, t.mode, t.requests, t.errors, num(t.requests ? t.errors / t.requests : 0), num(t.mean_latency_ms), num(t.p95_latency_ms), t.feedback, num(t.mean_reward),
]), 'no requests in the last hour', 'Traffic')}</section>`;
}) : html`<p class="muted">no model is served online yet</p>`}`));
  });
}

/** The rollout workflow's own view: phase, live weights, posteriors (Thompson sampling's P(best)), guardrails and decisions. */
function rolloutSummary(s: RolloutStatus) {
  const pct = (w: number | undefined) => (w === undefined ? '—' : `${Math.round(w * 10_000) / 100}%`);
  return html`
${facts([
  ['rollout', `${s.strategy} of v${s.candidate} against ${s.control === null ? '(resolving)' : `v${s.control}`}`],
  ['phase', html`${s.phase}${s.paused ? html` ${statusBadge('paused')}` : ''}`],
  ['weights', `control ${pct(s.weights.control)}, candidate ${pct(s.weights.candidate)}`],
  ['step', s.step ? `${s.step.index + 1} at ${s.step.percent}% since ${s.step.since}` : '—'],
  ...(s.report ? [['shadow report', reportLine(s.report)] as [string, string]] : []),
  ['guardrails', s.guardrails ? html`error rate ${num(s.guardrails.errorRate)}, p99 ${num(s.guardrails.p99Ms)} ms, accuracy ${num(s.guardrails.accuracy)} vs ${num(s.guardrails.controlAccuracy)}${s.guardrails.breaches.length ? html` <strong class="breach">breached: ${s.guardrails.breaches.join('; ')}</strong>` : ''}` : '—'],
])}
${s.posteriors ? table(['Variant', 'Alpha', 'Beta', 'Mean', 'P(best)'], Object.entries(s.posteriors).map(([v, p]) => [v, num(p!.alpha), num(p!.beta), num(p!.mean), num(p!.pBest)]), '', 'Posteriors') : ''}
${table(['When', 'Kind', 'Reason'], s.decisions.slice(-10).reverse().map((d) => [d.at, d.kind, d.reason]), 'no decisions yet', 'Rollout decisions')}`;
}

/** A shadow rollout's comparison in one line, with where its JSON report is. */
function reportLine(r: ShadowReportSummary): string {
  return `${r.pairs} pairs, agreement ${num(r.agreement)}, mean |score diff| ${num(r.meanAbsScoreDiff)}, p99 ${num(r.controlP99Ms)} vs ${num(r.candidateP99Ms)} ms, candidate errors ${r.candidateErrors} (${r.uri})`;
}
