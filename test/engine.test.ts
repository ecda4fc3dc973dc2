import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Db } from '../infra/db/pool';
import { projectRoot } from '../infra/paths';
import type { AnyPipeline } from '../pipelines/dsl/pipeline';
import { startPipeline, type PipelineHandle, type RunParams } from '../pipelines/dsl/start';
import { approveUpdate, runStateQuery } from '../pipelines/dsl/messages';
import { approval, approvalTimeout, branch, cached, diamond, failing, fanout, localChain, withSub } from './fixtures/engine-pipelines';
import { tempDir, uniqueId, type TestWorkers, startTestStack, type TestStack } from './helpers/stack';

describe('the engine runs any pipeline spec', () => {
  let stack: TestStack;
  let workers: TestWorkers;
  let client: Client;
  let db: Db;

  before(async () => {
    stack = await startTestStack({ env: { SLUICE_EXTRA_PIPELINES: path.join(projectRoot, 'test', 'fixtures', 'engine-pipelines.ts') } });
    ({ workers, client, db } = stack);
  });
  after(async () => {
    await stack?.stop();
  });

  // By definition (typed params and outputs), or by name for the runs that must be refused.
  const start = <P extends AnyPipeline>(pipeline: P | string, input: RunParams<P>): Promise<PipelineHandle<P>> =>
    startPipeline(client, pipeline, input, { taskQueue: workers.config.queues.workflow, workflowId: uniqueId(`${typeof pipeline === 'string' ? pipeline : pipeline.name}-`) });
  const run = async <P extends AnyPipeline>(pipeline: P, input: RunParams<P>) => {
    const handle = await start(pipeline, input);
    const result = await handle.result();
    return { handle, result, state: await handle.query(runStateQuery) };
  };
  const stepRows = async (runId: string) =>
    (await db.query('SELECT node_id, step, status, attempt FROM step_runs WHERE run_id = $1 ORDER BY node_id', [runId])).rows;

  test('local steps run inside the workflow task (markers, no activity tasks), retry there, and record their step runs', async () => {
    const { handle, result } = await run(localChain, { x: 1 });
    assert.deepEqual(result.outputs, { sum: 4, attempt1: 1, attempt2: 2, attempt3: 1, each: [0, 1, 2].map((i) => ({ sum: i + 4, attempt: 1 })) });
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    assert.ok(scheduled.includes('util.range') && !scheduled.includes('t.local-add'), `only the ordinary step went through a task queue: ${scheduled.join(', ')}`);
    const markers = events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
    assert.ok(markers.length >= 6, `three chain steps and three items as local activities: ${markers.length} markers`);
    const rows = await stepRows(result.runId);
    assert.deepEqual(
      rows.filter((r) => r.step === 't.local-add').map((r) => [r.node_id, r.status, r.attempt]),
      [['each[0]', 'succeeded', 1], ['each[1]', 'succeeded', 1], ['each[2]', 'succeeded', 1], ['one', 'succeeded', 1], ['three', 'succeeded', 1], ['two', 'succeeded', 2]],
    );
  });

  test('independent nodes run in parallel; dependents wait for both', async () => {
    const { result, state } = await run(diamond, { x: 4 });
    const { left, right, total } = result.outputs;
    assert.equal(total, 10);
    assert.ok(left.startedAt < right.endedAt && right.startedAt < left.endedAt, 'left and right overlapped in time');
    assert.ok(state.nodes.d!.startedAt! >= Math.max(state.nodes.left!.endedAt!, state.nodes.right!.endedAt!), 'd started after both');
    assert.deepEqual(Object.values(state.nodes).map((n) => n.status), ['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    assert.equal(state.version, result.version);
    assert.match(result.version, /^[0-9a-f]{12}$/);
  });

  test('conditions choose branches; nodes behind a skipped node are skipped', async () => {
    const big = await run(branch, { x: 20 });
    assert.deepEqual(
      Object.fromEntries(Object.entries(big.state.nodes).map(([k, v]) => [k, v.status])),
      { a: 'succeeded', big: 'succeeded', 'after-big': 'succeeded', small: 'skipped', mid: 'succeeded' },
    );
    const small = await run(branch, { x: 1 });
    assert.deepEqual(
      Object.fromEntries(Object.entries(small.state.nodes).map(([k, v]) => [k, v.status])),
      { a: 'succeeded', big: 'skipped', 'after-big': 'skipped', small: 'succeeded', mid: 'skipped' },
    );
    assert.deepEqual((await stepRows(small.result.runId)).map((r) => r.node_id), ['a', 'small']);
  });

  test('fan-out over a list with a parallelism bound, then fan-in', async () => {
    const { result, state } = await run(fanout, { n: 6 });
    assert.equal(result.outputs.total, 0 + 1 + 4 + 9 + 16 + 25);
    assert.deepEqual(result.outputs.squares.map((s) => s.y), [0, 1, 4, 9, 16, 25]);
    assert.deepEqual(state.nodes.square!.items, { total: 6, done: 6 });
    const rows = await stepRows(result.runId);
    assert.deepEqual(rows.filter((r) => r.step === 't.square').map((r) => r.node_id).sort(), ['square[0]', 'square[1]', 'square[2]', 'square[3]', 'square[4]', 'square[5]']);
  });

  test('a fan-out over an empty list yields an empty list', async () => {
    const { result } = await run(fanout, { n: 0 });
    assert.equal(result.outputs.total, 0);
  });

  test('sub-pipelines run inline under their node name, with defaults and passed params', async () => {
    const { result, state } = await run(withSub, { x: 5 });
    assert.equal(result.outputs.total, 5 + 1 + 10 + 100);
    assert.ok(state.nodes['inner/a'], 'the inner node is part of the run');
    assert.deepEqual((await stepRows(result.runId)).map((r) => r.node_id), ['final', 'first', 'inner/a']);
  });

  test('params are validated at start, naming the field; unknown pipelines fail clearly', async () => {
    const bad = await start('t-fanout', { n: 'many' });
    await assert.rejects(bad.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError && e.cause instanceof ApplicationFailure);
      assert.equal(e.cause.type, 'InvalidParams');
      assert.equal(e.cause.nonRetryable, true);
      assert.match(e.cause.message, /n: .*number/);
      return true;
    });
    const unknown = await start('no-such-pipeline', {});
    await assert.rejects(unknown.result(), (e: Error) => /no pipeline named "no-such-pipeline"; registered: .*hello/.test(String((e.cause as Error | undefined)?.message)));
    const badOptions = await start('t-fanout', { _sluice: { force: 'yes' } });
    await assert.rejects(badOptions.result(), (e: Error) => /_sluice\.force/.test(String((e.cause as Error | undefined)?.message)));
  });

  test('cached nodes show as cached and reuse outputs; force re-runs all or named steps', async () => {
    const text = uniqueId('cache-');
    const first = await run(cached, { text });
    assert.equal(first.state.nodes.produce!.status, 'succeeded');
    const firstFile = first.result.outputs.file;

    const second = await run(cached, { text });
    assert.equal(second.state.nodes.produce!.status, 'cached');
    assert.equal(second.state.nodes.echo!.status, 'cached');
    assert.deepEqual(second.result.outputs.file, firstFile);
    assert.deepEqual((await stepRows(second.result.runId)).map((r) => r.status), ['cached', 'cached']);

    const forcedOne = await run(cached, { text, _sluice: { force: ['produce'] } });
    assert.equal(forcedOne.state.nodes.produce!.status, 'succeeded');
    assert.notDeepEqual(forcedOne.result.outputs.file, firstFile, 'a forced step really ran');
    assert.equal(forcedOne.state.nodes.echo!.status, 'succeeded', 'its new output is a new input downstream');

    const forcedAll = await run(cached, { text, _sluice: { force: true } });
    assert.deepEqual([forcedAll.state.nodes.produce!.status, forcedAll.state.nodes.echo!.status], ['succeeded', 'succeeded']);
    const noCache = await run(cached, { text, _sluice: { cache: false } });
    assert.equal(noCache.state.nodes.produce!.status, 'succeeded');
  });

  test('a cache hit whose artifact is gone is recomputed', async () => {
    const text = uniqueId('gone-');
    const first = await run(cached, { text });
    const file = first.result.outputs.file;
    fs.rmSync(new URL(file.uri).pathname);
    const second = await run(cached, { text });
    assert.equal(second.state.nodes.produce!.status, 'succeeded');
  });

  test('a failed step fails the run naming the step; rerunning resumes at the failed step', async () => {
    const marker = path.join(tempDir('fail'), 'broken');
    fs.writeFileSync(marker, 'x');
    const h = await start(failing, { path: marker });
    await assert.rejects(h.result(), (e: unknown) => {
      assert.ok(e instanceof WorkflowFailedError && e.cause instanceof ApplicationFailure);
      assert.equal(e.cause.type, 'StepFailed');
      assert.match(e.cause.message, /step "guard" \(util\.fail-if-exists\) failed: .*broken exists/);
      return true;
    });
    const failedState = await h.query(runStateQuery);
    assert.deepEqual([failedState.nodes.a!.status, failedState.nodes.guard!.status, failedState.nodes.c!.status], ['succeeded', 'failed', 'skipped']);
    const runRow = await db.query('SELECT status, error FROM runs WHERE workflow_id = $1', [h.workflowId]);
    assert.equal(runRow.rows[0].status, 'failed');

    fs.rmSync(marker);
    const again = await run(failing, { path: marker });
    assert.deepEqual([again.state.nodes.a!.status, again.state.nodes.guard!.status, again.state.nodes.c!.status], ['cached', 'succeeded', 'succeeded']);
    assert.equal(again.result.outputs.c, 4);
  });

  test('GPU steps run on the GPU queue (CPU fallback here)', async () => {
    const { result, state } = await run(cached, { text: uniqueId('gpu-') });
    assert.equal(state.nodes.echo!.queue, 'gpu');
    assert.equal(result.outputs.provider, 'cpu');
  });

  const waitForApproval = async (h: WorkflowHandle) => {
    for (let i = 0; i < 200; i++) {
      const s = await h.query(runStateQuery).catch(() => undefined);
      if (s?.nodes['sign-off']?.awaiting === 'approval') return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the run never waited for approval');
  };

  test('an approval node waits for a validated update; approve lets gated nodes run', async () => {
    const h = await start(approval, {});
    await waitForApproval(h);
    await assert.rejects(
      h.executeUpdate(approveUpdate, { args: [{ node: 'sign-off', decision: 'approve', by: 'alice', reason: '' }] }),
      (e: Error) => /reason: a reason is required/.test(String((e.cause as Error | undefined)?.message)),
    );
    await assert.rejects(
      h.executeUpdate(approveUpdate, { args: [{ node: 'score', decision: 'approve', by: 'alice', reason: 'x' }] }),
      (e: Error) => /not waiting for approval/.test(String((e.cause as Error | undefined)?.message)),
    );
    const decision = await h.executeUpdate(approveUpdate, { args: [{ node: 'sign-off', decision: 'approve', by: 'alice', reason: 'metrics look good' }] });
    assert.deepEqual([decision.approved, decision.by, decision.timedOut], [true, 'alice', false]);
    const result = await h.result();
    const state = await h.query(runStateQuery);
    assert.equal(state.nodes.promote!.status, 'succeeded');
    assert.equal(result.outputs.decision.reason, 'metrics look good');
    const row = await db.query(`SELECT outputs FROM step_runs WHERE run_id = $1 AND node_id = 'sign-off'`, [result.runId]);
    assert.equal(row.rows[0].outputs.by, 'alice');
  });

  test('a rejection skips gated nodes; a timeout applies the declared default', async () => {
    const h = await start(approval, {});
    await waitForApproval(h);
    await h.executeUpdate(approveUpdate, { args: [{ node: 'sign-off', decision: 'reject', by: 'bob', reason: 'drift too high' }] });
    await h.result();
    assert.equal((await h.query(runStateQuery)).nodes.promote!.status, 'skipped');

    const { result, state } = await run(approvalTimeout, {});
    assert.equal(state.nodes.promote!.status, 'succeeded');
    assert.deepEqual(
      [result.outputs.decision.timedOut, result.outputs.decision.by],
      [true, 'timeout'],
    );
  });

  test('cancellation reaches running steps and is recorded', async () => {
    const h = await start(diamond, { x: 1, ms: 60_000 });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const s = await h.query(runStateQuery).catch(() => undefined);
      if (s?.nodes.left?.status === 'running' && s.nodes.right?.status === 'running') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const cancelledAt = Date.now();
    await h.cancel();
    await assert.rejects(h.result(), /cancel/i);
    const runRow = await db.query('SELECT run_id, status FROM runs WHERE workflow_id = $1', [h.workflowId]);
    assert.equal(runRow.rows[0].status, 'cancelled');
    // The sleeping steps noticed (through their heartbeats) and stopped instead of running 60 s.
    let rows: { status: string; ended_at: Date | null }[] = [];
    while (Date.now() < cancelledAt + 20_000) {
      rows = (await db.query(`SELECT status, ended_at FROM step_runs WHERE run_id = $1 AND step = 't.slow'`, [runRow.rows[0].run_id])).rows;
      if (rows.length === 2 && rows.every((r) => r.status === 'failed')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(rows.map((r) => r.status), ['failed', 'failed']);
  });
});
