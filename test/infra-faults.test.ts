import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { hostPort, infrastructureFault } from '../activities/runtime/infra-faults';
import { retryInfrastructure } from '../activities/runtime/infra-retry';
import { infraRetryBudget } from '../activities/runtime/step-activity';
import { invalidInput, isFailure } from '../pipelines/failures';
import { freePort } from '../infra/stack/process';

const targets = { database: '127.0.0.1:5999', artifactStore: 'localhost:9000', temporal: 'localhost:7233' };

test('a refused PostgreSQL connection is an infrastructure fault naming the metadata database', async () => {
  const port = await freePort();
  const client = new pg.Client({ connectionString: `postgres://x@127.0.0.1:${port}/db` });
  const err = await client.connect().then(() => undefined, (e: unknown) => e);
  assert.ok(err, 'connecting to a closed port fails');
  assert.deepEqual(infrastructureFault(err, { ...targets, database: `127.0.0.1:${port}` }), { what: `metadata database at 127.0.0.1:${port}`, detail: 'ECONNREFUSED' });
  // The same error on a port that is none of ours names the port instead.
  assert.equal(infrastructureFault(err, targets)?.what, `the service at 127.0.0.1:${port}`);
});

test('server shutdowns, connection classes and broken clients are faults of the database; the step\'s own errors are not', () => {
  const adminShutdown = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01', severity: 'FATAL' });
  assert.deepEqual(infrastructureFault(adminShutdown, targets), { what: 'metadata database at 127.0.0.1:5999', detail: '57P01 terminating connection due to administrator command' });
  assert.equal(infrastructureFault(Object.assign(new Error('x'), { code: '08006' }), targets)?.what, 'metadata database at 127.0.0.1:5999');
  assert.equal(infrastructureFault(new Error('Client has encountered a connection error and is not queryable'), targets)?.what, 'metadata database at 127.0.0.1:5999');
  // Wrapped by a step, the cause still counts.
  assert.equal(infrastructureFault(new Error('recording output failed', { cause: new Error('Connection terminated unexpectedly') }), targets)?.what, 'metadata database at 127.0.0.1:5999');
  // An S3 request to the store's port.
  const s3 = Object.assign(new Error('connect ECONNREFUSED ::1:9000'), { code: 'ECONNREFUSED', address: '::1', port: 9000 });
  assert.equal(infrastructureFault(new AggregateError([s3], 'upload failed'), targets)?.what, 'artifact store at localhost:9000');
  const grpc = Object.assign(new Error('14 UNAVAILABLE: Connection refused'), { code: 14 });
  assert.equal(infrastructureFault(Object.assign(new Error('Failed to signal'), { name: 'ServiceError', cause: grpc }), targets)?.what, 'Temporal at localhost:7233');

  for (const e of [
    Object.assign(new Error('relation "x" does not exist'), { code: '42P01' }),
    Object.assign(new Error('duplicate key'), { code: '23505' }),
    Object.assign(new Error('no such file'), { code: 'ENOENT' }),
    invalidInput('column "y" is missing'),
    new TypeError('x is undefined'),
    'a string',
  ]) {
    assert.equal(infrastructureFault(e, targets), undefined, String((e as Error).message ?? e));
  }
});

test('hostPort fills in default ports', () => {
  assert.equal(hostPort('postgres://u:p@db.example:6543/sluice'), 'db.example:6543');
  assert.equal(hostPort('postgresql://u@db/sluice'), 'db:5432');
  assert.equal(hostPort('http://minio:9000'), 'minio:9000');
  assert.equal(hostPort('https://s3.amazonaws.com'), 's3.amazonaws.com:443');
  assert.equal(hostPort(undefined), undefined);
});

function fakeClock() {
  let t = 0;
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)), slept };
}

test('infrastructure faults are retried with doubling delays until the body succeeds; other errors are not retried', async () => {
  const clock = fakeClock();
  let calls = 0;
  const retries: string[] = [];
  const result = await retryInfrastructure(
    async () => {
      calls++;
      if (calls <= 4) throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
      return 'done';
    },
    { targets, budgetMs: 300_000, sleep: clock.sleep, now: clock.now, onRetry: (f, d) => retries.push(`${f.what} ${d}`) },
  );
  assert.equal(result, 'done');
  assert.equal(calls, 5);
  assert.deepEqual(clock.slept, [1000, 2000, 4000, 8000]);
  assert.equal(retries[0], 'metadata database at 127.0.0.1:5999 1000');

  let own = 0;
  await assert.rejects(
    retryInfrastructure(async () => {
      own++;
      throw invalidInput('bad column');
    }, { targets, budgetMs: 300_000, sleep: clock.sleep, now: clock.now, onRetry: () => undefined }),
    /bad column/,
  );
  assert.equal(own, 1, "a step's own failure is not retried here");
});

test('an outage longer than the budget ends the attempt with InfrastructureUnavailable naming what is unreachable', async () => {
  const clock = fakeClock();
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5999'), { code: 'ECONNREFUSED', address: '127.0.0.1', port: 5999 });
  const err = await retryInfrastructure(async () => Promise.reject(refused), { targets, budgetMs: 60_000, sleep: clock.sleep, now: clock.now, onRetry: () => undefined }).catch((e: unknown) => e);
  assert.ok(isFailure(err, 'InfrastructureUnavailable'), String(err));
  assert.match((err as Error).message, /^metadata database at 127\.0\.0\.1:5999 unreachable \(ECONNREFUSED\); gave up after \d+ s/);
  // 1+2+4+8+16 s spent; the next wait (30 s) would pass the 60 s budget.
  assert.deepEqual(clock.slept, [1000, 2000, 4000, 8000, 16000]);
  assert.match((err as Error).message, /gave up after 31 s/);
  assert.ok((err as { retryable: boolean }).retryable, 'the step may still retry it as an attempt');
});

test("the retry budget is cut to what the attempt's start-to-close timeout leaves", () => {
  assert.equal(infraRetryBudget(300_000, { startToCloseTimeoutMs: 3_600_000, currentAttemptScheduledTimestampMs: 0 }, 1_000), 300_000);
  assert.equal(infraRetryBudget(300_000, { startToCloseTimeoutMs: 60_000, currentAttemptScheduledTimestampMs: 0 }, 10_000), 45_000);
  assert.equal(infraRetryBudget(300_000, { startToCloseTimeoutMs: 30_000, currentAttemptScheduledTimestampMs: 0 }, 29_000), 0);
});
