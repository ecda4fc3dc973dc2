import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { casKey, openArtifactStore } from '../infra/artifacts';
import type { Db } from '../infra/db/pool';
import { projectRoot } from '../infra/paths';
import { uniqueId, type TestWorkers, startTestStack, type TestStack } from './helpers/stack';

let stack: TestStack;
let workers: TestWorkers;
let client: Client;
let db: Db;

before(async () => {
  stack = await startTestStack({ env: { SLUICE_EXTRA_PIPELINES: path.join(projectRoot, 'test', 'fixtures', 'fanout-scale-pipelines.ts') } });
  ({ workers, client, db } = stack);
});
after(async () => {
  await stack?.stop();
});

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('SIGKILL of the CPU worker mid-step: a new worker finishes the run with exactly one recorded output', async () => {
  const handle = await client.workflow.start('hello', {
    taskQueue: workers.config.queues.workflow,
    workflowId: uniqueId('kill-'),
    args: [{ name: 'crash', delayMs: 6000 }],
  });
  const runId = handle.firstExecutionRunId;
  // Wait until the greet step has published its artifact and is still running.
  const store = await openArtifactStore(workers.config.artifacts);
  const expectedKey = casKey(crypto.createHash('sha256').update('Hello, crash!\n').digest('hex'));
  await waitFor('greet to publish its artifact', async () => {
    const { rows } = await db.query(`SELECT 1 FROM step_runs WHERE run_id = $1 AND node_id = 'greet' AND status = 'running'`, [runId]);
    return rows.length && (await store.exists(expectedKey)) ? true : undefined;
  });
  const killed = workers.cpu!;
  killed.child.kill('SIGKILL');
  await new Promise((r) => killed.child.once('exit', r));
  await workers.startWorker('cpu');

  const result = ((await handle.result()) as { outputs: { greeting: { uri: string } } }).outputs;
  const step = await db.query(`SELECT status, attempt FROM step_runs WHERE run_id = $1 AND node_id = 'greet'`, [runId]);
  assert.equal(step.rows[0].status, 'succeeded');
  assert.ok(step.rows[0].attempt >= 2, `greet was retried after the kill (attempt ${step.rows[0].attempt})`);
  const outputs = await db.query(
    `SELECT to_id FROM lineage_edges WHERE run_id = $1 AND from_id = $2 AND relation = 'produced'`,
    [runId, `${runId}/greet`],
  );
  assert.deepEqual(outputs.rows.map((r) => r.to_id), [result.greeting.uri], 'exactly one recorded output');
  const artifacts = await db.query('SELECT count(*)::int AS n FROM artifacts WHERE uri = $1', [result.greeting.uri]);
  assert.equal(artifacts.rows[0].n, 1);
  const run = await db.query('SELECT status FROM runs WHERE run_id = $1', [runId]);
  assert.equal(run.rows[0].status, 'succeeded');
});

test('SIGKILL of the CPU worker mid-fan-out: the batches it held are retried, the items it had finished are not run again, nothing is lost', async () => {
  const n = 20;
  const handle = await client.workflow.start('fs-naps-batched', {
    taskQueue: workers.config.queues.workflow,
    workflowId: uniqueId('kill-fanout-'),
    args: [{ n, ms: 300 }],
  });
  const runId = handle.firstExecutionRunId;
  // Kill once a few items have finished and two batches are running.
  const before = await waitFor('some items to finish', async () => {
    const { rows } = await db.query<{ node_id: string }>(`SELECT node_id FROM step_runs WHERE run_id = $1 AND node_id LIKE 'nap[%' AND status = 'succeeded'`, [runId]);
    return rows.length >= 3 ? new Set(rows.map((r) => r.node_id)) : undefined;
  });
  const killed = workers.cpu!;
  killed.child.kill('SIGKILL');
  await new Promise((r) => killed.child.once('exit', r));
  await workers.startWorker('cpu');

  const result = (await handle.result()) as { outputs: { naps: { i: number }[] } };
  assert.deepEqual(result.outputs.naps.map((x) => x.i), Array.from({ length: n }, (_, i) => i), 'every item, in order');
  const { rows } = await db.query<{ node_id: string; status: string; attempt: number }>(
    `SELECT node_id, status, attempt FROM step_runs WHERE run_id = $1 AND node_id LIKE 'nap[%'`,
    [runId],
  );
  assert.equal(rows.length, n, 'one step run per item');
  assert.ok(rows.every((r) => r.status === 'succeeded'), JSON.stringify(rows.filter((r) => r.status !== 'succeeded')));
  for (const r of rows.filter((r) => before.has(r.node_id))) assert.equal(r.attempt, 1, `${r.node_id} finished before the kill and was not run again`);
  assert.ok(rows.some((r) => r.attempt >= 2), 'the batches the killed worker held were retried');
});
