import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { nodeStatesFromSummary } from '../cli/commands/runs';
import { runNodeSummary } from '../infra/db/console-queries';
import type { Db } from '../infra/db/pool';
import { listStepRunsPage } from '../infra/db/runs';
import { projectRoot } from '../infra/paths';
import { isClaim } from '../pipelines/dsl/claim';
import { MAP_SHARD_WORKFLOW } from '../pipelines/dsl/fan-out';
import { runStateQuery } from '../pipelines/dsl/messages';
import type { AnyPipeline } from '../pipelines/dsl/pipeline';
import { startPipeline, type RunParams } from '../pipelines/dsl/start';
import { batchedSquares, bigOutput, hangingBatch, wideNaps, wideSquares } from './fixtures/fanout-scale-pipelines';
import { runFailure } from './helpers/runs';
import { startTestStack, uniqueId, type TestStack } from './helpers/stack';

/**
 * The engine at scale, scaled down: shards of 5 items (SLUICE_MAP_SHARD_SIZE) make a 40-item
 * fan-out two levels deep (2 fanning shards, [0, 25) and [25, 40), over 8 leaves), and a claim
 * threshold of 100 bytes sends the fan-out list, the fan-in and a 200 kB output by reference.
 */
const SHARD = 5;
const N = 40;

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Shard ranges (`from-to`) by start, the wider first. */
const byRange = (a: string, b: string) => {
  const [fa, ta] = a.split('-').map(Number);
  const [fb, tb] = b.split('-').map(Number);
  return fa! - fb! || tb! - ta!;
};

describe('fan-outs wider than a shard, values larger than history should carry', () => {
  let stack: TestStack;
  let client: Client;
  let db: Db;

  before(async () => {
    stack = await startTestStack({
      kinds: ['cpu'],
      env: {
        SLUICE_EXTRA_PIPELINES: path.join(projectRoot, 'test', 'fixtures', 'fanout-scale-pipelines.ts'),
        SLUICE_MAP_SHARD_SIZE: String(SHARD),
        SLUICE_MAP_SHARD_WINDOW: '4',
        SLUICE_CLAIM_THRESHOLD: '100',
        SLUICE_CPU_CONCURRENCY: '32',
      },
    });
    ({ client, db } = stack);
  });
  after(async () => {
    await stack?.stop();
  });

  const start = <P extends AnyPipeline>(p: P, input: RunParams<P>) =>
    startPipeline(client, p, input, { taskQueue: stack.workers.config.queues.workflow, workflowId: uniqueId(`${p.name}-`) });

  /** Every shard execution of a run (visibility lags a little behind: wait until `expected` are listed). */
  const shardsOf = async (workflowId: string, expected: number): Promise<{ workflowId: string; status: string }[]> => {
    let found: { workflowId: string; status: string }[] = [];
    for (let i = 0; i < 50; i++) {
      found = [];
      for await (const w of client.workflow.list({ query: `WorkflowType = '${MAP_SHARD_WORKFLOW}'` })) {
        if (w.workflowId.startsWith(`${workflowId}/`)) found.push({ workflowId: w.workflowId, status: w.status.name });
      }
      if (found.length >= expected) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    return found;
  };
  const events = async (workflowId: string): Promise<HistoryEvent[]> => (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const payloadBytes = (e: HistoryEvent) => JSON.stringify(e).length;

  let firstRun: { workflowId: string; runId: string } | undefined;

  test('a 40-item fan-out runs as shards and reaches the next step as the typed list', async () => {
    const handle = await start(wideSquares, { n: N });
    const { outputs, runId } = await handle.result();
    firstRun = { workflowId: handle.workflowId, runId };
    assert.equal(outputs.count, N, 'the sum step received every result');
    assert.equal(outputs.total, Array.from({ length: N }, (_, i) => i * i).reduce((a, b) => a + b, 0));

    const state = await handle.query(runStateQuery);
    assert.equal(state.nodes.square!.status, 'succeeded');
    assert.deepEqual(state.nodes.square!.items, { total: N, done: N, running: 0 });
    assert.ok(isClaim(state.nodes.square!.output), 'the fan-in is a reference in the state, not 500 results');
    assert.ok(JSON.stringify(state).length < 10_000, `state query answer is small (${JSON.stringify(state).length} chars)`);

    // 2 fanning shards ([0, 25), [25, 40)) and 8 leaves of 5 items.
    const shards = await shardsOf(handle.workflowId, 10);
    assert.deepEqual(
      shards.map((s) => s.workflowId.slice(handle.workflowId.length + '/square/'.length)).sort(byRange),
      ['0-25', '0-5', '5-10', '10-15', '15-20', '20-25', '25-40', '25-30', '30-35', '35-40'],
    );
    assert.ok(shards.every((s) => s.status === 'COMPLETED'));
    for (const id of [handle.workflowId, ...shards.map((s) => s.workflowId)]) {
      const h = await events(id);
      // A leaf: 5 activities (3 events each) and its workflow tasks; a fanning execution: ≤ 5 children.
      assert.ok(h.length < 80, `${id}: ${h.length} events`);
      // Markers hold the run's compiled spec (the same size at any width): every other event is small.
      const sized = h.filter((e) => !e.markerRecordedEventAttributes).sort((a, b) => payloadBytes(b) - payloadBytes(a));
      assert.ok(payloadBytes(sized[0]!) < 6_000, `${id}: an event of ${payloadBytes(sized[0]!)} bytes: ${JSON.stringify(sized[0]).slice(0, 300)}`);
    }

    const rows = await db.query<{ n: string }>(`SELECT count(*) AS n FROM step_runs WHERE run_id = $1 AND node_id LIKE 'square[%' AND status = 'succeeded'`, [runId]);
    assert.equal(Number(rows.rows[0]!.n), N, 'every item has its step run');
  });

  test('items run in batches: four per activity, or sized from their measured time; a flaky item is retried with its own attempts, nothing else re-run', async () => {
    const n = 10; // leaves [0, 5) and [5, 10)
    const handle = await start(batchedSquares, { n, flakyAt: 2 });
    const { outputs, runId } = await handle.result();
    const squares = Array.from({ length: n }, (_, i) => i * i).reduce((a, b) => a + b, 0);
    assert.deepEqual(outputs, { fixed: squares, sized: squares });

    /** The items of each batch a leaf scheduled (a cache probe carries none). */
    const batchesOf = async (id: string, type: string) =>
      (await events(id)).flatMap((e) => {
        const a = e.activityTaskScheduledEventAttributes;
        if (a?.activityType?.name !== type) return [];
        const call = JSON.parse(Buffer.from(a.input!.payloads![0]!.data!).toString('utf8')) as { batch?: { indices: number[] } };
        return call.batch ? [call.batch.indices] : [];
      });
    // Item 2 failed: its batch answered 0 and 1, and 2 and 3 went again in a batch of their own.
    assert.deepEqual(await batchesOf(`${handle.workflowId}/fixed/0-5`, 'fs.flaky-square'), [[0, 1, 2, 3], [2, 3], [4]]);
    assert.deepEqual(await batchesOf(`${handle.workflowId}/fixed/5-10`, 'fs.flaky-square'), [[5, 6, 7, 8], [9]]);
    // One item first, then the engine knows an item takes milliseconds: the rest in one batch.
    assert.deepEqual(await batchesOf(`${handle.workflowId}/sized/0-5`, 'fs.square'), [[0], [1, 2, 3, 4]]);

    // Item 2 failed its first attempt: 0 and 1 were not run again, 2 ran at its attempt 2, and 3
    // (which never failed) at its first.
    const rows = await db.query<{ node_id: string; attempt: number; status: string; outputs: { attempt: number } }>(
      `SELECT node_id, attempt, status, outputs FROM step_runs WHERE run_id = $1 AND node_id LIKE 'fixed[%' ORDER BY node_id`,
      [runId],
    );
    const attempts = Object.fromEntries(rows.rows.map((r) => [r.node_id, [r.status, r.attempt, r.outputs.attempt]]));
    assert.deepEqual(attempts, {
      'fixed[0]': ['succeeded', 1, 1],
      'fixed[1]': ['succeeded', 1, 1],
      'fixed[2]': ['succeeded', 2, 2],
      'fixed[3]': ['succeeded', 1, 1],
      'fixed[4]': ['succeeded', 1, 1],
      'fixed[5]': ['succeeded', 1, 1],
      'fixed[6]': ['succeeded', 1, 1],
      'fixed[7]': ['succeeded', 1, 1],
      'fixed[8]': ['succeeded', 1, 1],
      'fixed[9]': ['succeeded', 1, 1],
    });
  });

  test('sluice runs show reads a page of node runs and sums the rest in PostgreSQL', async () => {
    assert.ok(firstRun, 'the first run ran');
    const page = await listStepRunsPage(db, firstRun.runId, { node: 'square', limit: 8, offset: 30 });
    assert.equal(page.total, N);
    assert.equal(page.rows.length, 8);
    assert.ok(page.rows.every((r) => /^square\[\d+\]$/.test(r.node_id)), page.rows.map((r) => r.node_id).join(' '));
    const own = await listStepRunsPage(db, firstRun.runId, { items: false, limit: 100, offset: 0 });
    assert.deepEqual(own.rows.map((r) => r.node_id).sort(), ['seq', 'sum']);
    const states = nodeStatesFromSummary(await runNodeSummary(db, firstRun.runId));
    assert.deepEqual([states.square!.status, states.square!.items], ['succeeded', { total: N, done: N }]);
    assert.deepEqual([states.seq!.status, states.seq!.items], ['succeeded', undefined]);
  });

  test('a rerun with the same params answers every item from the cache', async () => {
    assert.ok(firstRun, 'the first run ran');
    const handle = await start(wideSquares, { n: N });
    const { outputs, runId } = await handle.result();
    assert.equal(outputs.count, N);
    const state = await handle.query(runStateQuery);
    assert.equal(state.nodes.square!.status, 'cached');
    const rows = await db.query<{ status: string; n: string }>(`SELECT status, count(*) AS n FROM step_runs WHERE run_id = $1 AND node_id LIKE 'square[%' GROUP BY status`, [runId]);
    assert.deepEqual(rows.rows.map((r) => [r.status, Number(r.n)]), [['cached', N]]);
    // Each fanning shard asked the cache about each of its leaf ranges in one activity (a probe);
    // every item hit, so the probe stored the range's fan-in and no leaf shard was started.
    const shards = await shardsOf(handle.workflowId, 2);
    assert.deepEqual(shards.map((s) => s.workflowId.slice(handle.workflowId.length + '/square/'.length)).sort(byRange), ['0-25', '25-40']);
    const scheduled = async (id: string) => (await events(id)).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    assert.deepEqual(await scheduled(`${handle.workflowId}/square/0-25`), ['fs.square', 'fs.square', 'fs.square', 'fs.square', 'fs.square', 'indexFanIn'], 'five probes, then the index of their fan-ins');
    assert.deepEqual(await scheduled(`${handle.workflowId}/square/25-40`), ['fs.square', 'fs.square', 'fs.square'], 'three probes (three parts ride inline)');
  });

  test('a rerun of a fan-out within the shard size is answered by one cache probe, its results inline', async () => {
    const first = await start(wideSquares, { n: 4, failAt: -4 });
    await first.result();
    const handle = await start(wideSquares, { n: 4, failAt: -4 });
    const { outputs } = await handle.result();
    assert.deepEqual([outputs.count, outputs.total], [4, 0 + 1 + 4 + 9]);
    const state = await handle.query(runStateQuery);
    assert.equal(state.nodes.square!.status, 'cached');
    assert.deepEqual(state.nodes.square!.output, [{ y: 0 }, { y: 1 }, { y: 4 }, { y: 9 }], 'small results stay in the run, not behind a claim');
    const scheduled = (await events(handle.workflowId)).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    assert.equal(scheduled.filter((t) => t === 'fs.square').length, 1, `one probe, no batch: ${scheduled.join(', ')}`);
  });

  test('a failing item fails its shard and the run, naming its index and cause; the other shards stop', async () => {
    const message = await runFailure(stack, wideSquares.name, { n: 20, failAt: 13 });
    assert.match(message, /step "square" \(fs\.square\) failed: item 13 failed: .*no square for 13 today/);
    const failedRun = (await db.query<{ workflow_id: string; run_id: string }>(`SELECT workflow_id, run_id FROM runs WHERE pipeline_name = 'fs-wide' AND status = 'failed'`)).rows[0]!;
    // Batch items write their rows once they end (activities/runtime/step-book.ts): the failed
    // item's row says why, with its start before its end.
    const item = await db.query<{ status: string; error: string; ordered: boolean }>(
      `SELECT status, error, started_at <= ended_at AS ordered FROM step_runs WHERE run_id = $1 AND node_id = 'square[13]'`,
      [failedRun.run_id],
    );
    assert.equal(item.rows[0]?.status, 'failed', JSON.stringify(item.rows));
    assert.match(item.rows[0]!.error, /no square for 13 today/);
    assert.equal(item.rows[0]!.ordered, true);
    const shards = await shardsOf(failedRun.workflow_id, 1);
    assert.ok(shards.some((s) => s.workflowId.endsWith('/square/10-15')), `the shard of item 13 ran: ${shards.map((s) => s.workflowId).join(', ')}`);
    for (let i = 0; i < 50 && (await shardsOf(failedRun.workflow_id, 1)).some((s) => s.status === 'RUNNING'); i++) await new Promise((r) => setTimeout(r, 200));
    assert.ok((await shardsOf(failedRun.workflow_id, 1)).every((s) => s.status !== 'RUNNING'), 'no shard is left running');
    const square = (await client.workflow.getHandle(failedRun.workflow_id).query(runStateQuery)).nodes.square!;
    assert.equal(square.status, 'failed');
    assert.match(square.error!, /item 13 failed/);
    assert.equal(square.items!.running, 0, 'the state counts no item of a stopped shard as running');
  });

  test('a batch that times out names the item that was running, not its first', async () => {
    const err = await runFailure(stack, hangingBatch.name, { hangAt: 1 });
    assert.match(err, /item 1 failed/, err);
  });

  test('cancelling a run mid-fan-out cancels every shard; nothing is left running', async () => {
    // 20 items of a minute each: 4 leaves of 5, all in flight (window 4), none can finish first.
    const handle = await start(wideNaps, { n: 20, ms: 60_000 });
    let running = 0;
    for (let i = 0; i < 100 && running < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      running = (await handle.query(runStateQuery).catch(() => undefined))?.nodes.nap?.items?.running ?? 0;
    }
    assert.equal(running, 20, 'every shard started');
    const started = await shardsOf(handle.workflowId, 4);
    assert.equal(started.length, 4, `shards: ${started.map((s) => s.workflowId).join(', ')}`);
    await handle.cancel();
    await assert.rejects(handle.result(), (e: Error) => /cancel/i.test(`${e.message} ${(e.cause as Error | undefined)?.message}`));
    let shards = started;
    for (let i = 0; i < 50 && shards.some((s) => s.status === 'RUNNING'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      shards = await shardsOf(handle.workflowId, 4);
    }
    for (const s of shards) assert.ok(s.status === 'CANCELLED' || s.status === 'TERMINATED', `${s.workflowId}: ${s.status}`);
    const state = await handle.query(runStateQuery);
    assert.equal(state.status, 'cancelled');
    assert.equal(state.nodes.nap!.items!.running, 0, 'no item counted as running');
  });

  test('an output larger than the threshold goes by reference; the next step receives the value', async () => {
    const chars = 200_000;
    const handle = await start(bigOutput, { chars, seed: uniqueId('s') });
    const { outputs } = await handle.result();
    assert.equal(outputs.length, chars);
    assert.equal(outputs.chars, chars, 'small fields of a claimed output stay inline');
    assert.match(outputs.head, /^s[0-9a-f]{7}/);
    const h = await events(handle.workflowId);
    const total = h.reduce((n, e) => n + payloadBytes(e), 0);
    assert.ok(total < 40_000, `the run's whole history is ${total} bytes, not the ${chars}-char text`);
  });
});
