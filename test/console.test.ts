import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { LocalArtifactStore } from '../infra/artifacts';
import { loadConfig } from '../infra/config';
import { recordDriftResult, recordMonitorDecision } from '../infra/db/drift';
import { registerDatasetVersion } from '../infra/db/datasets';
import { migrate } from '../infra/db/migrate';
import { createPool, type Db } from '../infra/db/pool';
import { listAliasEvents, registerModelVersion, setAlias } from '../infra/db/registry';
import { recordRunEnd, recordRunStart, recordStepEnd, recordStepInput, recordStepOutput, recordStepStart } from '../infra/db/runs';
import { recordValidationReport } from '../infra/db/validation';
import { projectRoot } from '../infra/paths';
import { ensureChromium } from '../infra/setup/chromium';
import type { ModelSignature } from '../pipelines/steps/model';
import { rollbackChampion } from '../cli/commands/models';
import { retrainNow } from '../cli/commands/monitor';
import { startRun } from '../cli/commands/run';
import { startConsole } from '../cli/commands/ui';
import { cliCatalogue } from '../cli/pipelines';
import { authenticate } from '../console/auth';
import { createConsole } from '../console/server';
import { tempDir, temporalClient, uniqueId, usePostgres, useTemporal } from './helpers/stack';

/**
 * The web console (console/) in headless Chromium, on a database seeded through the same infra
 * functions the steps use: every page loads without a console error and without a serious axe
 * violation (screenshots kept under the printed directory), the compare view, one drift point per
 * window, an alias move from the page (audited, CSRF-guarded), a run page whose DAG follows the run
 * while it polls, a start through `sluice run`'s path, and the token check.
 */

const shots = tempDir('console-shots');
const storeDir = tempDir('console-store');
const AXE = fs.readFileSync(path.join(projectRoot, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');
const ACTOR = 'console-test';
const MODEL = 'churn';
let pgh: Awaited<ReturnType<typeof usePostgres>>;
let temporal: Awaited<ReturnType<typeof useTemporal>>;
let db: Db;
let client: Client;
let app: FastifyInstance;
let base: string;
let browser: Browser;
let page: Page;
let errors: string[] = [];
let catalogue: Awaited<ReturnType<typeof cliCatalogue>>;
const queue = uniqueId('console-q-');
const liveRun = { runId: uniqueId('run-live-'), workflowId: uniqueId('hello-') };
const fanRun = { runId: uniqueId('run-fan-'), workflowId: uniqueId('batch-') };
const waitingRun = { runId: uniqueId('run-wait-'), workflowId: uniqueId('hello-') };
/** What the console sent as approvals (the CLI's sendApproval in production). */
const approvals: unknown[] = [];

/** The little of the browser's DOM the page functions use (the project compiles without the DOM library). */
interface Dom {
  document: { querySelector(s: string): { getAttribute(name: string): string | null } | null; querySelectorAll(s: string): { length: number } };
  sluiceCharts?: unknown[];
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const SIGNATURE: ModelSignature = {
  task: 'binary',
  inputs: [{ name: 'x', column: 'x', type: 'float' }],
  outputs: { label: 'label', probabilities: 'probabilities' },
  classes: ['no', 'yes'],
  target: 'label',
};

async function seed(store: LocalArtifactStore): Promise<void> {
  // A run in progress (hello: greet runs, inspect-device waits) and a finished one with a fan-out.
  await recordRunStart(db, { ...liveRun, pipelineName: 'hello', pipelineVersion: 'abcdefabcdef', params: { name: 'Ada' } } as never);
  await recordStepStart(db, { runId: liveRun.runId, node: 'greet', step: 'hello.greet', stepVersion: '1', queue: 'cpu', attempt: 1 });
  await recordRunStart(db, { ...waitingRun, pipelineName: 'hello', pipelineVersion: 'abcdefabcdef', params: {} } as never);
  await recordRunStart(db, { ...fanRun, pipelineName: 'batch-scoring', pipelineVersion: 'abcdefabcdef', params: {} } as never);
  for (let i = 0; i < 40; i++) {
    await recordStepStart(db, { runId: fanRun.runId, node: `score[${i}]`, step: 'scoring.chunk', stepVersion: '1', queue: 'cpu', attempt: i === 3 ? 2 : 1 });
    await recordStepEnd(db, { runId: fanRun.runId, node: `score[${i}]`, status: i === 3 ? 'failed' : 'succeeded', ...(i === 3 ? { error: 'chunk 3: <b>bad</b> row' } : {}) });
  }
  const out = await store.putContent('predictions\n');
  await recordStepOutput(db, fanRun.runId, 'score[0]', { uri: out.uri, sha256: out.sha256, size: out.size });
  await recordStepInput(db, fanRun.runId, 'score[1]', out.uri);
  await recordRunEnd(db, fanRun.runId, 'failed', 'score[3] failed');

  // A model with two versions, champion on v1.
  for (const [i, metrics] of [{ auc: 0.81, accuracy: 0.74 }, { auc: 0.86, accuracy: 0.77 }].entries()) {
    await registerModelVersion(db, { name: MODEL, source: { uri: `file:///m/${i}`, sha256: sha(`m${i}`), size: 10 }, signature: SIGNATURE, createdBy: 'seed', metrics, params: { lr: 0.1 * (i + 1) }, modelCard: { task: 'binary', overview: 'Predicts <churn>.', owners: ['ml-team'] } });
  }
  await setAlias(db, { name: MODEL, alias: 'champion', version: 1, actor: 'seed', reason: 'first' });

  // A dataset version with a profile, and its validation report (an HTML page in the store).
  const edges = Array.from({ length: 21 }, (_, k) => k / 2);
  await registerDatasetVersion(db, {
    name: 'customers', uri: out.uri, sha256: sha('customers'), sizeBytes: 100, rows: 1000, source: { kind: 'test' },
    schema: [{ name: 'x', type: 'float64', nullable: true }, { name: 'plan', type: 'string', nullable: false }] as never,
    profile: {
      profileVersion: 1, rows: 1000,
      columns: [
        { name: 'x', type: 'float64', nulls: 10, nullFraction: 0.01, distinct: 900, numeric: { min: 0, max: 10, mean: 5, std: 2, quantiles: { p0: 0, p5: 0.5, p25: 2.5, p50: 5, p75: 7.5, p95: 9.5, p100: 10 }, histogram: { edges, counts: edges.slice(1).map((_, k) => 40 + k) } } },
        { name: 'plan', type: 'string', nulls: 0, nullFraction: 0, distinct: 2, top: [{ value: 'basic', count: 700 }, { value: 'pro', count: 300 }] },
      ],
    },
  });
  const htmlReport = await store.putContent('<!doctype html><html lang="en"><head><title>validation</title></head><body><h1>Validation passed</h1></body></html>');
  const jsonReport = await store.putContent('{"success":true}');
  await recordValidationReport(db, { datasetName: 'customers', datasetVersion: 1, suiteName: 'basic', success: true, statistics: { evaluated: 3, successful: 3 }, reportUri: jsonReport.uri, htmlUri: htmlReport.uri, runId: fanRun.runId, node: 'validate' });

  // Three scored windows of drift, and a decision.
  for (let w = 0; w < 3; w++) {
    await recordDriftResult(db, {
      model: MODEL, batchId: `batch-${w}`, dataset: { name: 'customers', version: 1 }, reference: { name: 'customers', version: 1 },
      share: w / 2, datasetDrift: w === 2, drifted: w === 2 ? ['x'] : [],
      columns: { x: { kind: 'numeric', test: 'wasserstein', statistic: 0.05 * (w + 1), threshold: 0.1, drift: w > 0, referenceCount: 100, currentCount: 100 } },
      reportUri: jsonReport.uri, htmlUri: htmlReport.uri,
    });
    await db.query(`UPDATE drift_results SET checked_at = now() - make_interval(days => $1) WHERE batch_id = $2`, [3 - w, `batch-${w}`]);
  }
  for (const [seq, value] of [[2, 0.83], [3, 0.71]] as const) {
    await recordMonitorDecision(db, { model: MODEL, workflowId: 'drift-monitor-churn', seq, decidedAt: new Date(Date.now() - (4 - seq) * 86_400_000), kind: 'performance-checked', reason: `accuracy = ${value}`, numbers: { metric: 'accuracy', value, minValue: 0.75, decayed: value < 0.75 } });
  }
  await recordMonitorDecision(db, { model: MODEL, workflowId: 'drift-monitor-churn', seq: 1, decidedAt: new Date(), kind: 'retrain-skipped', reason: 'daily cap of 0', numbers: { share: 1 } });

  // A rollout's routes and a little traffic.
  await db.query(`INSERT INTO serving_routes (model_name, variant, version, mode, weight, epoch, rollout_id) VALUES ($1, 'control', 1, 'live', 0.8, 1, 'rollout-churn'), ($1, 'candidate', 2, 'live', 0.2, 1, 'rollout-churn')`, [MODEL]);
  await db.query(
    `INSERT INTO online_predictions (id, model_name, version, variant, mode, created_at, latency_ms, features, output)
     SELECT gen_random_uuid(), $1, 1 + (i % 2), CASE WHEN i % 2 = 0 THEN 'control' ELSE 'candidate' END, 'live', now(), 2 + i % 5, '{}', '{"label":"no"}' FROM generate_series(1, 20) i`,
    [MODEL],
  );
  // A model whose shadow rollout ended (control and shadowed candidate traffic in the hour, no
  // routes left), and one that only ever served its champion.
  await db.query(
    `INSERT INTO online_predictions (id, model_name, version, variant, mode, created_at, latency_ms, features, output)
     SELECT gen_random_uuid(), 'shadowed', 1 + i % 2, CASE WHEN i % 2 = 0 THEN 'control' ELSE 'candidate' END, CASE WHEN i % 2 = 0 THEN 'live' ELSE 'shadow' END, now(), 3, '{}'::jsonb, '{"label":"no"}'::jsonb FROM generate_series(1, 6) i
     UNION ALL SELECT gen_random_uuid(), 'plain', 1, 'champion', 'live', now(), 3, '{}'::jsonb, '{"label":"no"}'::jsonb FROM generate_series(1, 3) i`,
  );
}

before(async () => {
  [pgh, temporal] = await Promise.all([usePostgres(), useTemporal()]);
  db = createPool(pgh.url, { max: 4 });
  await migrate(db);
  const store = await LocalArtifactStore.open(path.join(storeDir, 'artifacts'));
  let executablePath: string;
  // The CLI's catalogue, which `sluice run`'s start (the console's) reads too.
  [executablePath, catalogue] = await Promise.all([ensureChromium(), cliCatalogue(), seed(store)]);
  client = await temporalClient(temporal.address);
  const config = { ...loadConfig(), queues: { workflow: queue, cpu: `${queue}-cpu`, gpu: `${queue}-gpu` } };
  app = await createConsole({
    db, store, catalogue, defaultActor: ACTOR, pollMs: 250,
    temporalUi: { url: 'http://temporal-ui.test', namespace: 'default' },
    actions: {
      startRun: async (pipeline, params) => startRun(client, config, pipeline, { params: params as never }),
      approve: async (workflowId, req) => {
        approvals.push({ workflowId, ...req });
        return { approved: req.decision === 'approve' };
      },
      // `sluice retrain`'s and `sluice models rollback`'s own functions (no monitor runs for the model here).
      retrain: async (model, req) => retrainNow(client, model, req),
      rollbackChampion: async (model, by) => rollbackChampion(db, model, by),
      // The run's state query: one run waits for a person at inspect-device.
      runState: async (workflowId) =>
        workflowId === waitingRun.workflowId
          ? { pipeline: 'hello', version: 'abcdefabcdef', status: 'running', nodes: { greet: { status: 'succeeded', step: 'hello.greet', queue: 'cpu' }, 'inspect-device': { status: 'running', step: 'hello.inspect-device', queue: 'gpu', awaiting: 'approval' } } }
          : undefined,
      // The rollout workflow's status query, as `sluice rollout status` reads it.
      rolloutStatus: async (model) => model === 'shadowed' ? {
        model, strategy: 'shadow', control: 1, candidate: 2, phase: 'reported', paused: false, weights: {}, step: null, counts: {}, posteriors: null, guardrails: null,
        report: { uri: 'file:///reports/shadow.json', sha256: 'a'.repeat(64), pairs: 59, agreement: 0.7797, meanAbsScoreDiff: 0.0906, controlP50Ms: 4, candidateP50Ms: 6, controlP99Ms: 18, candidateP99Ms: 20.2, candidateErrors: 0 },
        decisions: [{ seq: 1, at: '2026-01-01T00:00:00Z', kind: 'report', reason: 'shadow comparison written' }], rejected: [],
      } : {
        model, strategy: 'ab', control: 1, candidate: 2, phase: 'testing', paused: false, weights: { control: 0.8, candidate: 0.2 }, step: null, counts: {},
        posteriors: { control: { alpha: 11, beta: 91, mean: 0.1078, pBest: 0.1234 }, candidate: { alpha: 15, beta: 87, mean: 0.147, pBest: 0.8766 } },
        guardrails: { requests: 20, errorRate: 0, p99Ms: 6, accuracy: null, controlAccuracy: null, breaches: [] },
        report: null, decisions: [{ seq: 1, at: '2026-01-01T00:00:00Z', kind: 'started', reason: 'A/B of v2 against v1' }], rejected: [],
      },
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  page.setDefaultTimeout(10_000);
  page.on('console', (m) => m.type() === 'error' && errors.push(`${page.url()}: ${m.text()}`));
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  console.log(`[console] screenshots: ${shots}`);
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await app?.close();
  await client?.connection.close();
  await db?.end();
  await pgh?.stop();
  await temporal?.stop();
  fs.rmSync(storeDir, { recursive: true, force: true });
});

async function axeSerious(): Promise<string[]> {
  // Evaluated, not added as a <script>: the console's CSP forbids inline script, as it should.
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await (globalThis as unknown as { axe: { run(o: unknown): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run({ runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, where: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}) at ${v.where.join(', ')}`);
}

test('every page loads without a console error; the main pages have no serious accessibility violation and are screenshotted', async () => {
  // The main pages (one of each kind) are screenshotted and checked by axe; the listings share their markup.
  const pages: [name: string, url: string, main: boolean][] = [
    ['pipelines', '/pipelines', false], ['pipeline', '/pipelines/train-model', true], ['runs', '/runs', false], ['run-fanout', `/runs/${fanRun.runId}`, true],
    ['models', '/models', false], ['model', `/models/${MODEL}`, true], ['model-version', `/models/${MODEL}/versions/2`, false], ['compare', `/models/${MODEL}/compare?a=1&b=2`, true],
    ['datasets', '/datasets', false], ['dataset', '/datasets/customers', false], ['dataset-version', '/datasets/customers/1', true],
    ['monitoring', '/monitoring', false], ['monitoring-model', `/monitoring/${MODEL}`, true], ['reports', '/reports', false], ['rollouts', '/rollouts', true],
  ];
  const problems: string[] = [];
  for (const [name, url, main] of pages) {
    errors = [];
    const res = await page.goto(base + url, { waitUntil: 'load' });
    assert.equal(res?.status(), 200, `${url}: HTTP ${res?.status()}`);
    // Every chart drawn (the console's script records them).
    await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelectorAll('[data-chart]').length === ((globalThis as unknown as Dom).sluiceCharts?.length ?? 0));
    if (main) {
      await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
      problems.push(...(await axeSerious()).map((v) => `${url}: ${v}`));
    }
    problems.push(...errors);
  }
  assert.deepEqual(problems, []);
  // train-model's DAG (wider than the 1300 px window at full size) fits its box: every node in view.
  await page.goto(`${base}/pipelines/train-model`);
  const [dagBox, promoteNode] = await Promise.all([page.locator('.dag-box').boundingBox(), page.locator('svg.dag g[data-node="promote"]').boundingBox()]);
  assert.ok(dagBox && promoteNode && promoteNode.x + promoteNode.width <= dagBox.x + dagBox.width, `promote node at ${JSON.stringify(promoteNode)} outside the DAG's box ${JSON.stringify(dagBox)}`);
  // Escaped, never markup: the seeded error's <b> is text. The fan-out shows counts, not 40 boxes.
  await page.goto(`${base}/runs/${fanRun.runId}`);
  assert.match(await page.locator('pre.error').first().innerText(), /<b>bad<\/b>|score\[3\] failed/);
  assert.equal(await page.locator('svg.dag g[data-node="score"] text.n-sub').textContent(), '39/40 done · 1 failed');
  assert.equal(await page.locator('svg.dag g.node').count(), catalogue.specs.get('batch-scoring')!.nodes.length);
  // Lineage: the artifact score[0] produced and score[1] read, both ways from the artifact.
  await page.click('h2:text("Input artifacts") + div a:text("made by")');
  const edges = (await page.locator('tbody tr').allInnerTexts()).map((r) => r.split('\t').slice(0, 3).join(' ').replace(new RegExp(fanRun.runId, 'g'), 'RUN'));
  assert.deepEqual(edges.map((e) => e.replace(/file:\S+/, 'URI')).sort(), ['artifact URI consumed_by step_run RUN/score[1]', 'step_run RUN/score[0] produced artifact URI']);
  // Rollouts: the rollout's posteriors next to the routes and the traffic the table counted.
  await page.goto(`${base}/rollouts`);
  assert.deepEqual((await page.locator('table:has(caption:text("Posteriors")) tbody tr').allInnerTexts()).map((r) => r.split('\t').map((c) => c.trim())), [['control', '11', '91', '0.1078', '0.1234'], ['candidate', '15', '87', '0.147', '0.8766']]);
  assert.deepEqual((await page.locator(`section:has(h2 a:text("${MODEL}")) table:has(caption:text("Traffic")) tbody tr`).allInnerTexts()).map((r) => r.split('\t').slice(0, 4).map((c) => c.trim())), [['candidate', 'v2', 'live', '10'], ['control', 'v1', 'live', '10']]);
  // A finished shadow rollout (no routes left) still shows its phase and report.
  const shadowed = await page.locator('section:has(h2 a:text("shadowed"))').innerText();
  assert.match(shadowed, /phase\s+reported/);
  assert.match(shadowed, /59 pairs, agreement 0\.7797, mean \|score diff\| 0\.0906/);
  // A model that never had a rollout is not asked for one (the stub would answer for any model).
  assert.doesNotMatch(await page.locator('section:has(h2 a:text("plain"))').innerText(), /phase/);
});

test('the compare view shows both versions\' metrics side by side', async () => {
  await page.goto(`${base}/models/${MODEL}/compare?a=1&b=2`);
  const rows = await page.locator('table:has(caption:text("Metrics side by side")) tbody tr').allInnerTexts();
  assert.deepEqual(rows.map((r) => r.split('\t').map((c) => c.trim())), [['accuracy', '0.74', '0.77', '0.03'], ['auc', '0.81', '0.86', '0.05']]);
  const series = await page.evaluate(() => (globalThis as unknown as { sluiceCharts: { getOption(): { series: { name: string; data: number[] }[] } }[] }).sluiceCharts[0]!.getOption().series.map((s) => [s.name, s.data]));
  assert.deepEqual(series, [['v1', [0.74, 0.81]], ['v2', [0.77, 0.86]]]);
});

test('a drift chart has one point per scored window, with its threshold line', async () => {
  await page.goto(`${base}/monitoring/${MODEL}`);
  const s = await page.evaluate(() => {
    const c = (globalThis as unknown as { sluiceCharts: { getDom(): { id: string }; getOption(): { series: { data: unknown[]; markLine?: { data: { yAxis: number }[] } }[] } }[] }).sluiceCharts;
    const col = c.find((x) => x.getDom().id === 'drift-col-0')!.getOption().series[0]!;
    return { points: col.data.length, threshold: col.markLine?.data[0]?.yAxis };
  });
  assert.deepEqual(s, { points: 3, threshold: 0.1 });
  const perf = await page.evaluate(() => {
    const c = (globalThis as unknown as { sluiceCharts: { getDom(): { id: string }; getOption(): { series: { data: [string, number][]; markLine?: { data: { yAxis: number }[] } }[] } }[] }).sluiceCharts;
    const line = c.find((x) => x.getDom().id === 'performance')!.getOption().series[0]!;
    return { values: line.data.map((d) => d[1]), minimum: line.markLine?.data[0]?.yAxis };
  });
  assert.deepEqual(perf, { values: [0.83, 0.71], minimum: 0.75 });
});

test('moving an alias from the model page works and is audited; a POST without the CSRF token is refused', async () => {
  await page.goto(`${base}/models/${MODEL}`);
  await page.fill('#alias-version', '2');
  await page.fill('#alias-reason', 'v2 wins on auc');
  await Promise.all([page.waitForURL(/done=/), page.click('form[aria-label="Move an alias"] button')]);
  assert.match(await page.locator('.notice.ok').innerText(), /churn@champion: v1 → v2/);
  assert.match(await page.locator('h2:text("Alias history") + div table tbody tr').first().innerText(), /v1 → v2\s+console-test\s+v2 wins on auc/);
  const last = (await listAliasEvents(db, MODEL)).at(-1)!;
  assert.deepEqual([last.from_version, last.to_version, last.actor, last.reason], [1, 2, ACTOR, 'v2 wins on auc']);

  const forged = await fetch(`${base}/models/${MODEL}/aliases`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'alias=champion&version=1&reason=forged' });
  assert.equal(forged.status, 403);
  assert.equal((await listAliasEvents(db, MODEL)).length, 2);
});

test('rolling the champion back from the model page goes through `sluice models rollback` and is audited; a forged POST is refused', async () => {
  const forged = await fetch(`${base}/models/${MODEL}/rollback`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'reason=forged' });
  assert.equal(forged.status, 403);
  const before = (await listAliasEvents(db, MODEL)).length;
  // The previous test moved the champion v1 → v2: rolling back returns it to v1.
  await page.goto(`${base}/models/${MODEL}`);
  await page.fill('#rollback-reason', 'v2 hurts retention');
  await Promise.all([page.waitForURL(/done=/), page.click('form[aria-label="Roll back champion"] button')]);
  assert.match(await page.locator('.notice.ok').innerText(), /churn@champion v2 → v1/);
  const events = await listAliasEvents(db, MODEL);
  assert.equal(events.length, before + 1);
  const last = events.at(-1)!;
  assert.deepEqual([last.alias, last.from_version, last.to_version, last.actor, last.reason], ['champion', 2, 1, ACTOR, 'v2 hurts retention']);
});

test('retrain from the monitoring page goes through `sluice retrain`: a model without a monitor says so; a forged POST is refused', async () => {
  const forged = await fetch(`${base}/monitoring/${MODEL}/retrain`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'reason=forged' });
  assert.equal(forged.status, 403);
  await page.goto(`${base}/monitoring/${MODEL}`);
  await page.fill('#retrain-reason', 'labels arrived');
  const [res] = await Promise.all([page.waitForResponse((r) => r.url().includes('error=')), page.click('form[aria-label="Retrain"] button')]);
  assert.equal(res.status(), 200);
  assert.match(await page.locator('.notice.error').innerText(), /no drift monitor for model churn/);
});

test('a running run\'s DAG turns its nodes green as the run progresses', async () => {
  await page.goto(`${base}/runs/${liveRun.runId}`);
  const node = (id: string) => page.locator(`svg.dag g[data-node="${id}"]`);
  assert.match((await node('greet').getAttribute('class'))!, /n-running/);
  assert.match((await node('inspect-device').getAttribute('class'))!, /n-pending/);
  assert.equal(await page.locator('a[href^="http://temporal-ui.test/namespaces/default/workflows/"]').count(), 1);
  await recordStepEnd(db, { runId: liveRun.runId, node: 'greet', status: 'succeeded' });
  await recordStepStart(db, { runId: liveRun.runId, node: 'inspect-device', step: 'hello.inspect-device', stepVersion: '1', queue: 'gpu', attempt: 1 });
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector('svg.dag g[data-node="greet"]')?.getAttribute('class')?.includes('n-succeeded'));
  assert.match((await node('inspect-device').getAttribute('class'))!, /n-running/);
  await recordStepEnd(db, { runId: liveRun.runId, node: 'inspect-device', status: 'succeeded' });
  await recordRunEnd(db, liveRun.runId, 'succeeded');
  await page.waitForFunction(() => (globalThis as unknown as Dom).document.querySelector('#run-dag')?.getAttribute('data-final') === 'true'); // reloaded once it ended
  assert.match((await node('inspect-device').getAttribute('class'))!, /n-succeeded/);
  assert.equal(await page.locator('#run-status .badge').innerText(), 'succeeded');
});

test('an approval waiting in a run is decided from its page, with the reason and who', async () => {
  await page.goto(`${base}/runs/${waitingRun.runId}`);
  assert.match((await page.locator('svg.dag g[data-node="inspect-device"]').getAttribute('class'))!, /n-awaiting/);
  await page.fill('#reason-inspect-device', 'looks right');
  await Promise.all([page.waitForURL(/done=/), page.click('form[aria-label="Decide inspect-device"] button[value="approve"]')]);
  assert.match(await page.locator('.notice.ok').innerText(), /inspect-device: approved/);
  assert.deepEqual(approvals, [{ workflowId: waitingRun.workflowId, node: 'inspect-device', decision: 'approve', reason: 'looks right', by: ACTOR }]);
});

test('starting a run from the pipeline form goes through `sluice run`\'s checks and starts the workflow', async () => {
  await page.goto(`${base}/pipelines/hello`);
  await page.fill('#p-json', '{"nmae": "typo"}');
  await Promise.all([page.waitForURL(/error=/), page.click('form.params button[type="submit"]')]);
  assert.match(await page.locator('.notice.error').innerText(), /nmae/);
  await page.fill('#p-name', 'Ada');
  await page.fill('#p-delayMs', '5');
  await Promise.all([page.waitForURL(/\/runs\?/), page.click('form.params button[type="submit"]')]);
  const notice = await page.locator('.notice.ok').innerText();
  const workflowId = /workflow (\S+),/.exec(notice)?.[1];
  assert.ok(workflowId, notice);
  const d = await client.workflow.getHandle(workflowId).describe();
  assert.equal(d.type, 'hello');
  assert.equal(d.taskQueue, queue);
  await client.workflow.getHandle(workflowId).terminate('test over');
});

test('reports are served as what they are; unknown URIs are not served', async () => {
  const { rows } = await db.query<{ html_uri: string; report_uri: string }>('SELECT html_uri, report_uri FROM validation_reports');
  const htmlRes = await fetch(`${base}/reports/view?uri=${encodeURIComponent(rows[0]!.html_uri)}`);
  assert.match(htmlRes.headers.get('content-type')!, /^text\/html/);
  assert.match(htmlRes.headers.get('content-security-policy')!, /sandbox/);
  assert.match(await htmlRes.text(), /Validation passed/);
  const jsonRes = await fetch(`${base}/reports/view?uri=${encodeURIComponent(rows[0]!.report_uri)}`);
  assert.match(jsonRes.headers.get('content-type')!, /^application\/json/);
  assert.equal((await fetch(`${base}/reports/view?uri=${encodeURIComponent('file:///etc/passwd')}`)).status, 404);
});

test('`sluice ui` wires the console to Temporal: a pipeline\'s schedules come from the server, a run Temporal does not know falls back to the database', async () => {
  const config = { ...loadConfig(), databaseUrl: pgh.url, temporal: { address: temporal.address, namespace: 'default' } };
  const ui = await startConsole(config, { port: 0 });
  try {
    assert.match(ui.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const pipelinePage = await (await fetch(`${ui.url}/pipelines/hello`)).text();
    assert.match(pipelinePage, /<h2>Schedules<\/h2>\s*<p class="muted">none \(<code>sluice schedule create/);
    const state = (await (await fetch(`${ui.url}/runs/${waitingRun.runId}/state.json`)).json()) as { status: string; nodes: Record<string, { status: string }> };
    assert.deepEqual(state.nodes, { greet: { status: 'pending' }, 'inspect-device': { status: 'pending' } });
  } finally {
    await ui.close();
  }
});

test('with a token, every request needs it: bearer, or basic auth whose user is who acts', async () => {
  assert.equal(authenticate('Bearer s3cret', 's3cret'), '');
  assert.equal(authenticate(`Basic ${Buffer.from('ada:s3cret').toString('base64')}`, 's3cret'), 'ada');
  assert.equal(authenticate('Bearer nope', 's3cret'), undefined);
  assert.equal(authenticate(undefined, 's3cret'), undefined);
  const guarded = await createConsole({ db, store: await LocalArtifactStore.open(path.join(storeDir, 'artifacts')), catalogue, defaultActor: ACTOR, token: 's3cret', actions: { startRun: async () => assert.fail('no start'), approve: async () => assert.fail('no approval') } });
  try {
    const anon = await guarded.inject({ url: '/models' });
    assert.equal(anon.statusCode, 401);
    assert.match(String(anon.headers['www-authenticate']), /^Basic/);
    assert.equal((await guarded.inject({ url: '/static/console/console.js' })).statusCode, 401);
    assert.equal((await guarded.inject({ url: '/models', headers: { authorization: 'Bearer s3cret' } })).statusCode, 200);
    assert.equal((await guarded.inject({ url: '/models', headers: { authorization: `Basic ${Buffer.from('ada:s3cret').toString('base64')}` } })).statusCode, 200);
  } finally {
    await guarded.close();
  }
  if (fs.readdirSync(shots).length) console.log(`[console] ${fs.readdirSync(shots).length} screenshots in ${shots}`);
});
