/**
 * Fault tolerance: the S3 artifact store (MinIO) is down when a step wants to write its output.
 * The step runtime names the unreachable store and retries the step inside its attempt (an
 * infrastructure fault spends none of the step's attempts), and once MinIO is back (same port,
 * same data directory, same credentials) the run completes and its artifact reads back intact.
 *
 * This file starts its own MinIO on a fixed port with fixed credentials so it can restart it
 * (the harness's MinIO must not be stopped under other files).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { openArtifactStore } from '../../infra/artifacts';
import { createPool, type Db } from '../../infra/db/pool';
import { startMinio, type MinioServer } from '../../infra/setup/minio';
import { freePort, isPortOpen } from '../../infra/stack/process';
import { uniqueBucket } from '../helpers/minio';
import { startTestWorkers, temporalClient, tempDir, uniqueId, usePostgres, useTemporal, type TestWorkers } from '../helpers/stack';

let temporal: Awaited<ReturnType<typeof useTemporal>>;
let pgh: Awaited<ReturnType<typeof usePostgres>>;
let minioHome: string;
let minioOpts: Parameters<typeof startMinio>[0];
let minio: MinioServer;
let workers: TestWorkers;
let client: Client;
let db: Db;

before(async () => {
  minioHome = tempDir('minio-outage');
  minioOpts = {
    dataDir: path.join(minioHome, 'data'),
    logFile: path.join(minioHome, 'minio.log'),
    port: await freePort(),
    accessKey: 'sluice-outage',
    secretKey: crypto.randomBytes(16).toString('hex'),
  };
  [temporal, pgh, minio] = await Promise.all([useTemporal(), usePostgres(), startMinio(minioOpts)]);
  workers = await startTestWorkers({
    temporalAddress: temporal.address,
    databaseUrl: pgh.url,
    env: {
      SLUICE_ARTIFACT_URL: `s3://${uniqueBucket('outage')}`,
      S3_ENDPOINT: minio.endpoint,
      S3_ACCESS_KEY: minio.accessKey,
      S3_SECRET_KEY: minio.secretKey,
      S3_REGION: 'us-east-1',
    },
  });
  client = await temporalClient(temporal.address);
  db = createPool(pgh.url);
});
after(async () => {
  await workers?.stop();
  await client?.connection.close();
  await db?.end();
  await pgh?.stop();
  await temporal?.stop();
  await minio?.service.stop();
  if (minioHome) fs.rmSync(minioHome, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('MinIO stopped for a while: greet waits it out within its first attempt, then succeeds once MinIO is back; the artifact reads back with the right hash', async () => {
  assert.equal(workers.config.artifacts.kind, 's3');
  // Workers are up (their bucket exists); now take the store away before the run starts.
  await minio.service.stop();
  assert.equal(await isPortOpen(minioOpts.port!), false, 'MinIO is down');

  const workflowId = uniqueId('minio-outage-');
  const handle = await client.workflow.start('hello', {
    taskQueue: workers.config.queues.workflow,
    workflowId,
    args: [{ name: 'outage' }],
  });
  const runId = handle.firstExecutionRunId;

  // The worker names what is unreachable and retries within the attempt: greet stays in its
  // first attempt, recorded as running, for longer than its 3 attempts 1 s and 2 s apart lasted.
  const downAt = Date.now();
  const workerLog = path.join(workers.home, 'worker-cpu.log');
  const retrying = new RegExp(`artifact store at [^ ]+:${minioOpts.port} unreachable; retrying the step`);
  await waitFor('the worker to report the unreachable store', async () => (fs.existsSync(workerLog) && retrying.test(fs.readFileSync(workerLog, 'utf8')) ? true : undefined), 60_000);
  await sleep(Math.max(0, 10_000 - (Date.now() - downAt)));
  const during = await handle.describe();
  assert.equal(during.status.name, 'RUNNING', 'the run keeps going while the store is down');
  const greet = during.raw.pendingActivities?.find((a) => a.activityType?.name === 'hello.greet');
  assert.equal(greet?.attempt ?? 1, 1, "the outage spent none of greet's attempts");
  const recorded = await db.query(`SELECT status FROM step_runs WHERE run_id = $1 AND node_id = 'greet'`, [runId]);
  assert.deepEqual(recorded.rows, [{ status: 'running' }]);

  minio = await startMinio(minioOpts);
  const result = (await handle.result()) as { outputs: { greeting: { uri: string; sha256: string; size: number } } };
  const expected = crypto.createHash('sha256').update('Hello, outage!\n').digest('hex');
  assert.equal(result.outputs.greeting.sha256, expected);
  assert.match(result.outputs.greeting.uri, /^s3:\/\//);

  const store = await openArtifactStore(workers.config.artifacts);
  const body = await store.getBuffer(result.outputs.greeting.uri); // verifies the hash on read
  assert.equal(body.toString(), 'Hello, outage!\n');
  assert.equal(crypto.createHash('sha256').update(body).digest('hex'), expected);

  const step = await db.query(`SELECT status, attempt FROM step_runs WHERE run_id = $1 AND node_id = 'greet'`, [runId]);
  assert.equal(step.rows[0].status, 'succeeded');
  assert.equal(step.rows[0].attempt, 1, 'greet succeeded in its first attempt');
  const outputs = await db.query(`SELECT to_id FROM lineage_edges WHERE run_id = $1 AND from_id = $2 AND relation = 'produced'`, [runId, `${runId}/greet`]);
  assert.deepEqual(outputs.rows.map((r) => r.to_id), [result.outputs.greeting.uri], 'exactly one recorded output');
  const run = await db.query('SELECT status FROM runs WHERE run_id = $1', [runId]);
  assert.equal(run.rows[0].status, 'succeeded');
});
