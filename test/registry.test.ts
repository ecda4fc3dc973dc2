import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { LocalArtifactStore, type ArtifactStore } from '../infra/artifacts';
import { migrate } from '../infra/db/migrate';
import { createPool, type Db } from '../infra/db/pool';
import {
  applyDecision,
  checkAlias,
  checkModelName,
  deleteAlias,
  getModelVersion,
  getRegisteredModel,
  listAliasEvents,
  listDecisions,
  listModelVersions,
  listRegisteredModels,
  parseModelUri,
  registerModelVersion,
  RegistryError,
  resolveModelUri,
  setAlias,
  upsertRegisteredModel,
  type RegisterVersionInput,
} from '../infra/db/registry';
import {
  applyModelDecision,
  decidePromotion,
  evaluateGates,
  promoteModel,
  registerModel,
  registryImplementations,
  resolveCodeVersion,
  resolveModel,
} from '../activities/registry/index';
import { renderModelCardMarkdown } from '../cli/render/model-card';
import { z } from 'zod';
import { compile } from '../pipelines/dsl/compile';
import { nodeStep } from '../pipelines/dsl/spec';
import { pipeline } from '../pipelines/dsl/pipeline';
import { datasetRef } from '../pipelines/steps/dataset';
import { compareModelsStep, type EvaluationSummary } from '../pipelines/steps/evaluation';
import { modelRef as modelRefSchema } from '../pipelines/steps/model';
import type { ModelRef, ModelSignature } from '../pipelines/steps/model';
import {
  aliasName,
  applyModelDecisionInput,
  modelCard,
  promoteModelInput,
  registeredModelName,
  registerModelInput,
  resolveModelInput,
  promoteModelStep,
  registerModelStep,
  resolveModelStep,
  type ModelCard,
  type PromoteModelInput,
  type RegisterModelInput,
} from '../pipelines/steps/registry';
import { tempDir, usePostgres } from './helpers/stack';
import { testStepContext } from './helpers/step-context';
import { registerFeatureViewVersion } from '../infra/db/features';
import { SluiceFailure } from '../pipelines/failures';

/** The registry against a real PostgreSQL: versions, concurrency, aliases and their audit, URIs, gates, promotion. */

let pgHandle: Awaited<ReturnType<typeof usePostgres>>;
let db: Db;
let store: ArtifactStore;

before(async () => {
  pgHandle = await usePostgres();
  db = createPool(pgHandle.url, { max: 12 });
  await migrate(db);
  store = await LocalArtifactStore.open(tempDir('registry'));
});
after(async () => {
  await db.end();
  await pgHandle.stop();
});

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
let uniq = 0;
const modelName = (base = 'm') => `${base}_${process.pid}_${++uniq}`;

const SIGNATURE: ModelSignature = {
  task: 'binary',
  inputs: [
    { name: 'x1', column: 'x1', type: 'float' },
    { name: 'color', column: 'color', type: 'string' },
  ],
  outputs: { label: 'label', probabilities: 'probabilities' },
  classes: ['no', 'yes'],
  target: 'label',
};

const artifact = (content: string) => ({ uri: `file:///artifacts/cas/${sha(content)}`, sha256: sha(content), size: content.length });

function version(name: string, content: string, extra: Partial<RegisterVersionInput> = {}): RegisterVersionInput {
  return { name, source: artifact(content), signature: SIGNATURE, createdBy: 'tester', ...extra };
}

async function rejectsCode(p: Promise<unknown>, code: RegistryError['code'], re: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RegistryError, `a RegistryError (got ${String(e)})`);
    assert.equal(e.code, code);
    assert.match(e.message, re);
    return true;
  });
}

async function rejectsFailure(p: Promise<unknown>, type: string, re: RegExp) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SluiceFailure, `a SluiceFailure (got ${String(e)})`);
    assert.equal(e.type, type);
    assert.equal(e.retryable, false);
    assert.match(e.message, re);
    return true;
  });
}

describe('names', () => {
  const hostile = ['', 'a b', 'a/b', 'a@b', 'a:b', '../etc', "x'; DROP TABLE registered_models; --", 'é', 'a\nb', 'a'.repeat(256), 'models:/x/1', '<script>'];

  test('model names: letters, digits, _ and - up to 255; anything else refused everywhere', async () => {
    assert.equal(checkModelName('a'.repeat(255)), 'a'.repeat(255));
    assert.equal(checkModelName('Churn-model_2'), 'Churn-model_2');
    for (const n of hostile) {
      assert.throws(() => checkModelName(n), RegistryError, JSON.stringify(n));
      assert.equal(registeredModelName.safeParse(n).success, false, `zod refuses ${JSON.stringify(n)}`);
      await rejectsCode(registerModelVersion(db, version(n, 'x')), 'INVALID', /invalid model name/);
    }
    // and the table's CHECK, should anything bypass the code
    await assert.rejects(db.query(`INSERT INTO registered_models (name) VALUES ($1)`, ['a b']), /check constraint/);
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM registered_models`);
    assert.equal(rows[0].n, 0, 'no hostile name got in');
  });

  test('aliases: same characters; latest and v<digits> reserved (any case)', () => {
    for (const ok of ['champion', 'challenger', 'shadow-2', 'v2a', 'version1', 'V', 'latest_good']) {
      assert.equal(checkAlias(ok), ok);
      assert.equal(aliasName.safeParse(ok).success, true, ok);
    }
    for (const bad of ['latest', 'LATEST', 'Latest', 'v1', 'V12', 'v007', ...hostile]) {
      assert.throws(() => checkAlias(bad), RegistryError, bad);
      assert.equal(aliasName.safeParse(bad).success, false, bad);
    }
  });
});

describe('versions', () => {
  test('numbered 1, 2, 3 per model, with everything recorded', async () => {
    const name = modelName();
    const other = modelName();
    const r1 = await registerModelVersion(
      db,
      version(name, 'a', {
        runId: 'run-1',
        description: 'first',
        tags: { team: 'growth' },
        metrics: { auc: 0.8, recall: null, weird: NaN },
        params: { C: 1, penalty: 'l2' },
        lineage: { datasets: [{ name: 'churn.train', version: 4, role: 'training' }], featureViews: [{ name: 'customer_stats', version: 2 }] },
        codeVersion: 'abc123',
        modelCard: { owners: ['ada'] },
        modelDescription: 'churn model',
      }),
    );
    const r2 = await registerModelVersion(db, version(name, 'b', { runId: 'run-2' }));
    const r3 = await registerModelVersion(db, version(name, 'c'));
    const o1 = await registerModelVersion(db, version(other, 'a'));
    assert.deepEqual([r1.version.version, r2.version.version, r3.version.version, o1.version.version], [1, 2, 3, 1]);
    assert.ok(r1.created && r2.created && r3.created);
    const v = r1.version;
    assert.equal(v.source_sha256, sha('a'));
    assert.equal(v.size_bytes, 1);
    assert.equal(v.run_id, 'run-1');
    assert.equal(v.status, 'READY');
    assert.deepEqual(v.tags, { team: 'growth' });
    assert.deepEqual(v.signature, SIGNATURE);
    assert.deepEqual(v.metrics, { auc: 0.8, recall: null, weird: null }, 'non-finite metrics stored as null');
    assert.deepEqual(v.params, { C: 1, penalty: 'l2' });
    assert.equal(v.code_version, 'abc123');
    assert.deepEqual(v.model_card, { owners: ['ada'], name, version: 1 }, 'the card gets its name and version');
    const m = (await getRegisteredModel(db, name))!;
    assert.equal(m.description, 'churn model');
    assert.equal(m.last_version, 3);
    assert.deepEqual((await listModelVersions(db, name)).map((x) => x.version), [3, 2, 1]);
    assert.ok((await listRegisteredModels(db)).some((x) => x.name === name));

    // lineage edges into models:/<name>/1
    const { rows } = await db.query(`SELECT from_kind, from_id, relation FROM lineage_edges WHERE to_kind = 'model_version' AND to_id = $1 ORDER BY from_kind`, [`models:/${name}/1`]);
    assert.deepEqual(rows, [
      { from_kind: 'artifact', from_id: artifact('a').uri, relation: 'source_of' },
      { from_kind: 'dataset_version', from_id: 'churn.train@4', relation: 'training_data_of' },
      { from_kind: 'feature_view', from_id: 'customer_stats@2', relation: 'features_of' },
      { from_kind: 'run', from_id: 'run-1', relation: 'registered' },
    ]);
  });

  test('immutable: only status, description and tags can change', async () => {
    const name = modelName();
    await registerModelVersion(db, version(name, 'a', { metrics: { auc: 0.8 } }));
    await assert.rejects(db.query(`UPDATE model_versions SET metrics = '{"auc": 0.99}' WHERE model_name = $1`, [name]), /immutable/);
    await assert.rejects(db.query(`UPDATE model_versions SET source_sha256 = $2 WHERE model_name = $1`, [name, sha('evil')]), /immutable/);
    await db.query(`UPDATE model_versions SET description = 'better words', tags = '{"k":"v"}' WHERE model_name = $1`, [name]);
    assert.equal((await getModelVersion(db, name, 1))!.description, 'better words');
  });

  test('the same artifact from the same run is the same version (idempotent); from another run, a new one', async () => {
    const name = modelName();
    const a = await registerModelVersion(db, version(name, 'a', { runId: 'r1' }));
    const again = await registerModelVersion(db, version(name, 'a', { runId: 'r1', metrics: { ignored: 1 } }));
    assert.equal(again.created, false);
    assert.equal(again.version.version, a.version.version);
    assert.deepEqual(again.version.metrics, {}, 'the version is immutable: a retry does not rewrite it');
    const otherRun = await registerModelVersion(db, version(name, 'a', { runId: 'r2' }));
    assert.equal(otherRun.version.version, 2);
    const noRun1 = await registerModelVersion(db, version(name, 'a'));
    const noRun2 = await registerModelVersion(db, version(name, 'a'));
    assert.equal(noRun1.version.version, 3);
    assert.equal(noRun2.version.version, 3);
    assert.equal((await getRegisteredModel(db, name))!.last_version, 3, 'no number was burnt by the idempotent calls');
  });

  test('concurrent registrations get distinct consecutive numbers, never the same one twice', async () => {
    const name = modelName();
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => registerModelVersion(db, version(name, `artifact-${i}`, { runId: `run-${i}` }))));
    assert.deepEqual(results.map((r) => r.version.version).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // two registrations of a brand-new model racing: 1 and 2
    const fresh = modelName();
    const pair = await Promise.all([registerModelVersion(db, version(fresh, 'x', { runId: 'a' })), registerModelVersion(db, version(fresh, 'y', { runId: 'b' }))]);
    assert.deepEqual(pair.map((r) => r.version.version).sort(), [1, 2]);
    // the same registration racing itself: one version, created once
    const same = modelName();
    const dup = await Promise.all(Array.from({ length: 5 }, () => registerModelVersion(db, version(same, 'z', { runId: 'r' }))));
    assert.deepEqual(new Set(dup.map((r) => r.version.version)), new Set([1]));
    assert.equal(dup.filter((r) => r.created).length, 1);
  });

  test('registered model upsert: description and tags', async () => {
    const name = modelName();
    await upsertRegisteredModel(db, { name, description: 'd1', tags: { a: '1' } });
    const m = await upsertRegisteredModel(db, { name, tags: { b: '2' } });
    assert.equal(m.description, 'd1');
    assert.deepEqual(m.tags, { a: '1', b: '2' });
    await rejectsCode(upsertRegisteredModel(db, { name, tags: { a: 1 as unknown as string } }), 'INVALID', /tag "a"/);
  });
});

describe('aliases', () => {
  test('set, move, no-op, remove: every change audited with who, when, why, from, to', async () => {
    const name = modelName();
    for (const c of ['a', 'b', 'c']) await registerModelVersion(db, version(name, c));
    const set1 = await setAlias(db, { name, alias: 'champion', version: 1, actor: 'ada', reason: 'first model' });
    assert.deepEqual([set1.from, set1.to, set1.changed], [null, 1, true]);
    const move = await setAlias(db, { name, alias: 'champion', version: 2, actor: 'bob', reason: 'better AUC' });
    assert.deepEqual([move.from, move.to, move.changed], [1, 2, true]);
    const same = await setAlias(db, { name, alias: 'champion', version: 2, actor: 'bob', reason: 'again' });
    assert.equal(same.changed, false);
    assert.equal(same.eventId, null);
    await setAlias(db, { name, alias: 'challenger', version: 3, actor: 'ci', reason: 'new candidate' });
    await setAlias(db, { name, alias: 'shadow', version: 3, actor: 'ci', reason: 'mirror traffic' });
    // a version may carry many aliases; an alias points at one version
    assert.deepEqual((await getModelVersion(db, name, 3))!.aliases, ['challenger', 'shadow']);
    assert.deepEqual((await getRegisteredModel(db, name))!.aliases, { champion: 2, challenger: 3, shadow: 3 });
    const rm = await deleteAlias(db, { name, alias: 'shadow', actor: 'ada', reason: 'experiment over' });
    assert.deepEqual([rm.from, rm.to], [3, null]);
    const events = await listAliasEvents(db, name);
    assert.deepEqual(
      events.map((e) => [e.alias, e.action, e.from_version, e.to_version, e.actor, e.reason]),
      [
        ['champion', 'set', null, 1, 'ada', 'first model'],
        ['champion', 'set', 1, 2, 'bob', 'better AUC'],
        ['challenger', 'set', null, 3, 'ci', 'new candidate'],
        ['shadow', 'set', null, 3, 'ci', 'mirror traffic'],
        ['shadow', 'delete', 3, null, 'ada', 'experiment over'],
      ],
    );
    assert.ok(events.every((e) => e.created_at instanceof Date));
    assert.deepEqual((await listAliasEvents(db, name, { alias: 'champion' })).length, 2);
    // the audit trail is append-only
    await assert.rejects(db.query(`UPDATE alias_events SET reason = 'nothing to see' WHERE model_name = $1`, [name]), /append-only/);
    await assert.rejects(db.query(`DELETE FROM alias_events WHERE model_name = $1`, [name]), /append-only/);
  });

  test('refused: reserved names, missing versions or models, no reason, no actor', async () => {
    const name = modelName();
    await registerModelVersion(db, version(name, 'a'));
    for (const a of ['latest', 'v1', 'V2']) await rejectsCode(setAlias(db, { name, alias: a, version: 1, actor: 'x', reason: 'y' }), 'INVALID', /reserved/);
    await rejectsCode(setAlias(db, { name, alias: 'champion', version: 9, actor: 'x', reason: 'y' }), 'NOT_FOUND', /has no version 9/);
    await rejectsCode(setAlias(db, { name: 'no_such_model', alias: 'champion', version: 1, actor: 'x', reason: 'y' }), 'NOT_FOUND', /no registered model/);
    await rejectsCode(setAlias(db, { name, alias: 'champion', version: 1, actor: 'x', reason: '  ' }), 'INVALID', /reason is required/);
    await rejectsCode(setAlias(db, { name, alias: 'champion', version: 1, actor: '', reason: 'y' }), 'INVALID', /who/);
    await rejectsCode(deleteAlias(db, { name, alias: 'champion', actor: 'x', reason: 'y' }), 'NOT_FOUND', /no alias "champion"/);
    await assert.rejects(db.query(`INSERT INTO model_aliases (model_name, alias, version, updated_by) VALUES ($1, 'latest', 1, 'x')`, [name]), /check constraint/);
    assert.equal((await listAliasEvents(db, name)).length, 0, 'nothing refused was recorded');
  });
});

describe('model URIs', () => {
  test('parse', () => {
    assert.deepEqual(parseModelUri('models:/churn/3'), { name: 'churn', version: 3 });
    assert.deepEqual(parseModelUri('models:/churn@champion'), { name: 'churn', alias: 'champion' });
    assert.deepEqual(parseModelUri('models:/churn/latest'), { name: 'churn', latest: true });
    for (const bad of ['models:/churn', 'models:/churn/0', 'models:/churn/01', 'models:/churn/x', 'models:/a/b/c', 'models:/churn@latest', 'models:/churn@v2', 'model:/churn/1', 'models:/a b/1', 'models:/churn@', 'models:/churn/1@x']) {
      assert.throws(() => parseModelUri(bad), RegistryError, bad);
    }
  });

  test('resolve by version, alias and latest; clear errors otherwise', async () => {
    const name = modelName();
    for (const c of ['a', 'b', 'c']) await registerModelVersion(db, version(name, c));
    await setAlias(db, { name, alias: 'champion', version: 2, actor: 'x', reason: 'y' });
    assert.equal((await resolveModelUri(db, `models:/${name}/1`)).source_sha256, sha('a'));
    assert.equal((await resolveModelUri(db, `models:/${name}@champion`)).version, 2);
    assert.equal((await resolveModelUri(db, `models:/${name}/latest`)).version, 3);
    await rejectsCode(resolveModelUri(db, `models:/${name}/7`), 'NOT_FOUND', /has no version 7/);
    await rejectsCode(resolveModelUri(db, `models:/${name}@challenger`), 'NOT_FOUND', /no alias "challenger"/);
    await rejectsCode(resolveModelUri(db, 'models:/nobody/1'), 'NOT_FOUND', /no registered model "nobody"/);
    await rejectsCode(resolveModelUri(db, 'models:/nobody/latest'), 'NOT_FOUND', /has no version/);
  });
});

test('code version: SLUICE_CODE_VERSION, else git rev-parse HEAD, else null', () => {
  assert.equal(resolveCodeVersion({ SLUICE_CODE_VERSION: 'release-42' }), 'release-42');
  assert.match(resolveCodeVersion({}) ?? '', /^[0-9a-f]{40}$/, 'this checkout is a git repository');
  assert.equal(resolveCodeVersion({}, tempDir('nogit')), null);
});

// ---------------------------------------------------------------------------------------------
// Steps

const modelRef = (content: string): ModelRef => ({ ...artifact(content), signature: SIGNATURE });

function summary(model: ModelRef, metrics: Record<string, number | null>): EvaluationSummary {
  return {
    task: 'binary',
    model: { uri: model.uri, sha256: model.sha256, ...(model.registered ? { registered: model.registered } : {}) },
    dataset: { name: 'churn.holdout', version: 3, uri: 'file:///d', sha256: sha('holdout') },
    target: 'label',
    rows: 1000,
    skippedRows: 0,
    metrics,
    slices: [{ column: 'segment', slices: [{ value: 'north', rows: 600, metrics }], omittedSlices: 0, omittedRows: 0 }],
  };
}

const ctx = (node = 'register') => testStepContext({ store, db }, { node });

describe('register-model step', () => {
  const input = (o: Partial<RegisterModelInput> & Pick<RegisterModelInput, 'name' | 'model'>) => registerModelInput.parse(o);
  // The feature view the models below are served from by key.
  before(() => registerFeatureViewVersion(db, { name: 'customer_stats', version: 2, definition: {}, definitionSha256: sha('customer_stats'), onlineTable: 'fv_customer_stats_v2' }));

  test('a feature view that is not registered fails the registration, naming it; nothing is registered', async () => {
    const name = modelName('churn');
    await rejectsFailure(
      registerModel.run(input({ name, model: modelRef('step-model-fv'), featureViews: [{ name: 'customer_stats', version: 3 }], gates: [] }), ctx()),
      'InvalidInput',
      /featureViews: no feature view customer_stats@3 is registered/,
    );
    assert.equal((await db.query('SELECT 1 FROM model_versions WHERE model_name = $1', [name])).rowCount, 0);
  });

  test('gates pass: registered with card, metrics, lineage, code version; aliases set; a retry is idempotent', async () => {
    process.env.SLUICE_CODE_VERSION = 'test-sha-1';
    try {
      const name = modelName('churn');
      const model = modelRef('step-model-1');
      const c = ctx();
      const i = input({
        name,
        model,
        evaluation: summary(model, { roc_auc: 0.9, recall: 0.7 }),
        metrics: { custom: 1 },
        params: { C: 0.5 },
        card: { owners: ['ada'], license: 'Apache-2.0', intendedUse: 'retention offers' },
        trainingData: [{ name: 'churn.train', version: 7, uri: 'file:///t', sha256: sha('train') }],
        featureViews: [{ name: 'customer_stats', version: 2 }],
        gates: [
          { metric: 'roc_auc', op: '>=', value: 0.85 },
          { metric: 'recall', op: '>', value: 0.5 },
        ],
        aliases: ['challenger'],
      });
      const out = await registerModel.run(i, c);
      assert.equal(out.registered, true);
      assert.equal(out.version, 1);
      assert.equal(out.uri, `models:/${name}/1`);
      assert.deepEqual(out.model.registered, { name, version: 1 });
      assert.equal(out.gates.length, 2);
      assert.ok(out.gates.every((g) => g.passed));
      const v = (await resolveModelUri(db, `models:/${name}@challenger`))!;
      assert.equal(v.version, 1);
      assert.deepEqual(v.metrics, { roc_auc: 0.9, recall: 0.7, custom: 1 });
      assert.equal(v.code_version, 'test-sha-1');
      assert.equal(v.run_id, c.run.runId);
      assert.equal(v.created_by, 'sluice-pipeline');
      assert.deepEqual(v.lineage.datasets!.map((d) => [d.name, d.version, d.role]), [
        ['churn.train', 7, 'training'],
        ['churn.holdout', 3, 'evaluation'],
      ]);
      const card = modelCard.parse(v.model_card);
      assert.equal(card.name, name);
      assert.equal(card.version, 1);
      assert.deepEqual(card.owners, ['ada']);
      assert.equal(card.slices[0]!.column, 'segment');
      assert.equal(card.codeVersion, 'test-sha-1');
      // the same step retried: same version, nothing new recorded
      const again = await registerModel.run(i, c);
      assert.equal(again.version, 1);
      assert.equal(again.created, false);
      assert.equal((await listAliasEvents(db, name)).length, 1, 'no duplicate alias event');
      assert.equal((await getRegisteredModel(db, name))!.last_version, 1);
    } finally {
      delete process.env.SLUICE_CODE_VERSION;
    }
  });

  test('a failing gate: not registered, not an error, failed gates say why', async () => {
    const name = modelName('churn');
    const model = modelRef('weak');
    const out = await registerModel.run(
      input({
        name,
        model,
        evaluation: summary(model, { roc_auc: 0.7, log_loss: 0.6, recall: null }),
        gates: [
          { metric: 'roc_auc', op: '>=', value: 0.85 },
          { metric: 'log_loss', op: '<', value: 0.65 },
          { metric: 'recall', op: '>', value: 0.1 },
          { metric: 'f1', op: '>', value: 0.1 },
        ],
        aliases: ['challenger'],
      }),
      ctx(),
    );
    assert.equal(out.registered, false);
    assert.equal(out.version, null);
    assert.equal(out.model.registered, undefined);
    assert.deepEqual(out.failedGates.map((g) => [g.metric, g.actual]), [
      ['roc_auc', 0.7],
      ['recall', null],
      ['f1', null],
    ]);
    assert.match(out.failedGates[1]!.reason, /undefined/);
    assert.match(out.failedGates[2]!.reason, /f1 was not reported \(reported: log_loss, recall, roc_auc\)/);
    assert.equal(await getRegisteredModel(db, name), undefined, 'nothing registered');
  });

  test('gate operators', () => {
    const g = (op: '>=' | '>' | '<=' | '<', value: number) => evaluateGates([{ metric: 'm', op, value }], { m: 0.5 })[0]!.passed;
    assert.deepEqual([g('>=', 0.5), g('>', 0.5), g('<=', 0.5), g('<', 0.5), g('>', 0.4), g('<', 0.6)], [true, false, true, false, true, true]);
  });

  test('hostile input is refused by the schema', () => {
    const model = modelRef('x');
    for (const bad of [{ name: 'a/b' }, { name: "'; DROP TABLE x; --" }, { name: 'ok', aliases: ['latest'] }, { name: 'ok', aliases: ['v3'] }, { name: 'ok', gates: [{ metric: 'a', op: '==', value: 1 }] }]) {
      assert.equal(registerModelInput.safeParse({ model, ...bad }).success, false, JSON.stringify(bad));
    }
  });
});

describe('promote-model step', () => {
  async function setup(championAuc: number | null) {
    const name = modelName('churn');
    const champ = await registerModel.run(registerModelInput.parse({ name, model: modelRef(`${name}-v1`), aliases: ['champion'] }), ctx('register-v1'));
    const chall = await registerModel.run(registerModelInput.parse({ name, model: modelRef(`${name}-v2`), aliases: ['challenger'] }), ctx('register-v2'));
    const comparison = (challengerAuc: number | null, champion: ModelRef | null = champ.model, cAuc = championAuc) => ({
      challenger: summary(chall.model, { roc_auc: challengerAuc, log_loss: 0.3 }),
      champion: champion ? summary(champion, { roc_auc: cAuc, log_loss: 0.4 }) : null,
    });
    return { name, champ, chall, comparison };
  }
  const promote = (o: Partial<PromoteModelInput> & Pick<PromoteModelInput, 'challenger' | 'comparison' | 'metric'>) => promoteModelInput.parse(o);

  test('beats the champion by the margin: champion moves, decision recorded with its numbers, by sluice-pipeline', async () => {
    const { name, chall, comparison } = await setup(0.8);
    const c = ctx('promote');
    const out = await promoteModel.run(promote({ challenger: chall.model, comparison: comparison(0.82), metric: 'roc_auc', margin: 0.01 }), c);
    assert.equal(out.promoted, true);
    assert.equal(out.outcome, 'promoted');
    assert.deepEqual([out.challengerVersion, out.championVersion, out.challengerValue, out.championValue], [2, 1, 0.82, 0.8]);
    assert.ok(Math.abs(out.delta! - 0.02) < 1e-12);
    assert.equal((await resolveModelUri(db, `models:/${name}@champion`)).version, 2);
    const [d] = await listDecisions(db, name);
    assert.equal(d!.id, out.decisionId);
    assert.deepEqual(
      { outcome: d!.outcome, mode: d!.mode, by: d!.decided_by, metric: d!.metric, direction: d!.direction, margin: d!.margin, ch: d!.challenger_value, champ: d!.champion_value, from: d!.champion_version },
      { outcome: 'promoted', mode: 'automatic', by: 'sluice-pipeline', metric: 'roc_auc', direction: 'higher', margin: 0.01, ch: 0.82, champ: 0.8, from: 1 },
    );
    assert.match(d!.reason, /better by 0\.02, at least the margin 0\.01/);
    const ev = (await listAliasEvents(db, name, { alias: 'champion' })).at(-1)!;
    assert.deepEqual([ev.from_version, ev.to_version, ev.actor, ev.decision_id], [1, 2, 'sluice-pipeline', d!.id]);
    // retried: the recorded decision, not a second one
    const again = await promoteModel.run(promote({ challenger: chall.model, comparison: comparison(0.82), metric: 'roc_auc', margin: 0.01 }), c);
    assert.equal(again.decisionId, out.decisionId);
    assert.equal((await listDecisions(db, name)).length, 1);
  });

  test('better, but by less than the margin: rejected, the champion stays', async () => {
    const { name, chall, comparison } = await setup(0.8);
    const out = await promoteModel.run(promote({ challenger: chall.model, comparison: comparison(0.805), metric: 'roc_auc', margin: 0.01 }), ctx('promote'));
    assert.equal(out.promoted, false);
    assert.equal(out.outcome, 'rejected');
    assert.match(out.reason, /less than the margin 0\.01/);
    assert.equal((await resolveModelUri(db, `models:/${name}@champion`)).version, 1);
    assert.equal((await listDecisions(db, name))[0]!.outcome, 'rejected');
  });

  test('lower is better (log loss), relative margins, and the margin boundary', () => {
    const rule = { metric: 'log_loss', direction: 'lower' as const, margin: 0.05, marginKind: 'absolute' as const };
    assert.equal(decidePromotion(rule, 0.3, { version: 1, value: 0.4 }).promote, true);
    assert.equal(decidePromotion(rule, 0.38, { version: 1, value: 0.4 }).promote, false);
    assert.equal(decidePromotion(rule, 0.5, { version: 1, value: 0.4 }).promote, false);
    const rel = { metric: 'rmse', direction: 'lower' as const, margin: 0.1, marginKind: 'relative' as const };
    assert.equal(decidePromotion(rel, 8.9, { version: 1, value: 10 }).promote, true, '11% better');
    assert.equal(decidePromotion(rel, 9.5, { version: 1, value: 10 }).promote, false, '5% better');
    const hi = { metric: 'auc', direction: 'higher' as const, margin: 0.01, marginKind: 'absolute' as const };
    assert.equal(decidePromotion(hi, 0.81, { version: 1, value: 0.8 }).promote, true, 'exactly the margin counts, despite float noise');
    assert.equal(decidePromotion({ ...hi, margin: 0 }, 0.8, { version: 1, value: 0.8 }).promote, false, 'a tie is not a win');
    assert.equal(decidePromotion(hi, null, { version: 1, value: 0.8 }).promote, false);
    assert.equal(decidePromotion(hi, 0.9, { version: 1, value: null }).promote, false);
    assert.equal(decidePromotion(hi, 0.5, null).promote, true, 'no champion: the first model becomes it');
  });

  test('no champion yet: the challenger becomes champion', async () => {
    const name = modelName('fresh');
    const reg = await registerModel.run(registerModelInput.parse({ name, model: modelRef(`${name}-1`) }), ctx());
    const out = await promoteModel.run(promote({ challenger: reg.model, comparison: { challenger: summary(reg.model, { roc_auc: 0.7 }), champion: null }, metric: 'roc_auc' }), ctx('promote'));
    assert.equal(out.outcome, 'promoted');
    assert.equal(out.championVersion, null);
    assert.equal((await resolveModelUri(db, `models:/${name}@champion`)).version, 1);
  });

  test('stale: the champion moved after the comparison; nothing moves', async () => {
    const { name, chall, comparison } = await setup(0.8);
    const v3 = await registerModel.run(registerModelInput.parse({ name, model: modelRef(`${name}-v3`) }), ctx('register-v3'));
    await setAlias(db, { name, alias: 'champion', version: v3.version!, actor: 'ada', reason: 'hotfix' });
    const out = await promoteModel.run(promote({ challenger: chall.model, comparison: comparison(0.9), metric: 'roc_auc' }), ctx('promote'));
    assert.equal(out.outcome, 'stale');
    assert.equal(out.promoted, false);
    assert.match(out.reason, /stale: champion is v3 now, the decision was based on v1/);
    assert.equal((await resolveModelUri(db, `models:/${name}@champion`)).version, 3);
  });

  test('with approval: pending, then a person approves (alias moves, by them) or rejects; resolved once', async () => {
    const { name, chall, comparison } = await setup(0.8);
    const pending = await promoteModel.run(promote({ challenger: chall.model, comparison: comparison(0.85), metric: 'roc_auc', requireApproval: true }), ctx('promote'));
    assert.equal(pending.outcome, 'pending_approval');
    assert.equal((await resolveModelUri(db, `models:/${name}@champion`)).version, 1, 'nothing moved yet');
    const applied = await applyModelDecision.run(applyModelDecisionInput.parse({ proposal: pending, approval: { approved: true, by: 'grace', reason: 'looks good' } }), ctx('apply'));
    assert.equal(applied.outcome, 'promoted');
    assert.equal(applied.promoted, true);
    assert.equal((await resolveModelUri(db, `models:/${name}@champion`)).version, 2);
    const ev = (await listAliasEvents(db, name, { alias: 'champion' })).at(-1)!;
    assert.deepEqual([ev.actor, ev.reason, ev.decision_id], ['grace', 'looks good', applied.decisionId]);
    const decisions = await listDecisions(db, name);
    assert.deepEqual(decisions.map((d) => [d.outcome, d.mode, d.decided_by, d.resolves]), [
      ['promoted', 'manual', 'grace', pending.decisionId],
      ['pending_approval', 'automatic', 'sluice-pipeline', null],
    ]);
    assert.equal(decisions[0]!.challenger_value, 0.85, 'the evidence is carried over');
    // a second resolution of the same proposal is refused
    await rejectsFailure(
      applyModelDecision.run(applyModelDecisionInput.parse({ proposal: pending, approval: { approved: false, by: 'eve', reason: 'no' } }), ctx('apply-2')),
      'RegistryConflict',
      /already resolved/,
    );
    // a proposal that is not pending passes through untouched
    const passthrough = await applyModelDecision.run(applyModelDecisionInput.parse({ proposal: applied, approval: { approved: false, by: 'eve', reason: 'no' } }), ctx('apply-3'));
    assert.deepEqual(passthrough, applied);
  });

  test('applyDecision for a human (what a Temporal update handler calls): reject leaves the alias, approve moves it', async () => {
    const { name } = await setup(0.8);
    const rejected = await applyDecision(db, { name, challengerVersion: 2, decision: 'reject', mode: 'manual', by: 'ada', reason: 'not this week', idempotencyKey: 'upd-1' });
    assert.equal(rejected.decision.outcome, 'rejected');
    assert.equal(rejected.aliasChange, null);
    const replay = await applyDecision(db, { name, challengerVersion: 2, decision: 'reject', mode: 'manual', by: 'ada', reason: 'not this week', idempotencyKey: 'upd-1' });
    assert.equal(replay.replayed, true);
    assert.equal(replay.decision.id, rejected.decision.id);
    await rejectsCode(applyDecision(db, { name, challengerVersion: 1, decision: 'approve', mode: 'manual', by: 'ada', reason: 'x', idempotencyKey: 'upd-1' }), 'CONFLICT', /used for another decision/);
    const approved = await applyDecision(db, { name, challengerVersion: 2, decision: 'approve', mode: 'manual', by: 'ada', reason: 'ship it', expectedChampion: 1 });
    assert.equal(approved.decision.outcome, 'promoted');
    assert.deepEqual([approved.aliasChange!.from, approved.aliasChange!.to], [1, 2]);
    await rejectsCode(applyDecision(db, { name, challengerVersion: 9, decision: 'approve', mode: 'manual', by: 'ada', reason: 'x' }), 'NOT_FOUND', /no version 9/);
    await rejectsCode(applyDecision(db, { name, challengerVersion: 2, decision: 'approve', mode: 'manual', by: 'ada', reason: '' }), 'INVALID', /reason/);
    await assert.rejects(db.query(`UPDATE model_decisions SET outcome = 'rejected' WHERE model_name = $1`, [name]), /append-only/);
  });

  test('skipped when the challenger was not registered; bad requests fail non-retryably', async () => {
    const { chall, comparison, champ } = await setup(0.8);
    const unregistered = modelRef('never-registered');
    const skipped = await promoteModel.run(promote({ challenger: unregistered, comparison: { challenger: summary(unregistered, { roc_auc: 0.9 }), champion: null }, metric: 'roc_auc' }), ctx('p'));
    assert.equal(skipped.outcome, 'skipped');
    assert.equal(skipped.decisionId, null);
    await rejectsFailure(promoteModel.run(promote({ challenger: chall.model, comparison: comparison(0.9), metric: 'my_metric' }), ctx('p1')), 'InvalidInput', /no known direction/);
    await rejectsFailure(promoteModel.run(promote({ challenger: chall.model, comparison: comparison(0.9), metric: 'f1' }), ctx('p2')), 'InvalidInput', /"f1" is not in the comparison/);
    await rejectsFailure(promoteModel.run(promote({ challenger: champ.model, comparison: comparison(0.9), metric: 'roc_auc' }), ctx('p3')), 'InvalidInput', /not this challenger/);
    const unregChampion = comparison(0.9, modelRef('outsider'));
    await rejectsFailure(promoteModel.run(promote({ challenger: chall.model, comparison: unregChampion, metric: 'roc_auc' }), ctx('p4')), 'InvalidInput', /not a registered version/);
  });
});

describe('resolve-model step', () => {
  test('found, and optional not-found', async () => {
    const name = modelName();
    await registerModelVersion(db, version(name, 'a', { metrics: { auc: 0.7 } }));
    await setAlias(db, { name, alias: 'champion', version: 1, actor: 'x', reason: 'y' });
    const found = await resolveModel.run(resolveModelInput.parse({ uri: `models:/${name}@champion` }), ctx());
    assert.equal(found.found, true);
    assert.deepEqual(found.model!.registered, { name, version: 1 });
    assert.deepEqual(found.metrics, { auc: 0.7 });
    const missing = await resolveModel.run(resolveModelInput.parse({ uri: `models:/${name}@challenger`, optional: true }), ctx());
    assert.deepEqual(missing, { found: false, model: null, name, version: null, metrics: {} });
    await rejectsFailure(resolveModel.run(resolveModelInput.parse({ uri: `models:/${name}@challenger` }), ctx()), 'RegistryNotFound', /no alias "challenger"/);
    await rejectsFailure(resolveModel.run(resolveModelInput.parse({ uri: 'models:/a b/1', optional: true }), ctx()), 'InvalidInput', /invalid model name "a b"/);
    // by parts (what a pipeline can wire: refs cannot be spliced into a URI string)
    assert.equal((await resolveModel.run(resolveModelInput.parse({ name, alias: 'champion' }), ctx())).version, 1);
    assert.equal((await resolveModel.run(resolveModelInput.parse({ name }), ctx())).version, 1, 'name alone: latest');
    assert.equal((await resolveModel.run(resolveModelInput.parse({ name, version: 1 }), ctx())).version, 1);
    for (const bad of [{}, { uri: `models:/${name}/1`, name }, { uri: `models:/${name}/1`, alias: 'champion' }, { name, alias: 'champion', version: 1 }, { name, alias: 'latest' }]) {
      assert.equal(resolveModelInput.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });
});

test('model card as Markdown: every section; hostile text cannot break tables or the terminal', () => {
  const card: ModelCard = modelCard.parse({
    name: 'churn',
    version: 3,
    owners: ['ada', 'bob\u001b[31m'],
    license: 'Apache-2.0',
    overview: 'Predicts churn.',
    intendedUse: 'Retention offers.',
    limitations: 'Trained on 2023 data.',
    task: 'binary',
    trainingData: [{ name: 'churn.train', version: 7, sha256: sha('t') }],
    evaluationData: [{ name: 'churn.holdout', version: 3, rows: 1000, target: 'label' }],
    featureViews: [{ name: 'customer_stats', version: 2 }],
    metrics: { roc_auc: 0.912345678, recall: null },
    slices: [{ column: 'segment', slices: [{ value: 'a|b\nc', rows: 10, metrics: { accuracy: 0.5 } }], omittedSlices: 2, omittedRows: 5 }],
    params: { C: 0.5 },
    inputs: SIGNATURE.inputs,
    outputs: SIGNATURE.outputs,
    classes: ['no', 'yes'],
    target: 'label',
    source: { uri: 'file:///m', sha256: sha('m'), size: 10 },
    runId: 'run-1',
    pipeline: 'train',
    codeVersion: 'abc',
  });
  const md = renderModelCardMarkdown(card, { aliases: ['champion'], createdAt: new Date('2024-01-02T03:04:05Z'), createdBy: 'sluice-pipeline' });
  for (const h of ['# Model card: churn v3', '## Overview', '## Intended use', '## Out-of-scope use', '## Training data', '## Evaluation data', '## Metrics', '### By segment', '## Limitations', '## Ethical considerations and risks', '## Input and output format', '## Provenance']) {
    assert.ok(md.includes(h), h);
  }
  assert.match(md, /\*\*Aliases\*\*: `champion`/);
  assert.match(md, /\| roc_auc \| 0\.912346 \|/);
  assert.match(md, /\| recall \| — \|/);
  assert.match(md, /\| a\\\|b c \| 10 \|/, 'pipes escaped, newlines folded in table cells');
  assert.match(md, /Out-of-scope use\n\n_Not stated\._/);
  assert.match(md, /positive: `yes`/);
  assert.equal(md.includes('\u001b'), false, 'no terminal escapes');
});

test('a champion/challenger pipeline wires these steps with typed refs and compiles', () => {
  const params = z.object({ name: registeredModelName, model: modelRefSchema, holdout: datasetRef });
  const cc = pipeline({ name: 'champion-challenger', params }, (p, b) => {
    const champion = b.step('champion', resolveModelStep, { name: p.name, alias: 'champion', optional: true });
    const cmp = b.step('compare', compareModelsStep, { challenger: p.model, champion: champion.output.model, dataset: p.holdout, sliceBy: ['segment'] });
    const reg = b.step('register', registerModelStep, {
      name: p.name,
      model: p.model,
      evaluation: cmp.output.challenger,
      gates: [{ metric: 'roc_auc', op: '>=', value: 0.7 }],
      aliases: ['challenger'],
    });
    const promote = b.step('promote', promoteModelStep, { challenger: reg.output.model, comparison: cmp.output, metric: 'roc_auc', margin: 0.01 });
    return { registered: reg.output.registered, outcome: promote.output.outcome, version: reg.output.version };
  });
  const spec = compile(cc);
  assert.deepEqual(spec.nodes.map((n) => [n.id, n.step, n.dependsOn]), [
    ['champion', 'resolve-model', []],
    ['compare', 'compare-models', ['champion']],
    ['register', 'register-model', ['compare']],
    ['promote', 'promote-model', ['compare', 'register']],
  ]);
  assert.ok(spec.nodes.every((n) => nodeStep(spec, n).queue === 'cpu'));
  assert.deepEqual(spec.nodes.filter((n) => nodeStep(spec, n).options.cache.enabled).map((n) => n.id), ['compare'], 'only the evaluation is cacheable');
});

test('registry implementations', () => {
  assert.deepEqual(
    registryImplementations.map((i) => i.step.name),
    ['register-model', 'promote-model', 'apply-model-decision', 'resolve-model', 'import-model.read'],
  );
  assert.ok(registryImplementations.every((i) => !i.step.cache.enabled), 'registry steps are never cached');
});
