import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Client } from '@temporalio/client';
import { ensureMonitor, monitorId, monitorStatus } from '../cli/monitor';
import { ensureChromium } from '../infra/setup/chromium';
import { projectRoot } from '../infra/paths';
import { freePort } from '../infra/stack/process';
import { startTemporalDevServer, type TemporalDevServer } from '../infra/stack/temporal-server';
import type { PipelineWorkflow } from '../pipelines/dsl/start';
import { ingestValidate } from '../pipelines/ingest-validate';
import type { trainModel } from '../pipelines/train-model';
import { startRun } from './helpers/runs';
import { startTestWorkers, tempDir, temporalClient, uniqueId, usePostgres, type TestWorkers } from './helpers/stack';
import { waitFor } from './helpers/wait-for';

/**
 * The dev server's own UI (Temporal UI, embedded in the Temporal CLI), driven in headless Debian
 * Chromium by playwright-core: start the training pipeline from the Start Workflow form with one
 * JSON object, find its steps in the event history under the summaries the engine sets, and send
 * a drift monitor the `retrain` signal. The harness's shared dev server is headless, so this file
 * starts one of its own with the UI on a free port.
 */
let home: string;
let server: TemporalDevServer;
let pgh: Awaited<ReturnType<typeof usePostgres>>;
let workers: TestWorkers;
let client: Client;
let browser: Browser;
let page: Page;
let ui: string;

const shots = tempDir('ui-shots');

before(async () => {
  home = tempDir('ui-temporal');
  const executablePath = await ensureChromium();
  const [port, uiPort] = [await freePort(), await freePort()];
  [server, pgh] = await Promise.all([
    startTemporalDevServer({ dbFile: path.join(home, 'dev.db'), logFile: path.join(home, 'temporal.log'), port, uiPort }),
    usePostgres(),
  ]);
  ui = server.uiUrl!;
  [workers, browser] = await Promise.all([
    startTestWorkers({ temporalAddress: server.address, databaseUrl: pgh.url }), // both: train-model's trials run on the GPU queue
    chromium.launch({
      executablePath,
      headless: true,
      // playwright-core gives every launch a fresh, empty profile (its own --user-data-dir).
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }),
  ]);
  client = await temporalClient(server.address);
  page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.setDefaultTimeout(20_000);
  if (process.env.SLUICE_UI_DEBUG) {
    page.on('request', (r) => r.url().includes('/api/') && console.error('request', r.method(), r.url()));
    page.on('response', (r) => r.url().includes('/api/') && console.error('response', r.status(), r.url()));
    page.on('pageerror', (e) => console.error('pageerror', e.message));
    page.on('crash', () => console.error('page crashed'));
  }
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await workers?.stop();
  await client?.connection.close();
  await pgh?.stop();
  await server?.service.stop();
  if (home) fs.rmSync(home, { recursive: true, force: true });
  if (fs.readdirSync(shots).length === 0) fs.rmSync(shots, { recursive: true, force: true });
});

/** Runs a UI scenario; on failure, keeps a screenshot and the page's HTML for whoever debugs it. */
async function inBrowser(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const file = path.join(shots, `${name}.png`);
    await page.screenshot({ path: file, fullPage: true, timeout: 10_000 }).catch((err: Error) => console.error(`screenshot: ${err.message}`));
    await fs.promises.writeFile(path.join(shots, `${name}.html`), await page.content().catch((err: Error) => `page.content: ${err.message}`));
    const where = `screenshot and HTML of the page: ${file} (.html beside it); page at ${page.url()}`;
    console.error(`[ui-browser] ${name} failed: ${where}`);
    if (e instanceof Error) e.message += `\n(${where})`;
    throw e;
  }
}

/**
 * Types into the CodeMirror editor the UI uses for JSON payloads (insertText: no auto-closed
 * brackets), then takes the focus away: the editor reformats its JSON when it loses focus, which
 * moves the submit button, so a click that blurs it would land where the button was.
 */
async function fillCodeEditor(editor: ReturnType<Page['locator']>, text: string): Promise<void> {
  await editor.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText(text);
  await editor.evaluate((el) => (el as unknown as { blur(): void }).blur()); // no DOM lib in tsconfig
}


test('start train-model from the UI form; its steps show in the event history under their summaries', async () => {
  const workflowId = uniqueId('ui-train-');
  await inBrowser('start-workflow', async () => {
    await page.goto(`${ui}/namespaces/default/workflows`);
    await page.locator('a[href*="/workflows/start-workflow"]').click();
    await page.locator('input#workflowId').fill(workflowId);
    await page.locator('input#taskQueue').fill(workers.config.queues.workflow);
    await page.locator('input#workflowType').fill('train-model');
    await fillCodeEditor(page.locator('.cm-content[contenteditable="true"]').first(), '{"search":{},"gbdt":{"nEstimators":10},"maxTrials":1}');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith(`/namespaces/default/workflows/${workflowId}`)),
      page.getByTestId('start-workflow-button').click(),
    ]);
    assert.equal(response.status(), 200, `start: ${await response.text()}`);
  });

  // Started from the UI: a handle typed by the pipeline it runs.
  const handle = client.workflow.getHandle<PipelineWorkflow<typeof trainModel>>(workflowId);
  const result = await handle.result();
  assert.equal((await handle.describe()).type, 'train-model');
  assert.ok(result.outputs, 'the run returned its outputs');

  await inBrowser('event-history', async () => {
    const { runId } = await handle.describe();
    await page.goto(`${ui}/namespaces/default/workflows/${workflowId}/${runId}/history`);
    // Each step's ActivityTaskScheduled row shows its activity type and the engine's summary
    // (about 80 events for this run: all on the first page of 100).
    for (const [activityType, summary] of [['ingest', 'ingest · ingest@1 (cpu)'], ['train.gbdt-gpu', 'train[0] · train.gbdt-gpu@1 (gpu)']] as const) {
      const row = page.getByTestId('event-summary-row').filter({ hasText: 'Activity Task Scheduled' }).filter({ hasText: summary });
      await row.first().waitFor({ state: 'visible' });
      const text = (await row.first().innerText()).replace(/\s+/g, ' ');
      assert.ok(text.includes(`Activity Type ${activityType}`) && text.includes(`Summary ${summary}`), `event row: ${text}`);
    }
  });
});

test('send the drift monitor a retrain signal from the UI', async () => {
  const model = 'ui-model';
  const ingest = await startRun({ client, workers }, ingestValidate, {
    source: { kind: 'file', path: path.join(projectRoot, 'node_modules', 'vega-datasets', 'data', 'seattle-weather.csv') },
    name: 'ui-weather',
    suite: { name: 'basic', expectations: [{ type: 'rowCountBetween', min: 1, severity: 'error' }] },
  });
  const reference = (await ingest.result()).outputs.dataset;
  await ensureMonitor(client, workers.config, { model, reference, target: 'weather', trainingParams: { model, target: 'weather' }, policy: { dailyCap: 0 } });
  await waitFor('the monitor to answer its status query', () => monitorStatus(client, model));

  await inBrowser('send-signal', async () => {
    await page.goto(`${ui}/namespaces/default/workflows/${monitorId(model)}`);
    await page.getByRole('button', { name: 'More Actions' }).click();
    await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
    const modal = page.getByRole('dialog', { name: 'Send a Signal' }); // the visible one of the page's copies
    // The worker answers the workflow-metadata query, so the UI offers the workflow's signals in a
    // list (without it, a plain text field).
    const select = modal.getByTestId('signal-select-button');
    await select.or(modal.getByTestId('signal-name')).first().waitFor();
    if (await select.isVisible()) {
      await select.click();
      await modal.getByRole('option', { name: 'retrain', exact: true }).click();
    } else {
      await modal.getByTestId('signal-name').fill('retrain');
    }
    await fillCodeEditor(modal.locator('.cm-content[contenteditable="true"]'), '{"reason":"from the UI","by":"ui-test","requestId":"ui-1"}');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith(`/workflows/${monitorId(model)}/signal/retrain`)),
      modal.getByTestId('confirm-modal-button').click(),
    ]);
    assert.equal(response.status(), 200, `signal: ${await response.text()}`);
  });

  const status = await waitFor('the retrain decision', async () => {
    const s = await monitorStatus(client, model);
    return s.decisions.some((d) => d.reason.includes('from the UI')) ? s : undefined;
  });
  const decision = status.decisions.find((d) => d.reason.includes('from the UI'))!;
  assert.equal(decision.kind, 'retrain-skipped', `decision: ${JSON.stringify(decision)}`);
  assert.match(decision.reason, /daily cap of 0/);
});
