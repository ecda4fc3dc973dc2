import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { projectRoot } from '../infra/paths';
import type { AnyPipeline } from '../pipelines/dsl/pipeline';
import type { RunParams } from '../pipelines/dsl/start';
import { ingestValidate } from '../pipelines/ingest-validate';
import { materializeFeatures } from '../pipelines/materialize-features';
import { runStateQuery } from '../pipelines/dsl/messages';
import { startRun } from './helpers/runs';
import { startTestStack, type TestStack } from './helpers/stack';

/** ingest-validate and materialize-features on real vega-datasets files, through Temporal. */
let stack: TestStack;

before(async () => {
  stack = await startTestStack({ kinds: ['cpu'] });
});
after(async () => {
  await stack?.stop();
});

const sluice = (args: string[]) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'cli', 'sluice.mjs'), ...args], { env: stack.workers.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`sluice ${args.join(' ')}: exit ${code}: ${err}`))));
  });

const start = <P extends AnyPipeline>(pipeline: P, params: RunParams<P>) => startRun(stack, pipeline, params);

test('ingest-validate: Seattle weather becomes a validated dataset version; the same data again is the same version', async () => {
  const first = await (await start(ingestValidate, {})).result();
  const out = first.outputs;
  assert.deepEqual([out.dataset.name, out.dataset.version, out.dataset.rows, out.success, out.reused], ['seattle-weather', 1, 1461, true, false]);
  const report = await stack.db.query('SELECT success, dataset_name, dataset_version FROM validation_reports WHERE run_id = $1', [first.runId]);
  assert.deepEqual(report.rows[0], { success: true, dataset_name: 'seattle-weather', dataset_version: 1 });
  const again = await (await start(ingestValidate, {})).result();
  assert.deepEqual([again.outputs.dataset.version, again.outputs.reused], [1, true]);

  // The CLI shows the version and its validation reports.
  const shown = JSON.parse(await sluice(['datasets', 'show', 'seattle-weather@1', '--json']));
  assert.deepEqual([shown.rows, shown.schema.map((c: { name: string }) => c.name)], [1461, ['date', 'precipitation', 'temp_max', 'temp_min', 'wind', 'weather']]);
  const reports = JSON.parse(await sluice(['reports', 'list', '--dataset', 'seattle-weather', '--json']));
  // One report: the second run's validation of the same version came from the cache.
  assert.deepEqual(reports.map((r: { success: boolean }) => r.success), [true]);
});

test('ingest-validate: a failed expectation fails the run naming it', async () => {
  const h = await start(ingestValidate, {
    name: 'weather-strict',
    suite: { name: 'too-strict', expectations: [{ type: 'between', column: 'temp_max', min: 0, max: 10, severity: 'error' }] },
  });
  await assert.rejects(h.result(), (e: unknown) => {
    assert.ok(e instanceof WorkflowFailedError);
    assert.match(String((e.cause as Error).message), /step "validate" \(validate-dataset\) failed: [\s\S]*between\(temp_max\)/);
    return true;
  });
  assert.equal((await h.query(runStateQuery)).nodes.ingest!.status, 'succeeded', 'the ingested version stays');
});

test('materialize-features: flights into offline and online stores, then incrementally', async () => {
  const first = await (await start(materializeFeatures, { end: '2001-02-15T00:00:00Z' })).result();
  const o1 = first.outputs;
  assert.ok(o1.onlineRows > 10, `online rows ${o1.onlineRows}`);
  const online = await stack.db.query('SELECT count(*)::int AS n FROM fv_origin_delays_v1');
  assert.equal(online.rows[0].n, o1.onlineRows);
  const second = await (await start(materializeFeatures, {})).result();
  const o2 = second.outputs;
  assert.equal(new Date(o2.interval.start).getTime() > new Date(o1.interval.start).getTime(), true, 'continues after the last end');
  assert.ok(new Date(o2.interval.start).getTime() >= new Date(o1.interval.end).getTime());
});
