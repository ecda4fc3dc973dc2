/**
 * Fault tolerance: PostgreSQL (the metadata store) goes away while a step runs and comes back
 * later on the same port. The step's bookkeeping writes fail, the step runtime retries the step
 * inside its attempt (an infrastructure fault spends none of the step's attempts), the pool
 * reconnects, and the run completes without duplicated rows (every write is an upsert on a
 * natural key).
 *
 * This file starts its own embedded PostgreSQL (the harness's server must not be stopped under
 * other files).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createPool, type Db } from '../../infra/db/pool';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../infra/setup/postgres';
import { isPortOpen } from '../../infra/stack/process';
import { projectRoot } from '../../infra/paths';
import { startTestWorkers, temporalClient, tempDir, uniqueId, useTemporal, type TestWorkers } from '../helpers/stack';

let temporal: Awaited<ReturnType<typeof useTemporal>>;
let pgHome: string;
let pgServer: EmbeddedPostgres;
let workers: TestWorkers;
let client: Client;
let db: Db;

before(async () => {
  pgHome = tempDir('pg-restart');
  [temporal, pgServer] = await Promise.all([useTemporal(), startEmbeddedPostgres(pgHome)]);
  workers = await startTestWorkers({ temporalAddress: temporal.address, databaseUrl: pgServer.url });
  client = await temporalClient(temporal.address);
  db = createPool(pgServer.url);
});
after(async () => {
  await workers?.stop();
  await client?.connection.close();
  await db?.end();
  await pgServer?.stop();
  await temporal?.stop();
  if (pgHome) fs.rmSync(pgHome, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('PostgreSQL down for longer than the step\'s attempts last: retried within the attempt, the run completes, no row is duplicated', async () => {
  const workflowId = uniqueId('pg-restart-');
  const handle = await client.workflow.start('hello', {
    taskQueue: workers.config.queues.workflow,
    workflowId,
    args: [{ name: 'pg', delayMs: 2500 }],
  });
  const runId = handle.firstExecutionRunId;
  await waitFor('greet to start', async () => {
    const { rows } = await db.query(`SELECT 1 FROM step_runs WHERE run_id = $1 AND node_id = 'greet' AND status = 'running'`, [runId]);
    return rows.length ? true : undefined;
  });

  // Stop PostgreSQL while greet sleeps; it finishes while the database is down, so recording its
  // output fails. Down for 12 s: longer than greet's 3 attempts 1 s and 2 s apart used to last.
  const port = pgServer.port;
  await pgServer.stop();
  assert.equal(await isPortOpen(port), false, 'PostgreSQL is down');
  const downAt = Date.now();
  const workerLog = path.join(workers.home, 'worker-cpu.log');
  const retrying = new RegExp(`metadata database at [^ ]+:${port} unreachable; retrying the step`);
  await waitFor('the worker to report the unreachable database', async () => (retrying.test(fs.readFileSync(workerLog, 'utf8')) ? true : undefined), 30_000);
  await sleep(Math.max(0, 12_000 - (Date.now() - downAt)));
  const during = await handle.describe();
  assert.equal(during.status.name, 'RUNNING', 'the run waits out the outage');
  const pending = during.raw.pendingActivities?.find((a) => a.activityType?.name === 'hello.greet');
  assert.equal(pending?.attempt ?? 1, 1, 'the outage spent none of greet\'s attempts');
  pgServer = await startEmbeddedPostgres(pgHome);
  assert.equal(pgServer.port, port, 'PostgreSQL came back on the same port');

  const result = (await handle.result()) as { outputs: { greeting: { uri: string; sha256: string } } };
  assert.equal(result.outputs.greeting.sha256, crypto.createHash('sha256').update('Hello, pg!\n').digest('hex'));

  const step = await db.query(`SELECT status, attempt FROM step_runs WHERE run_id = $1 AND node_id = 'greet'`, [runId]);
  assert.equal(step.rows.length, 1, 'one step_runs row for greet');
  assert.equal(step.rows[0].status, 'succeeded');
  assert.equal(step.rows[0].attempt, 1, 'greet completed in its first attempt');

  const steps = await db.query(`SELECT node_id, status FROM step_runs WHERE run_id = $1 ORDER BY node_id`, [runId]);
  assert.deepEqual(steps.rows, [
    { node_id: 'greet', status: 'succeeded' },
    { node_id: 'inspect-device', status: 'succeeded' },
  ]);
  const runs = await db.query('SELECT run_id, status FROM runs WHERE workflow_id = $1', [workflowId]);
  assert.deepEqual(runs.rows, [{ run_id: runId, status: 'succeeded' }], 'one run row');
  const outputs = await db.query(`SELECT to_id FROM lineage_edges WHERE run_id = $1 AND from_id = $2 AND relation = 'produced'`, [runId, `${runId}/greet`]);
  assert.deepEqual(outputs.rows.map((r) => r.to_id), [result.outputs.greeting.uri], 'exactly one recorded output');
  const artifacts = await db.query('SELECT count(*)::int AS n FROM artifacts WHERE uri = $1', [result.outputs.greeting.uri]);
  assert.equal(artifacts.rows[0].n, 1);
  const edges = await db.query(
    `SELECT from_id, relation, to_id, count(*)::int AS n FROM lineage_edges WHERE run_id = $1 GROUP BY 1, 2, 3 HAVING count(*) > 1`,
    [runId],
  );
  assert.deepEqual(edges.rows, [], 'no duplicated lineage edge');
});

test('PostgreSQL stopped while a worker-side client holds a transaction: the transaction fails, the process survives and reconnects', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'test', 'helpers', 'hold-transaction.ts'), pgServer.url], {
    cwd: projectRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await waitFor('the client to hold a transaction', async () => (out.includes('in-transaction') ? true : undefined), 30_000);
    const port = pgServer.port;
    await pgServer.stop();
    assert.equal(await isPortOpen(port), false, 'PostgreSQL is down');
    child.stdin.write('stopped\n');
    await waitFor('the transaction to fail', async () => (out.includes('transaction-failed') || child.exitCode !== null ? true : undefined), 30_000);
    assert.equal(child.exitCode, null, `the process survived the outage (stderr: ${err.slice(-2000)})`);
    assert.match(out, /transaction-failed: /);
    pgServer = await startEmbeddedPostgres(pgHome);
    child.stdin.write('restarted\n');
    assert.equal(await exited, 0, `clean exit (stderr: ${err.slice(-2000)})`);
    assert.match(out, /recovered 1/, 'the pool reconnected after the restart');
  } finally {
    child.kill('SIGKILL');
  }
});
