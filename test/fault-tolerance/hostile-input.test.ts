/**
 * Fault tolerance: hostile input. One place that checks, end to end where it is cheap, that each
 * kind of bad input gets a clear error (naming what is wrong) and loses nothing. Several cases are
 * covered in more depth elsewhere; those files are cited next to each case here.
 *
 * Step implementations are called directly with a test StepContext against a real PostgreSQL and
 * a real local artifact store; the params case goes through Temporal with a real worker.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { readFrame } from '../../activities/data/frames';
import { detectDrift } from '../../activities/drift/index';
import { readOnlineFeatures } from '../../activities/features/index';
import { profileDataset, runIngest } from '../../activities/ingestion';
import { InvalidArtifactKeyError, LocalArtifactStore, type ArtifactStore } from '../../infra/artifacts';
import { getDatasetVersion } from '../../infra/db/datasets';
import { migrate } from '../../infra/db/migrate';
import { createPool, type Db } from '../../infra/db/pool';
import { checkModelName, getRegisteredModel, RegistryError } from '../../infra/db/registry';
import { detectDriftStep } from '../../pipelines/steps/drift';
import { col, featureView, type FeatureView } from '../../pipelines/steps/features';
import { ingestInput, ingestOutput } from '../../pipelines/steps/ingestion';
import { datasetProfile } from '../../pipelines/steps/profile';
import { registeredModelName } from '../../pipelines/steps/registry';
import { startTestWorkers, temporalClient, tempDir, uniqueId, usePostgres, useTemporal, type TestWorkers } from '../helpers/stack';
import { testStepContext } from '../helpers/step-context';
import { isFailure, type SluiceFailure } from '../../pipelines/failures';

let pgh: Awaited<ReturnType<typeof usePostgres>>;
let db: Db;
let store: ArtifactStore;
let dir: string;

before(async () => {
  pgh = await usePostgres();
  db = createPool(pgh.url);
  await migrate(db);
  dir = tempDir('hostile');
  // File sources read only under the data roots: here, this test's directory (and no more).
  process.env.SLUICE_DATA_ROOTS = dir;
  store = await LocalArtifactStore.open(path.join(dir, 'artifacts'));
});
after(async () => {
  await db?.end();
  await pgh?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const file = (name: string, content: string | Buffer): string => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, content);
  return p;
};
const ingest = async (input: unknown) => ingestOutput.parse(await runIngest(ingestInput.parse(input), testStepContext({ store, db })));
const fromFile = (p: string, extra: Record<string, unknown> = {}) => ({ source: { kind: 'file', path: p }, name: uniqueId('ds'), ...extra });

/**
 * The non-retryable bad-input kind of failure (the failure table's InvalidInput, which the step
 * runtime turns into a non-retryable ApplicationFailure), with a message matching `re`.
 */
async function rejectsInvalid(p: Promise<unknown>, re: RegExp): Promise<SluiceFailure> {
  let caught: unknown;
  await assert.rejects(p, (e) => ((caught = e), true));
  assert.ok(isFailure(caught, 'InvalidInput'), `expected an InvalidInput failure, got ${String(caught)}`);
  assert.equal(caught.retryable, false);
  assert.match(caught.message, re);
  return caught;
}

const tableExists = async (t: string) => Boolean((await db.query(`SELECT to_regclass($1) AS t`, [t])).rows[0].t);

describe('hostile data', () => {
  // Deeper: test/ingestion.test.ts "malformed rows".
  test('(a) malformed CSV: the step fails naming the file and the line; nothing is registered', async () => {
    const p = file('ragged.csv', 'id,name\n1,ann\n2,bob,extra\n3,"never closed\n');
    const input = fromFile(p);
    await rejectsInvalid(ingest(input), /ragged\.csv: .*line 3: expected 2 fields, found 3/);
    assert.equal(await getDatasetVersion(db, input.name), undefined, 'no half-registered dataset version');
  });

  // Deeper: test/ingestion.test.ts "a value that does not fit its declared type …".
  test('(b) wrong types against a declared schema: the failure names the column, the value and the line', async () => {
    const p = file('types.csv', 'id,amount,when\n1,10,2024-01-01\n2,ten,2024-01-02\n');
    const input = fromFile(p, { schema: [{ name: 'amount', type: 'int64' }] });
    await rejectsInvalid(ingest(input), /line 3: column "amount": cannot parse "ten" as int64/);
    assert.equal(await getDatasetVersion(db, input.name), undefined);
    // Within the bad-row budget it is quarantined, not lost.
    const out = await ingest({ ...input, maxBadRows: 1 });
    assert.equal(out.dataset.rows, 1);
    assert.equal(out.badRows, 1);
    const q = (await readFrame(store, out.quarantine!)).toRecords();
    assert.deepEqual(q.map((r) => [r.line, r.reason]), [[3, 'column "amount": cannot parse "ten" as int64']]);
  });

  // Deeper: test/profile.test.ts (profile conventions), test/drift.test.ts "edge cases".
  test('(c) NaN and ±Inf: ingest keeps them as float64 NaN/±Inf, the profile counts them as non-finite, drift drops them', async () => {
    const ref = await ingest(fromFile(file('nan-ref.csv', 'x,y\n1.5,1\nNaN,2\ninf,3\n-inf,4\n2.5,5\n3.5,6\n4.5,7\n')));
    const cur = await ingest(fromFile(file('nan-cur.csv', 'x,y\n1.5,1\n-Infinity,2\n2.5,3\nnan,4\n3.5,5\n+inf,6\n')));
    const x = (await readFrame(store, ref.dataset)).getColumn('x').toArray() as number[];
    assert.equal(ref.dataset.schema.find((c) => c.name === 'x')?.type, 'float64');
    assert.deepEqual(x.map(String), ['1.5', 'NaN', 'Infinity', '-Infinity', '2.5', '3.5', '4.5']);

    const prof = await profileDataset.run({ dataset: ref.dataset }, testStepContext({ store, db }));
    const profile = datasetProfile.parse(JSON.parse((await store.getBuffer(prof.profile)).toString()));
    const px = profile.columns.find((c) => c.name === 'x')!;
    assert.equal(px.nonFinite, 3);
    assert.equal(px.count, 7, "NaN and ±Inf are values, not nulls");
    assert.equal(px.numeric?.min, 1.5);
    assert.equal(px.numeric?.max, 4.5);
    assert.equal(px.numeric?.mean, 3);

    const drift = await detectDrift.run(detectDriftStep.input.parse({ reference: ref.dataset, current: cur.dataset }), testStepContext({ store, db }));
    assert.equal(drift.columns.x!.referenceCount, 4, 'NaN and ±Inf dropped from the reference');
    assert.equal(drift.columns.x!.currentCount, 3, 'and from the current side');
    assert.ok(Number.isFinite(drift.columns.x!.statistic!), 'a finite statistic');
  });

  test('(d) a 10 MB string value: ingest succeeds with the value intact, or fails clearly; the process survives', async (t) => {
    const big = 'x'.repeat(10 * 1024 * 1024);
    const input = fromFile(file('big.csv', `id,text\n1,short\n2,${big}\n3,"quoted, ${'y'.repeat(1000)}"\n`));
    let out: Awaited<ReturnType<typeof ingest>> | undefined;
    try {
      out = await ingest(input);
    } catch (e) {
      // A refusal must be bad input with a message that says why, never a crash.
      assert.ok(isFailure(e, 'InvalidInput') && !e.retryable, `unexpected failure: ${String(e)}`);
      assert.match(e.message, /big\.csv/);
      assert.equal(await getDatasetVersion(db, input.name), undefined);
      t.diagnostic(`refused: ${e.message.slice(0, 200)}`);
      return;
    }
    assert.equal(out.dataset.rows, 3);
    const texts = (await readFrame(store, out.dataset)).getColumn('text').toArray() as string[];
    assert.equal(texts[1]!.length, big.length, 'the 10 MB value is kept whole');
    assert.equal(texts[1], big);
    assert.equal(texts[2], `quoted, ${'y'.repeat(1000)}`);
    t.diagnostic('ingested, the 10 MB value kept whole');
  });
});

// Deeper: test/ingestion.test.ts "data roots".
describe('file sources confined to the data roots', () => {
  test('(h) ../../etc/passwd, absolute paths, symlinks and .. out of the roots are refused naming the roots; nothing is registered', async () => {
    const elsewhere = tempDir('elsewhere');
    try {
      fs.writeFileSync(path.join(elsewhere, 'x.csv'), 'a\n1\n');
      fs.symlinkSync('/etc/passwd', path.join(dir, 'passwd.csv'));
      fs.symlinkSync(elsewhere, path.join(dir, 'linked'));
      const hostile = [
        '../../etc/passwd',
        path.relative(process.cwd(), '/etc/passwd'),
        '/etc/passwd',
        path.join(dir, 'passwd.csv'),
        path.join(dir, 'linked', 'x.csv'),
        path.join(dir, '..', path.basename(elsewhere), 'x.csv'),
        path.join(elsewhere, 'nope.csv'),
      ];
      for (const p of hostile) {
        const input = { source: { kind: 'file', path: p, format: 'csv' }, name: uniqueId('ds') };
        const e = await rejectsInvalid(ingest(input), /outside the data roots/);
        assert.ok(e.message.includes(`only under ${dir}`), `names the roots: ${e.message}`);
        assert.ok(!e.message.includes('root:'), 'tells nothing of the file it refused');
        assert.equal(await getDatasetVersion(db, input.name), undefined, p);
      }
      // Inside the roots, files (and symlinks to files inside them) still read.
      fs.symlinkSync(file('inside.csv', 'a\n1\n2\n'), path.join(dir, 'alias.csv'));
      assert.equal((await ingest(fromFile(path.join(dir, 'alias.csv')))).dataset.rows, 2);
    } finally {
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});

// Deeper: test/artifact-keys.test.ts, test/artifacts-local.test.ts, test/artifacts-s3.test.ts.
describe('hostile artifact keys', () => {
  test('(e) "..", absolute paths and NUL are rejected naming the key; nothing is written outside the store', async () => {
    const outside = path.join(dir, 'escaped.txt');
    const hostile = ['../escaped.txt', 'a/../../escaped.txt', outside, '/etc/passwd', 'a\0b', 'ok/\0/x', '..\\escaped.txt'];
    for (const key of hostile) {
      for (const op of [() => store.put(key, 'pwned'), () => store.getBuffer(key), () => store.exists(key)]) {
        await assert.rejects(op(), (e: unknown) => {
          assert.ok(e instanceof InvalidArtifactKeyError, `expected InvalidArtifactKeyError for ${JSON.stringify(key)}, got ${String(e)}`);
          assert.equal(e.retryable, false);
          assert.ok(e.message.includes(JSON.stringify(key)), `the message names the key: ${e.message}`);
          return true;
        });
      }
    }
    assert.equal(fs.existsSync(outside), false, 'nothing escaped the store');
    assert.ok(!fs.readFileSync('/etc/passwd', 'utf8').includes('pwned'));
  });
});

describe('SQL in names', () => {
  const sqlName = `x'; DROP TABLE runs; --`;

  // Deeper: test/ingestion.test.ts "identifiers from users never reach SQL unquoted".
  test('(f) dataset names: refused by the schema and by the implementation; runs still exists', async () => {
    for (const name of [sqlName, `x"; DROP TABLE runs; --`, `runs; DROP TABLE runs`]) {
      assert.equal(ingestInput.safeParse({ source: { kind: 'file', path: 'x.csv' }, name }).success, false, name);
      await rejectsInvalid(runIngest({ source: { kind: 'file', path: 'x.csv' }, name, maxBadRows: 0 }, testStepContext({ store, db })), /invalid dataset name/);
      await assert.rejects(getDatasetVersion(db, name), /invalid dataset name/);
      const table = await runIngest({ source: { kind: 'postgres', table: name }, name: 'ok', maxBadRows: 0 }, testStepContext({ store, db })).catch((e) => e);
      assert.ok(isFailure(table, 'InvalidInput') && /invalid PostgreSQL table name/.test(table.message), String(table));
    }
    assert.ok(await tableExists('runs'), 'runs still exists');
    assert.ok(await tableExists('datasets'), 'datasets still exists');
  });

  // Deeper: test/features.test.ts "hostile view and column names fail with a clear error before any SQL".
  test('(f) feature view names: refused before any SQL; runs still exists', async () => {
    const good = featureView({ name: 'safe_view', version: 1, entities: ['origin'], timestamp: 'date', ttl: '1d', features: [col('distance').as('distance')] });
    for (const name of [sqlName, `fv"; DROP TABLE runs; --`]) {
      const view = { ...good, name } as FeatureView;
      await assert.rejects(readOnlineFeatures(db, view, [{ origin: 'A' }]), (e: unknown) => {
        assert.ok(isFailure(e, 'InvalidInput') && !e.retryable, String(e));
        assert.ok(e.message.includes(JSON.stringify(name)), `names the view: ${e.message}`);
        return true;
      });
    }
    assert.ok(await tableExists('runs'), 'runs still exists');
  });

  // Deeper: test/registry.test.ts "model names".
  test('(f) model names: refused by the schema and the registry; runs still exists', async () => {
    for (const name of [sqlName, `m"; DROP TABLE runs; --`, `models:/x/1`]) {
      assert.equal(registeredModelName.safeParse(name).success, false, name);
      assert.throws(() => checkModelName(name), (e: unknown) => e instanceof RegistryError && e.message.includes('invalid model name'));
      await assert.rejects(getRegisteredModel(db, name), /invalid model name/);
    }
    assert.ok(await tableExists('runs'), 'runs still exists');
    assert.ok(await tableExists('registered_models'), 'registered_models still exists');
  });
});

describe('oversized params through Temporal', () => {
  let temporal: Awaited<ReturnType<typeof useTemporal>>;
  let workers: TestWorkers;
  let client: Client;
  before(async () => {
    temporal = await useTemporal();
    workers = await startTestWorkers({ temporalAddress: temporal.address, databaseUrl: pgh.url, kinds: ['cpu'] });
    client = await temporalClient(temporal.address);
  });
  after(async () => {
    await workers?.stop();
    await client?.connection.close();
    await temporal?.stop();
  });

  const runRows = async (workflowId: string) => (await db.query('SELECT status FROM runs WHERE workflow_id = $1', [workflowId])).rows;

  test('(g) a 2 MB+ params object is refused at start, naming the size limit; no run exists, nothing recorded', async (t) => {
    const workflowId = uniqueId('huge-params-');
    const params = { name: 'x', blob: 'z'.repeat(2.5 * 1024 * 1024) };
    await assert.rejects(
      client.workflow.start('hello', { taskQueue: workers.config.queues.workflow, workflowId, args: [params] }),
      (e: unknown) => {
        // The SDK's ServiceError ("Failed to start Workflow") carries the server's reason as its cause.
        const cause = (e as Error).cause as (Error & { details?: string }) | undefined;
        const reason = `${(e as Error).message}: ${cause?.details ?? cause?.message ?? ''}`;
        assert.match(reason, /Failed to start Workflow/, reason);
        assert.match(reason, /size exceeds limit|exceeds? .*limit/i, `a clear error about the size: ${reason}`);
        t.diagnostic(reason);
        return true;
      },
    );
    await assert.rejects(client.workflow.getHandle(workflowId).describe(), /not found/i, 'the workflow was never created');
    assert.deepEqual(await runRows(workflowId), [], 'no run row');
  });

  test('(g) a large params object under the limit (1 MB) fails validation clearly before anything is recorded', async () => {
    const workflowId = uniqueId('big-params-');
    const handle = await client.workflow.start('hello', {
      taskQueue: workers.config.queues.workflow,
      workflowId,
      args: [{ name: 'n'.repeat(1024 * 1024) }],
    });
    await assert.rejects(handle.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError, String(e));
      const cause = e.cause as ApplicationFailure;
      assert.match(cause.message, /name/, `names the field: ${cause.message}`);
      assert.equal(cause.nonRetryable, true);
      return true;
    });
    assert.deepEqual(await runRows(workflowId), [], 'no half-recorded run');
    assert.equal((await db.query('SELECT count(*)::int AS n FROM step_runs WHERE run_id = $1', [handle.firstExecutionRunId])).rows[0].n, 0);
  });
});
