import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createPool, type Db } from '../infra/db/pool';
import { loadMigrations, migrate } from '../infra/db/migrate';
import { tempDir, usePostgres } from './helpers/stack';

let pgHandle: Awaited<ReturnType<typeof usePostgres>>;
let db: Db;

before(async () => {
  pgHandle = await usePostgres();
  db = createPool(pgHandle.url, { max: 6 });
});
after(async () => {
  await db.end();
  await pgHandle.stop();
});

test('concurrent migrators apply each migration exactly once', async () => {
  const results = await Promise.all([migrate(db), migrate(db), migrate(db)]);
  const appliedCounts = results.map((r) => r.applied.length);
  const total = loadMigrations().length;
  // One caller did all the work; the others waited on the lock and found nothing to do.
  assert.deepEqual(appliedCounts.sort(), [0, 0, total]);
  const { rows } = await db.query('SELECT version FROM schema_migrations ORDER BY version');
  assert.deepEqual(rows.map((r) => r.version), loadMigrations().map((m) => m.version));
  const tables = await db.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`);
  const names = tables.rows.map((r) => r.table_name);
  for (const t of ['runs', 'step_runs', 'artifacts', 'lineage_edges']) assert.ok(names.includes(t), `table ${t} exists`);
});

test('running again applies nothing', async () => {
  assert.deepEqual((await migrate(db)).applied, []);
});

test('a failing migration rolls back entirely and is not recorded', async () => {
  const dir = tempDir('migrations');
  fs.writeFileSync(path.join(dir, '0001_ok.sql'), 'CREATE TABLE mig_ok (id int);');
  fs.writeFileSync(path.join(dir, '0002_bad.sql'), 'CREATE TABLE mig_half (id int);\nSELECT * FROM no_such_table;');
  const scratch = await usePostgres();
  const sdb = createPool(scratch.url, { max: 2 });
  try {
    await assert.rejects(migrate(sdb, loadMigrations(dir)), /migration 2 \(bad\) failed and was rolled back: .*no_such_table/);
    const { rows } = await sdb.query('SELECT version FROM schema_migrations');
    assert.deepEqual(rows.map((r) => r.version), [1]);
    const half = await sdb.query(`SELECT to_regclass('mig_half') AS t`);
    assert.equal(half.rows[0].t, null, 'the half-applied table was rolled back');
    // An edited, already-applied migration is refused rather than silently diverging.
    fs.writeFileSync(path.join(dir, '0001_ok.sql'), 'CREATE TABLE mig_ok (id bigint);');
    fs.rmSync(path.join(dir, '0002_bad.sql'));
    await assert.rejects(migrate(sdb, loadMigrations(dir)), /migration 1 \(ok\) was changed after it was applied/);
  } finally {
    await sdb.end();
    await scratch.stop();
  }
});

test('badly named migration files are rejected with the file name', () => {
  const dir = tempDir('migrations-bad');
  fs.writeFileSync(path.join(dir, 'init.sql'), 'SELECT 1;');
  assert.throws(() => loadMigrations(dir), /init\.sql .* NNNN_description\.sql/);
});
