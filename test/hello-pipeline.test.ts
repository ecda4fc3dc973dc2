import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { openArtifactStore } from '../infra/artifacts';
import type { Db } from '../infra/db/pool';
import { projectRoot } from '../infra/paths';
import { runStateQuery } from '../pipelines/dsl/messages';
import type { RunParams } from '../pipelines/dsl/start';
import { hello } from '../pipelines/hello';
import { startRun } from './helpers/runs';
import { type TestWorkers, startTestStack, type TestStack } from './helpers/stack';

describe('hello pipeline through real Temporal, PostgreSQL and both workers', () => {
  let stack: TestStack;
  let workers: TestWorkers;
  let db: Db;

  before(async () => {
    stack = await startTestStack();
    ({ workers, db } = stack);
  });
  after(async () => {
    await stack?.stop();
  });

  const start = (input: RunParams<typeof hello>) => startRun(stack, hello, input);

  test('runs one step on each queue, writes artifacts and records the run', async () => {
    const handle = await start({ name: 'Ada' });
    const run_ = await handle.result();
    const result = { runId: run_.runId, ...run_.outputs };

    const store = await openArtifactStore(workers.config.artifacts);
    const greeting = await store.getBuffer(result.greeting);
    assert.equal(greeting.toString(), 'Hello, Ada!\n');
    assert.equal(crypto.createHash('sha256').update(greeting).digest('hex'), result.greeting.sha256);
    const report = JSON.parse((await store.getBuffer(result.report)).toString());
    assert.equal(report.greeting, 'Hello, Ada!\n', 'the GPU step read the CPU step artifact');
    assert.equal(report.device.provider, result.device.provider);

    const run = await db.query('SELECT * FROM runs WHERE run_id = $1', [result.runId]);
    assert.equal(run.rows[0].status, 'succeeded');
    assert.equal(run.rows[0].pipeline_name, 'hello');
    assert.deepEqual(run.rows[0].params, { name: 'Ada', delayMs: 0 });
    const steps = await db.query('SELECT node_id, queue, status FROM step_runs WHERE run_id = $1 ORDER BY node_id', [result.runId]);
    assert.deepEqual(steps.rows, [
      { node_id: 'greet', queue: 'cpu', status: 'succeeded' },
      { node_id: 'inspect-device', queue: 'gpu', status: 'succeeded' },
    ]);
    const edges = await db.query('SELECT from_id, relation, to_id FROM lineage_edges WHERE run_id = $1 ORDER BY relation, from_id', [result.runId]);
    assert.deepEqual(edges.rows, [
      { from_id: result.greeting.uri, relation: 'consumed_by', to_id: `${result.runId}/inspect-device` },
      { from_id: `${result.runId}/greet`, relation: 'produced', to_id: result.greeting.uri },
      { from_id: `${result.runId}/inspect-device`, relation: 'produced', to_id: result.report.uri },
    ]);

    const desc = await handle.describe();
    assert.deepEqual(desc.searchAttributes.PipelineName, ['hello']);
    assert.match(String(desc.searchAttributes.PipelineVersion?.[0]), /^[0-9a-f]{12}$/);
    // The UI's event history reads as pipeline steps: each activity carries its node's summary.
    const history = await handle.fetchHistory();
    const summaries = (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => JSON.parse(Buffer.from(e.userMetadata?.summary?.data ?? new Uint8Array()).toString() || '""') as string);
    assert.ok(summaries.some((x) => /^greet · hello\.greet@1 \(cpu\)/.test(x)), `summaries: ${summaries.join(' | ')}`);
    assert.ok(summaries.some((x) => /^inspect-device · hello\.inspect-device@1 \(gpu\)/.test(x)));
    const state = await handle.query(runStateQuery);
    assert.equal(state.status, 'succeeded');
    assert.equal(state.nodes.greet!.status, 'succeeded');
    assert.equal(state.nodes['inspect-device']!.status, 'succeeded');
    assert.equal(state.nodes['inspect-device']!.queue, 'gpu');
    assert.deepEqual(state.nodes.greet!.output, { greeting: result.greeting });
  });

  test('an empty object means all defaults, as the Temporal UI sends it', async () => {
    const result = await (await start({})).result();
    const store = await openArtifactStore(workers.config.artifacts);
    assert.equal((await store.getBuffer(result.outputs.greeting)).toString(), 'Hello, world!\n');
  });

  test('bad params fail at once, non-retryably, naming the field', async () => {
    // By name: these params do not type-check, which is the point.
    const handle = await startRun(stack, 'hello', { name: 42, delayMs: -1 });
    await assert.rejects(handle.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError);
      assert.ok(e.cause instanceof ApplicationFailure);
      assert.equal(e.cause.nonRetryable, true);
      assert.equal(e.cause.type, 'InvalidParams');
      assert.match(e.cause.message, /name: .*expected string/i);
      assert.match(e.cause.message, /pipeline hello/);
      assert.match(e.cause.message, /delayMs: /);
      return true;
    });
    const steps = await db.query(`SELECT count(*)::int AS n FROM runs WHERE workflow_id = $1`, [handle.workflowId]);
    assert.equal(steps.rows[0].n, 0, 'nothing ran');
  });

  test('workers serve Prometheus metrics', async () => {
    for (const port of [workers.config.metricsPorts.cpu, workers.config.metricsPorts.gpu]) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(text, /^temporal_\w+/m, `Temporal metrics on :${port}`);
    }
    // Sluice's own, after the runs above: step durations per step, queue and outcome.
    const cpu = await (await fetch(`http://127.0.0.1:${workers.config.metricsPorts.cpu}/metrics`)).text();
    assert.match(cpu, /^sluice_step_duration_seconds_count\{step="hello\.greet",queue="cpu",status="succeeded"\} [1-9]/m);
    const gpu = await (await fetch(`http://127.0.0.1:${workers.config.metricsPorts.gpu}/metrics`)).text();
    assert.match(gpu, /^sluice_step_duration_seconds_count\{step="hello\.inspect-device",queue="gpu",status="succeeded"\} [1-9]/m);
  });

  test('`sluice run hello --wait --json` starts and finishes a run from the CLI', async () => {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(projectRoot, 'cli', 'sluice.mjs'), 'run', 'hello', '--wait', '--json', '--input', '{"name":"CLI"}'], {
        env: workers.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`exit ${code}: ${stderr}`))));
    });
    const r = JSON.parse(out);
    assert.match(r.workflowId, /^hello-/);
    const row = await db.query('SELECT status, params FROM runs WHERE run_id = $1', [r.runId]);
    assert.equal(row.rows[0].status, 'succeeded');
    assert.equal(row.rows[0].params.name, 'CLI');
  });

  test('the CLI refuses bad params before starting anything', async () => {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(projectRoot, 'cli', 'sluice.mjs'), 'run', 'hello', '--input', '{"nme":"typo"}'], {
        env: workers.env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      child.on('exit', (c) => resolve({ code: c, stderr: err }));
    });
    assert.equal(code, 1);
    assert.match(stderr, /invalid params for pipeline hello: .*nme/);
  });
});
