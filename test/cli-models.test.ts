import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { migrate } from '../infra/db/migrate';
import { createPool, type Db } from '../infra/db/pool';
import { listAliasEvents, registerModelVersion } from '../infra/db/registry';
import { projectRoot } from '../infra/paths';
import { cardRef } from '../cli/commands/models';
import { tempDir, usePostgres } from './helpers/stack';

/** `sluice models …` as users run it: the real CLI process against a real PostgreSQL. */

let pgHandle: Awaited<ReturnType<typeof usePostgres>>;
let db: Db;

function sluice(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'cli', 'sluice.mjs'), ...args], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: pgHandle.url, SLUICE_HOME: tempDir('cli-home'), SLUICE_USER: 'tester', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

before(async () => {
  pgHandle = await usePostgres();
  db = createPool(pgHandle.url, { max: 2 });
  await migrate(db);
  for (const c of ['one', 'two']) {
    await registerModelVersion(db, {
      name: 'churn',
      source: { uri: `file:///a/${c}`, sha256: sha(c), size: 3 },
      signature: { task: 'binary', inputs: [{ name: 'x', column: 'x', type: 'float' }], outputs: { label: 'label' }, classes: ['no', 'yes'] },
      createdBy: 'tester',
      description: `version ${c}`,
      modelCard: { owners: ['ada'], overview: 'Predicts churn | weekly.', task: 'binary', trainingData: [], evaluationData: [], featureViews: [], metrics: { roc_auc: 0.9 }, slices: [], params: {}, inputs: [{ name: 'x', column: 'x', type: 'float' }], outputs: { label: 'label' }, classes: ['no', 'yes'], source: { uri: `file:///a/${c}`, sha256: sha(c), size: 3 }, runId: null, pipeline: null, codeVersion: null },
      modelDescription: 'churn model',
    });
  }
});
after(async () => {
  await db.end();
  await pgHandle.stop();
});

test('card references', () => {
  assert.equal(cardRef('churn'), 'models:/churn/latest');
  assert.equal(cardRef('churn/2'), 'models:/churn/2');
  assert.equal(cardRef('churn@champion'), 'models:/churn@champion');
  assert.throws(() => cardRef('a b'), /invalid model name/);
});

test('list, show, versions (text and --json)', async () => {
  const list = await sluice(['models', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^NAME\s+VERSIONS\s+ALIASES/m);
  assert.match(list.stdout, /^churn\s+2\s/m);
  const json = await sluice(['models', 'list', '--json']);
  assert.deepEqual(JSON.parse(json.stdout).map((m: { name: string; last_version: number }) => [m.name, m.last_version]), [['churn', 2]]);
  const versions = await sluice(['models', 'versions', 'churn', '--json']);
  assert.deepEqual(JSON.parse(versions.stdout).map((v: { version: number }) => v.version), [2, 1]);
  const show = await sluice(['models', 'show', 'churn']);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /description\s+churn model/);
  assert.match(show.stdout, /version two/);
});

test('alias set / rm need a reason and are audited with --by', async () => {
  const noReason = await sluice(['models', 'alias', 'set', 'churn', 'champion', '1']);
  assert.notEqual(noReason.code, 0);
  assert.match(noReason.stderr, /--reason/);
  const set = await sluice(['models', 'alias', 'set', 'churn', 'champion', '1', '--reason', 'first release']);
  assert.equal(set.code, 0, set.stderr);
  assert.match(set.stdout, /churn@champion: \(none\) → v1/);
  const move = await sluice(['models', 'alias', 'set', 'churn', 'champion', '2', '--reason', 'better AUC', '--by', 'grace']);
  assert.match(move.stdout, /v1 → v2/);
  const reserved = await sluice(['models', 'alias', 'set', 'churn', 'latest', '1', '--reason', 'x']);
  assert.equal(reserved.code, 1);
  assert.match(reserved.stderr, /alias "latest" is reserved/);
  const missing = await sluice(['models', 'alias', 'set', 'churn', 'champion', '9', '--reason', 'x']);
  assert.match(missing.stderr, /has no version 9/);
  const rm = await sluice(['models', 'alias', 'rm', 'churn', 'champion', '--reason', 'rollback drill']);
  assert.equal(rm.code, 0, rm.stderr);
  const events = await listAliasEvents(db, 'churn');
  assert.deepEqual(
    events.map((e) => [e.action, e.from_version, e.to_version, e.actor, e.reason]),
    [
      ['set', null, 1, 'tester', 'first release'],
      ['set', 1, 2, 'grace', 'better AUC'],
      ['delete', 2, null, 'tester', 'rollback drill'],
    ],
  );
  const show = await sluice(['models', 'show', 'churn']);
  assert.match(show.stdout, /alias history:/);
  assert.match(show.stdout, /v1 → v2\s+grace\s+better AUC/);
});

test('card prints Markdown for NAME, NAME/VERSION and NAME@ALIAS', async () => {
  await sluice(['models', 'alias', 'set', 'churn', 'challenger', '1', '--reason', 'x']);
  const latest = await sluice(['models', 'card', 'churn']);
  assert.equal(latest.code, 0, latest.stderr);
  assert.match(latest.stdout, /^# Model card: churn v2$/m);
  assert.match(latest.stdout, /Predicts churn \| weekly\./);
  assert.match((await sluice(['models', 'card', 'churn/1'])).stdout, /^# Model card: churn v1$/m);
  const byAlias = await sluice(['models', 'card', 'churn@challenger']);
  assert.match(byAlias.stdout, /^# Model card: churn v1$/m);
  assert.match(byAlias.stdout, /\*\*Aliases\*\*: `challenger`/);
  const json = JSON.parse((await sluice(['models', 'card', 'churn/1', '--json'])).stdout);
  assert.equal(json.version, 1);
  const none = await sluice(['models', 'card', 'nobody']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no version|no registered model/);
});
