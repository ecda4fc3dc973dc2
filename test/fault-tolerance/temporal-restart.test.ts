/**
 * Fault tolerance: the Temporal server restarts while a step runs. The dev server keeps its
 * database in a file, so after a restart on the same port and file the run's history is still
 * there; workers and clients reconnect by themselves and the run completes with one output.
 *
 * This file starts its own dev server (the harness's one must not be restarted under other files).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { casKey, openArtifactStore } from '../../infra/artifacts';
import { createPool, type Db } from '../../infra/db/pool';
import { freePort } from '../../infra/stack/process';
import { startTemporalDevServer, type TemporalDevServer } from '../../infra/stack/temporal-server';
import { startTestWorkers, temporalClient, tempDir, uniqueId, usePostgres, type TestWorkers } from '../helpers/stack';

let server: TemporalDevServer;
let serverOpts: Parameters<typeof startTemporalDevServer>[0];
let pgh: Awaited<ReturnType<typeof usePostgres>>;
let workers: TestWorkers;
let client: Client;
let db: Db;

before(async () => {
  const home = tempDir('temporal-restart');
  serverOpts = { dbFile: path.join(home, 'dev.db'), logFile: path.join(home, 'temporal.log'), port: await freePort(), headless: true };
  [server, pgh] = await Promise.all([startTemporalDevServer(serverOpts), usePostgres()]);
  workers = await startTestWorkers({ temporalAddress: server.address, databaseUrl: pgh.url });
  client = await temporalClient(server.address);
  db = createPool(pgh.url);
});
after(async () => {
  await workers?.stop();
  await client?.connection.close();
  await db?.end();
  await pgh?.stop();
  await server?.service.stop();
  if (serverOpts) fs.rmSync(path.dirname(serverOpts.dbFile), { recursive: true, force: true });
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

test('Temporal server restarted mid-step (database kept on disk): the run completes with exactly one recorded output', async () => {
  const workflowId = uniqueId('temporal-restart-');
  const handle = await client.workflow.start('hello', {
    taskQueue: workers.config.queues.workflow,
    workflowId,
    args: [{ name: 'restart', delayMs: 6000 }],
  });
  const runId = handle.firstExecutionRunId;
  const store = await openArtifactStore(workers.config.artifacts);
  const expectedSha = crypto.createHash('sha256').update('Hello, restart!\n').digest('hex');
  await waitFor('greet to run and publish its artifact', async () => {
    const { rows } = await db.query(`SELECT 1 FROM step_runs WHERE run_id = $1 AND node_id = 'greet' AND status = 'running'`, [runId]);
    return rows.length && (await store.exists(casKey(expectedSha))) ? true : undefined;
  });

  // SIGTERM the server and wait for it to exit, then start it again on the same port and file.
  await server.service.stop(15_000);
  assert.ok(server.service.child.exitCode !== null || server.service.child.signalCode !== null, 'the dev server exited');
  await new Promise((r) => setTimeout(r, 1000));
  server = await startTemporalDevServer(serverOpts);

  // The old client's channel reconnects by itself; a fresh one proves the history is on disk.
  const fresh = await temporalClient(server.address);
  try {
    const described = await fresh.workflow.getHandle(workflowId, runId).describe();
    assert.equal(described.runId, runId, 'the run survived the restart');
    const result = (await fresh.workflow.getHandle(workflowId, runId).result()) as { runId: string; outputs: { greeting: { uri: string; sha256: string } } };
    assert.equal(result.runId, runId);
    assert.equal(result.outputs.greeting.sha256, expectedSha);
    assert.equal((await store.getBuffer(result.outputs.greeting.uri)).toString(), 'Hello, restart!\n');

    const steps = await db.query(`SELECT node_id, status FROM step_runs WHERE run_id = $1 ORDER BY node_id`, [runId]);
    assert.deepEqual(steps.rows, [
      { node_id: 'greet', status: 'succeeded' },
      { node_id: 'inspect-device', status: 'succeeded' },
    ]);
    const outputs = await db.query(`SELECT to_id FROM lineage_edges WHERE run_id = $1 AND from_id = $2 AND relation = 'produced'`, [runId, `${runId}/greet`]);
    assert.deepEqual(outputs.rows.map((r) => r.to_id), [result.outputs.greeting.uri], 'exactly one recorded output');
    const artifacts = await db.query('SELECT count(*)::int AS n FROM artifacts WHERE uri = $1', [result.outputs.greeting.uri]);
    assert.equal(artifacts.rows[0].n, 1);
    const runs = await db.query('SELECT status FROM runs WHERE workflow_id = $1', [workflowId]);
    assert.deepEqual(runs.rows, [{ status: 'succeeded' }], 'one run row, succeeded');
  } finally {
    await fresh.connection.close();
  }
});
