import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { openArtifactStore } from '../infra/artifacts';
import { migrate } from '../infra/db/migrate';
import { listAliasEvents, registerModelVersion, setAlias } from '../infra/db/registry';
import { copyPredictions, readRoutes, type OnlinePrediction } from '../infra/db/serving';
import { projectRoot } from '../infra/paths';
import { rollbackChampion } from '../cli/commands/models';
import { rolloutStatus, setRolloutWeights, startRollout } from '../cli/commands/rollout';
import { abortSignal, pauseSignal } from '../pipelines/rollout/messages';
import type { RolloutResult, RolloutStart } from '../pipelines/rollout/protocol';
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
  stack = await startTestStack({ kinds: ['cpu'] });
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
