import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { projectRoot } from '../infra/paths';
import { runStateQuery } from '../pipelines/dsl/messages';
import { startPipeline } from '../pipelines/dsl/start';
import { widePlainSquares } from './fixtures/fanout-scale-pipelines';
import { eachHistory } from './helpers/histories';
import { startTestStack, uniqueId, type TestStack } from './helpers/stack';

/**
 * The width, at the engine's default limits (1,000-item shards, 8 in flight, items in
 * batches): a 100,000-item fan-out runs to its fan-in, every item is its own step run, and no
 * execution of the run (the run, its fanning shards, its leaves) holds more than 10,000 history
 * events: every one of them is fetched. The slowest test file (about a minute and a half here);
 * its speed is the fan-out bench's business (`npm run bench -- fanout 100k`), not this test's.
 */
const N = 100_000;
const MAX_EVENTS = 10_000;

let stack: TestStack;

before(async () => {
  stack = await startTestStack({
    kinds: ['cpu'],
    env: { SLUICE_EXTRA_PIPELINES: path.join(projectRoot, 'test', 'fixtures', 'fanout-scale-pipelines.ts'), SLUICE_CPU_CONCURRENCY: '64' },
  });
});
after(async () => {
  await stack?.stop();
});

test(`a ${N.toLocaleString('en')}-item fan-out completes, one step run per item, and no execution of it holds over ${MAX_EVENTS.toLocaleString('en')} history events`, async () => {
  const { client, db } = stack;
  const handle = await startPipeline(client, widePlainSquares, { n: N }, { taskQueue: stack.workers.config.queues.workflow, workflowId: uniqueId('fs-100k-') });
  const { outputs } = await handle.result();
  // Σ i² for i < N, exactly (below 2^53).
  assert.deepEqual(outputs, { count: N, total: ((N - 1) * N * (2 * N - 1)) / 6 });

  const runId = handle.firstExecutionRunId;
  const rows = await db.query<{ status: string; n: string }>(`SELECT status, count(*) AS n FROM step_runs WHERE run_id = $1 AND node_id LIKE 'square[%' GROUP BY status`, [runId]);
  assert.deepEqual(rows.rows.map((r) => [r.status, Number(r.n)]), [['succeeded', N]]);

  const sizes: { workflowId: string; events: number }[] = [];
  await eachHistory(client, handle.workflowId, runId, (events, { workflowId }) => sizes.push({ workflowId, events: events.length }));
  // The run and at least a leaf per 1,000 items.
  assert.ok(sizes.length > N / 1_000, `${sizes.length} executions`);
  const over = sizes.filter((s) => s.events > MAX_EVENTS);
  assert.deepEqual(over, [], `executions over ${MAX_EVENTS} events`);

  // The run's state stays small however wide the fan-out: totals, not every item.
  const state = await handle.query(runStateQuery);
  assert.deepEqual([state.nodes.square!.items?.total, state.nodes.square!.items?.done], [N, N]);
  assert.ok(JSON.stringify(state).length < 1_000_000, `state query: ${JSON.stringify(state).length} bytes`);
});
