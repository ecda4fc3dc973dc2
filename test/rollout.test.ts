import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { openArtifactStore } from '../infra/artifacts';
import { migrate } from '../infra/db/migrate';
import pl from 'nodejs-polars';
import { putParquetFile } from '../activities/data/frames';
import { createRolloutActivities } from '../activities/rollout';
import { startRollout as startRolloutImpl } from '../activities/rollout/start-step';
import { schemaOf } from '../activities/scoring/common';
import { runGbdt } from '../activities/training/steps';
import type { ArtifactStore } from '../infra/artifacts';
import { registerDatasetVersion } from '../infra/db/datasets';
import { applyDecision, listAliasEvents, registerModelVersion, setAlias } from '../infra/db/registry';
import { startRolloutStep } from '../pipelines/rollout/step';
import type { ModelRef } from '../pipelines/steps/model';
import { trainGbdtStep } from '../pipelines/steps/training';
import { testStepContext } from './helpers/step-context';
import { copyPredictions, readRoutes, type OnlinePrediction } from '../infra/db/serving';
import { createLogger } from '../infra/log';
import { projectRoot } from '../infra/paths';
import { startServing, type ServingServer } from '../serving/server';
import { rollbackChampion } from '../cli/commands/models';
import { rolloutStatus, setRolloutWeights, startRollout } from '../cli/commands/rollout';
import { abortSignal, pauseSignal, rolloutStatusQuery } from '../pipelines/rollout/messages';
import type { RolloutResult, RolloutStart, TrainingRollout } from '../pipelines/rollout/protocol';
import { trainModel } from '../pipelines/train-model';
import { startRun } from './helpers/runs';
import { PENGUINS } from './helpers/serving-models';
import { startTestStack, type TestStack } from './helpers/stack';
import { waitFor } from './helpers/wait-for';

/**
 * Rollouts end to end against real services: traffic is simulated by writing predictions and
 * feedback straight into online_predictions and prediction_feedback, following the routes the
 * rollout writes (as serving replicas would). Four rollouts run at once (an A/B test, a failing
 * canary, a shadow, a canary steered by hand) and the worker is killed and replaced while they run.
 */
let stack: TestStack;
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

async function registerTwoVersions(model: string): Promise<void> {
  for (const v of ['one', 'two']) {
    await registerModelVersion(stack.db, {
      name: model,
      source: { uri: `file:///models/${model}/${v}`, sha256: sha(`${model}${v}`), size: 3 },
      signature: { task: 'binary', inputs: [{ name: 'x', column: 'x', type: 'float' }], outputs: { label: 'label' }, classes: ['no', 'yes'] },
      createdBy: 'tester',
    });
  }
  await setAlias(stack.db, { name: model, alias: 'champion', version: 1, actor: 'tester', reason: 'first champion' });
}

/** How each variant behaves in the simulated traffic. */
interface Behaviour {
  /** P(reward = 1) per variant (A/B). */
  conversion?: { control: number; candidate: number };
  /** Share of the candidate's requests that fail. */
  candidateErrors?: number;
  /** Share of shadow predictions that disagree with the live one. */
  shadowDisagrees?: number;
  /** Requests per batch (default 20). */
  batch?: number;
}

/**
 * Every 100 ms, a batch of requests split by the model's live weights (none while it has no routes), each
 * mirrored to shadow variants, with a reward per live prediction when conversions are simulated.
 * `gate` (given the rewards sent so far) holds the next batch back until it says so.
 */
function simulateTraffic(model: string, b: Behaviour, gate?: (rewarded: number) => Promise<boolean>): { stop(): Promise<void> } {
  let running = true;
  let rewarded = 0;
  const loop = (async () => {
    while (running) {
      const table = await readRoutes(stack.db, model).catch(() => null);
      if (table && (!gate || (await gate(rewarded).catch(() => false)))) {
        const live = table.routes.filter((r) => r.mode === 'live');
        const shadows = table.routes.filter((r) => r.mode === 'shadow');
        const rows: OnlinePrediction[] = [];
        const rewards: [string, number][] = [];
        for (let i = 0; i < (b.batch ?? 20); i++) {
          let u = Math.random();
          const route = live.find((r) => (u -= r.weight) < 0) ?? live.at(-1)!;
          const failed = route.variant === 'candidate' && Math.random() < (b.candidateErrors ?? 0);
          const label = Math.random() < 0.5 ? 'yes' : 'no';
          const id = randomUUID();
          const base = { model, version: route.version, requestKey: `user-${i}`, createdAt: new Date(), features: { x: i } };
          rows.push({ ...base, id, variant: route.variant, mode: 'live', latencyMs: 2 + Math.random() * 3, output: failed ? null : { prediction: label, score: label === 'yes' ? 0.8 : 0.2 }, error: failed ? 'model failed' : null });
          for (const s of shadows) {
            const flip = Math.random() < (b.shadowDisagrees ?? 0);
            const shadowLabel = flip ? (label === 'yes' ? 'no' : 'yes') : label;
            rows.push({ ...base, id: randomUUID(), variant: s.variant, version: s.version, mode: 'shadow', shadowOf: id, latencyMs: 4 + Math.random() * 4, output: { prediction: shadowLabel, score: shadowLabel === 'yes' ? 0.7 : 0.3 } });
          }
          const p = b.conversion?.[route.variant as 'control' | 'candidate'];
          if (p !== undefined) rewards.push([id, Math.random() < p ? 1 : 0]);
        }
        await copyPredictions(stack.db, rows);
        rewarded += rewards.length;
        if (rewards.length) await stack.db.query('INSERT INTO prediction_feedback (prediction_id, reward) SELECT * FROM unnest($1::uuid[], $2::float8[])', [rewards.map((r) => r[0]), rewards.map((r) => r[1])]);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}


const pendingOf = (d: Awaited<ReturnType<WorkflowHandle['describe']>>) => ({
  status: d.status.name,
  activities: (d.raw.pendingActivities ?? []).map((a) => ({ type: a.activityType?.name, attempt: a.attempt, failure: a.lastFailure?.message })),
  task: d.raw.pendingWorkflowTask ? { attempt: d.raw.pendingWorkflowTask.attempt, state: d.raw.pendingWorkflowTask.state } : null,
});
const champion = async (model: string) => (await stack.db.query(`SELECT version FROM model_aliases WHERE model_name = $1 AND alias = 'champion'`, [model])).rows[0]?.version as number | undefined;
const decisionKinds = async (model: string) => (await stack.db.query('SELECT kind FROM monitor_decisions WHERE model = $1 ORDER BY id', [model])).rows.map((r) => r.kind as string);

/** Replays real histories against the current workflow code; SLUICE_RECORD_FIXTURES=1 keeps them as fixtures. */
async function replay(workflowIds: string[]): Promise<void> {
  const histories = await Promise.all(workflowIds.map(async (workflowId) => ({ workflowId, history: await stack.client.workflow.getHandle(workflowId).fetchHistory() })));
  const bundle = process.env.SLUICE_WORKFLOW_BUNDLE;
  const options = bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: path.join(projectRoot, 'workflows', 'index.ts') };
  for await (const r of Worker.runReplayHistories(options, histories)) {
    if (r.error) fs.writeFileSync(path.join(os.tmpdir(), `${r.workflowId}-unreplayable.json`), historyToJSON(histories.find((h) => h.workflowId === r.workflowId)!.history));
    assert.equal(r.error, undefined, `${r.workflowId} replays (history kept in ${os.tmpdir()}): ${r.error}`);
  }
  if (process.env.SLUICE_RECORD_FIXTURES) for (const h of histories) fs.writeFileSync(path.join(projectRoot, 'test', 'fixtures', 'histories', `${h.workflowId}.json`), historyToJSON(h.history));
}

before(async () => {
  // The GPU worker trains (train-model's trials run on its queue) for the training run's hand-off test.
  stack = await startTestStack({ kinds: ['cpu', 'gpu'] });
  await migrate(stack.db); // the worker applies them too, but may not have yet
  for (const m of ['ab-model', 'canary-bad', 'shadow-model', 'canary-hand']) await registerTwoVersions(m);
});
after(async () => {
  await stack?.stop();
});

test('rollouts: Thompson sampling promotes the better variant, a failing canary rolls back, a shadow writes its report, all across a worker restart', async () => {
  const { client } = stack;
  const config = stack.workers.config;
  const fast = { checkEvery: '250ms', by: 'rollout-test' } as const;
  const starts: RolloutStart[] = [
    // B (the candidate) converts at 60 %, A at 20 %.
    { ...fast, model: 'ab-model', candidate: 2, strategy: 'ab', ab: { interval: '500ms', minSamples: 50, threshold: 0.95, draws: 2000, minWeight: 0.2, rollout: { steps: [100], hold: '0s', minRequests: 0 } } },
    { ...fast, model: 'canary-bad', candidate: 2, strategy: 'canary', canary: { steps: [20, 50, 100], hold: '1s', minRequests: 10 }, guardrails: { maxErrorRate: 0.05, minRequests: 10 } },
    { ...fast, model: 'shadow-model', candidate: 2, strategy: 'shadow', shadow: { duration: '1h', requests: 150 } },
    { ...fast, model: 'canary-hand', candidate: 2, strategy: 'canary', canary: { steps: [10, 100], hold: '1h', minRequests: 1 } },
  ];
  const traffic = [
    // In step with the test: the next batch waits until the posteriors have counted every reward
    // sent so far, so each re-weighting sees 40 more, however slow the machine (a winner needs 50
    // per variant: at least one re-weighting comes first).
    simulateTraffic('ab-model', { conversion: { control: 0.2, candidate: 0.6 }, batch: 40 }, async (sent) => {
      const s = await rolloutStatus(client, 'ab-model');
      if (s.phase !== 'testing') return true;
      const counted = Object.values(s.posteriors ?? {}).reduce((n, p) => n + p.alpha + p.beta - 2, 0);
      return counted >= sent;
    }),
    simulateTraffic('canary-bad', { candidateErrors: 0.4 }),
    simulateTraffic('shadow-model', { shadowDisagrees: 0.1 }),
    simulateTraffic('canary-hand', {}),
  ];
  try {
    const handles = await Promise.all(starts.map((s) => startRollout(client, config, s)));
    await assert.rejects(startRollout(client, config, starts[0]!), /a rollout of ab-model is running already/);

    // Every rollout has set its routes; then the worker dies and another takes over.
    await waitFor('all rollouts to set their routes', async () => ((await Promise.all(starts.map((s) => readRoutes(stack.db, s.model)))).every((r) => r) ? true : undefined)).catch(async (e: Error) => {
      // Say what they wait for (a failing activity, a workflow task), not only that they wait.
      const pending = await Promise.all(handles.map(async (h) => ({ id: h.workflowId, ...pendingOf(await h.describe()) })));
      throw new Error(`${e.message}: ${JSON.stringify(pending)}`);
    });
    const killed = stack.workers.cpu!;
    killed.child.kill('SIGKILL');
    await new Promise((r) => killed.child.once('exit', r));
    await stack.workers.startWorker('cpu');

    // The canary steered by hand: a bad weight is refused before history, a good one applied (and pauses it); abort rolls back.
    await assert.rejects(setRolloutWeights(client, 'canary-hand', { weights: { control: 0.5, candidate: 0.6 } }), /weights sum to 1.1/);
    const set = await setRolloutWeights(client, 'canary-hand', { weights: { control: 0.7, candidate: 0.3 }, reason: 'hold at 30', by: 'ada' });
    assert.deepEqual(set, { control: 0.7, candidate: 0.3 });
    const routes = await readRoutes(stack.db, 'canary-hand');
    assert.deepEqual(routes?.routes.map((r) => [r.variant, r.weight]), [['candidate', 0.3], ['control', 0.7]]);
    await handles[3]!.signal(pauseSignal, { reason: 5 } as never); // does not fit: rejected, the rollout goes on
    const hand = await waitFor('the bad signal to be rejected', async () => {
      const s = await rolloutStatus(client, 'canary-hand');
      return s.rejected.length ? s : undefined;
    });
    assert.equal(hand.paused, true, 'setWeights paused automatic changes');
    assert.match(hand.rejected[0]!.reason, /pause signal rejected: reason:/);
    await handles[3]!.signal(abortSignal, { reason: 'enough', by: 'ada' });

    const [ab, bad, shadow, aborted] = (await Promise.all(handles.map((h) => h.result()))) as RolloutResult[];

    // A/B: weight moved to B by Thompson sampling, then B won and became champion, audited with its numbers.
    assert.equal(ab!.outcome, 'promoted', ab!.reason);
    // (Read from the audit table: a finished workflow's status query would replay its whole history.)
    const abDecisions = (await stack.db.query('SELECT kind, reason, numbers FROM monitor_decisions WHERE model = $1 ORDER BY seq', ['ab-model'])).rows as { kind: string; reason: string; numbers: Record<string, unknown> }[];
    const reweights = abDecisions.filter((d) => d.kind === 'rollout-weights');
    assert.ok(reweights.some((d) => ((d.numbers.weights as { candidate: number }).candidate ?? 0) > 0.5), `re-weightings: ${JSON.stringify(reweights.map((d) => d.numbers.weights))}`);
    const winner = abDecisions.find((d) => d.kind === 'rollout-winner')!;
    assert.match(winner.reason, /^candidate v2 wins: P\(best\) (0\.9[5-9]\d*|1) ≥ 0\.95$/);
    const posterior = winner.numbers.posteriors as Record<'control' | 'candidate', { mean: number }>;
    assert.ok(posterior.candidate.mean > posterior.control.mean, JSON.stringify(posterior));
    assert.equal(await champion('ab-model'), 2);
    const moved = (await listAliasEvents(stack.db, 'ab-model', { alias: 'champion' })).at(-1)!;
    assert.deepEqual([moved.from_version, moved.to_version, moved.actor], [1, 2, 'rollout-test']);
    assert.match(moved.reason, /rollout-ab-model \(ab\): v2 replaces v1; .*"pBest":/);
    assert.equal(await readRoutes(stack.db, 'ab-model'), null, 'routes removed: the new champion serves');

    // Canary with errors: rolled back by its guardrail, audited; the champion did not move.
    assert.equal(bad!.outcome, 'rolled-back');
    assert.match(bad!.reason, /guardrail breached: error rate/);
    assert.equal(await champion('canary-bad'), 1);
    assert.equal(await readRoutes(stack.db, 'canary-bad'), null);
    assert.deepEqual((await decisionKinds('canary-bad')).slice(-2), ['rollout-guardrail-breach', 'rollout-rolled-back']);

    // Shadow: a report comparing the mirrored predictions, in the artifact store.
    assert.equal(shadow!.outcome, 'reported');
    const store = await openArtifactStore(config.artifacts);
    const report = JSON.parse((await store.getBuffer(shadow!.report!.uri)).toString('utf8'));
    assert.equal(report.format, 'sluice.shadow-report/1');
    assert.ok(report.comparison.pairs >= 150, `pairs ${report.comparison.pairs}`);
    assert.ok(report.comparison.agreement > 0.75 && report.comparison.agreement < 0.99, `agreement ${report.comparison.agreement}`);
    // Agreeing pairs differ by 0.1 in score, disagreeing ones by 0.5.
    assert.ok(Math.abs(report.comparison.meanAbsScoreDiff - (0.1 + 0.4 * (1 - report.comparison.agreement))) < 0.001, `score diff ${report.comparison.meanAbsScoreDiff}`);
    assert.ok(report.candidate.latencyMs.p50 > report.control.latencyMs.p50, 'the shadow was slower');
    assert.equal(await readRoutes(stack.db, 'shadow-model'), null);

    assert.equal(aborted!.outcome, 'aborted');
    assert.equal(await readRoutes(stack.db, 'canary-hand'), null);
    assert.equal(await champion('canary-hand'), 1);

    // `sluice models rollback`: champion back to v1, audited.
    const rolledBack = await rollbackChampion(stack.db, 'ab-model', { actor: 'ada' });
    assert.deepEqual([rolledBack.from, rolledBack.to], [2, 1]);
    const back = (await listAliasEvents(stack.db, 'ab-model', { alias: 'champion' })).at(-1)!;
    assert.deepEqual([back.from_version, back.to_version, back.actor, back.reason], [2, 1, 'ada', 'rollback of v2 to the previous champion v1']);

    // The real histories (a worker restart, signals, an update, a rejected signal) replay.
    await replay(handles.map((h) => h.workflowId));
  } finally {
    await Promise.all(traffic.map((t) => t.stop()));
  }
});

test('a start payload that does not fit fails the rollout at once, naming the fields', async () => {
  const handle = await stack.client.workflow.start('rollout', { taskQueue: stack.workers.config.queues.workflow, workflowId: 'rollout-bad-payload', args: [{ model: 'ab-model', strategy: 'fast' }] });
  await assert.rejects(handle.result(), (e: Error) => /invalid rollout start: .*candidate.*strategy|invalid rollout start: .*strategy.*candidate/.test(String((e.cause as Error | undefined)?.message)));
});

/** Registers one shallow GBDT tree on penguins' species (a poor classifier) as the next version of `model`; returns the version. */
async function registerWeakPenguinModel(model: string, store: ArtifactStore): Promise<number> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rollout-weak-')), 'penguins.parquet');
  pl.readRecords(JSON.parse(fs.readFileSync(PENGUINS, 'utf8')) as Record<string, unknown>[]).writeParquet(file);
  const ref = await putParquetFile(store, file);
  const frame = pl.readParquet(file);
  const schema = schemaOf(frame);
  const { version } = await registerDatasetVersion(stack.db, { name: 'penguins-weak', uri: ref.uri, sha256: ref.sha256, sizeBytes: ref.size, rows: frame.height, schema, source: { kind: 'test', file: PENGUINS } });
  const train = { ...ref, name: 'penguins-weak', version: version.version, rows: frame.height, schema };
  const { model: m } = (await runGbdt(trainGbdtStep.input.parse({ train, target: 'Species', params: { nEstimators: 1, learningRate: 0.05, maxLeaves: 2 } }), testStepContext({ store, db: stack.db }))) as { model: ModelRef };
  const registered = await registerModelVersion(stack.db, { name: model, source: { uri: m.uri, sha256: m.sha256, size: m.size }, signature: m.signature, createdBy: 'test', description: 'one shallow tree' });
  return registered.version.version;
}

/**
 * Waits until both replicas serve the model's routing table as it is in the database now (its
 * epoch and weights; the champion alias once it has none), then checks that every request key gets
 * the same variant (and that variant's version) from both, twice. Prints how long they took to follow.
 */
async function replicasAgree(replicas: ServingServer[], model: string, change: string): Promise<void> {
  const table = await readRoutes(stack.db, model);
  const t0 = performance.now(); // the change's write has returned (its NOTIFY sent with its commit)
  type Meta = { parameters: { source: string; epoch: number; variants: { variant: string; version: number; weight: number; mode: string }[] } };
  const expected = table ? Object.fromEntries(table.routes.filter((r) => r.mode === 'live').map((r) => [r.variant, [r.version, r.weight]])) : { champion: [await champion(model), 1] };
  const metas = await waitFor(`both replicas to follow ${change} (${JSON.stringify(expected)})`, async () => {
    const m = await Promise.all(replicas.map(async (r) => ((await (await fetch(`${r.url}/v2/models/${model}`)).json()) as Meta).parameters));
    const follows = (p: Meta['parameters']) =>
      (table ? p.source === 'routes' && p.epoch === table.epoch : p.source === 'alias') &&
      JSON.stringify(Object.fromEntries(p.variants.filter((v) => v.mode === 'live').map((v) => [v.variant, [v.version, v.weight]]))) === JSON.stringify(expected);
    return m.every(follows) ? m : undefined;
  });
  process.stderr.write(`[rollout] ${change}: both replicas at epoch ${metas[0]!.epoch} (${metas[0]!.source}) ${(performance.now() - t0).toFixed(0)} ms later\n`);
  const rows = JSON.parse(fs.readFileSync(PENGUINS, 'utf8')) as Record<string, unknown>[];
  const instance = Object.fromEntries(Object.entries(rows.find((r) => Object.values(r).every((v) => v !== null))!).filter(([k]) => k !== 'Species'));
  const answer = async (r: ServingServer, key: string) => {
    const res = await fetch(`${r.url}/v1/models/${model}:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ instances: [instance], key }) });
    const body = (await res.json()) as { variant: string; version: number };
    assert.equal(res.status, 200, JSON.stringify(body));
    return `${body.variant}=v${body.version}`;
  };
  const seen = new Set<string>();
  for (let k = 0; k < 16; k++) {
    const key = `user-${k}`;
    const [a, b, again] = await Promise.all([answer(replicas[0]!, key), answer(replicas[1]!, key), answer(replicas[1]!, key)]);
    assert.equal(a, b, `${change}: ${key} gets the same variant from both replicas`);
    assert.equal(b, again, `${change}: ${key} is sticky`);
    seen.add(a);
  }
  const variants = Object.entries(expected).map(([v, [version]]) => `${v}=v${version}`);
  for (const v of seen) assert.ok(variants.includes(v), `${change}: ${v} is one of ${variants.join(', ')}`);
}

test('a training run with rollout params hands a winning challenger to a rollout instead of moving the champion', async () => {
  const model = 'penguins-rollout';
  // v1: a weak model (one shallow tree), trained and registered directly (a pipeline run costs
  // seconds the suite has not got). With no champion there is nothing to roll out against: the
  // hand-off step approves its pending promotion at once.
  const store = await openArtifactStore(stack.workers.config.artifacts);
  const weak = await registerWeakPenguinModel(model, store);
  const pendingFirst = await applyDecision(stack.db, { name: model, challengerVersion: weak, decision: 'pending', mode: 'automatic', by: 'sluice-pipeline', reason: 'to be rolled out', expectedChampion: null });
  const direct = await startRolloutImpl.run(
    startRolloutStep.input.parse({
      proposal: { promoted: false, outcome: 'pending_approval', decisionId: pendingFirst.decision.id, name: model, alias: 'champion', challengerVersion: weak, championVersion: null, metric: 'accuracy', direction: 'higher', margin: 0, marginKind: 'absolute', challengerValue: 0.4, championValue: null, delta: null, reason: 'no champion yet' },
      rollout: { strategy: 'canary' },
    }),
    testStepContext({ store, db: stack.db }),
  );
  assert.deepEqual([direct.started, direct.promoted, direct.workflowId], [false, true, null], direct.reason);
  assert.equal(await champion(model), weak);

  // Two serving replicas on the rollout's database (started while the run trains) check below that
  // they agree on the weights after every change the rollout makes.
  const starting = Promise.allSettled(
    [1, 2].map(() =>
      startServing({ databaseUrl: stack.pg.url, artifacts: stack.workers.config.artifacts, host: '127.0.0.1', port: 0, rateLimit: 0, batchRows: 64, batchWaitMs: 1, migrate: false, log: createLogger({ test: 'rollout-replicas' }, 'error') }),
    ),
  );
  try {
    // A better one beats it: its promotion is pending and a canary of v2 against v1 runs.
    const rollout: TrainingRollout = { strategy: 'canary', checkEvery: '250ms', canary: { steps: [10, 100], hold: '1h', minRequests: 1 } };
    const second = (await (await startRun(stack, trainModel, { model, search: {}, maxTrials: 1, gbdt: { nEstimators: 20, learningRate: 0.2 }, rollout })).result()).outputs;
    assert.equal(second.version, 2);
    assert.equal(second.promoted, undefined, 'the promote node did not run');
    assert.deepEqual([second.rollout?.started, second.rollout?.workflowId, second.rollout?.candidate, second.rollout?.control], [true, `rollout-${model}`, 2, 1], second.rollout?.reason);
    const handle = stack.client.workflow.getHandle(second.rollout!.workflowId!);
    const status = await waitFor('the canary to set its first step', async () => {
      const s = await handle.query(rolloutStatusQuery);
      return s.step ? s : undefined;
    });
    assert.deepEqual([status.strategy, status.candidate, status.control, status.weights.candidate], ['canary', 2, 1, 0.1]);
    assert.equal(await champion(model), 1, 'the champion moves only when the rollout promotes');
    const pending = await stack.db.query(`SELECT id, outcome FROM model_decisions WHERE model_name = $1 AND challenger_version = 2 ORDER BY id`, [model]);
    assert.deepEqual(pending.rows.map((r) => r.outcome), ['pending_approval']);

    const replicas = (await starting).map((r) => (r.status === 'fulfilled' ? r.value : assert.fail(r.reason as Error)));
    await replicasAgree(replicas, model, "the canary's first step (the replicas load v2)");
    for (const candidate of [0.3, 0.7]) {
      await setRolloutWeights(stack.client, model, { weights: { control: 1 - candidate, candidate }, reason: 'replica check', by: 'ada' });
      await replicasAgree(replicas, model, `weights set to ${candidate}`);
    }

    // Rolling the canary back rejects the pending promotion; the champion stays, and serves on both replicas.
    await handle.signal(abortSignal, { reason: 'not this one', by: 'ada' });
    assert.equal(((await handle.result()) as RolloutResult).outcome, 'aborted');
    await replicasAgree(replicas, model, 'the rollback');
    const settled = await stack.db.query(`SELECT outcome, resolves FROM model_decisions WHERE model_name = $1 AND challenger_version = 2 ORDER BY id`, [model]);
    assert.deepEqual(settled.rows.map((r) => [r.outcome, r.resolves]), [['pending_approval', null], ['rejected', pending.rows[0].id]]);
    assert.equal(await champion(model), 1);

    // A rollout that promotes approves its decision: the alias moves with it (once, however often the activity is retried).
    const acts = createRolloutActivities({ db: stack.db, store });
    const again = await applyDecision(stack.db, { name: model, challengerVersion: 2, decision: 'pending', mode: 'automatic', by: 'sluice-pipeline', reason: 'to be rolled out', expectedChampion: 1 });
    const promote = { model, version: 2, actor: 'rollout-test', reason: 'canary held', rolloutId: `rollout-${model}`, decision: again.decision.id };
    assert.deepEqual(await acts.rolloutPromote(promote), { from: 1, to: 2, changed: true });
    assert.deepEqual(await acts.rolloutPromote(promote), { from: 1, to: 2, changed: true }, 'a retry finds the decision it made');
    const approved = await stack.db.query(`SELECT d.outcome, e.to_version FROM model_decisions d LEFT JOIN alias_events e ON e.decision_id = d.id WHERE d.resolves = $1`, [again.decision.id]);
    assert.deepEqual(approved.rows, [{ outcome: 'promoted', to_version: 2 }], 'one approval, and the alias event that points at it');
    assert.equal(await champion(model), 2);
    // A decision a person settled meanwhile is theirs: the rollout still moves the alias, through setAlias.
    const settledByHand = await applyDecision(stack.db, { name: model, challengerVersion: 1, decision: 'pending', mode: 'automatic', by: 'sluice-pipeline', reason: 'to be rolled out', expectedChampion: 2 });
    await applyDecision(stack.db, { name: model, challengerVersion: 1, decision: 'reject', mode: 'manual', by: 'ada', reason: 'no', resolves: settledByHand.decision.id });
    assert.deepEqual(await acts.rolloutPromote({ ...promote, version: 1, decision: settledByHand.decision.id }), { from: 2, to: 1, changed: true });
    assert.deepEqual(await acts.rolloutRejectDecision({ model, candidate: 1, decision: settledByHand.decision.id, actor: 'rollout-test', reason: 'rolled back', rolloutId: `rollout-${model}` }), { outcome: 'already settled' });
  } finally {
    await Promise.all((await starting).map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
  }
});
