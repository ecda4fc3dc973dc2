import { temporalActions } from '../cli/commands/ui';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { openArtifactStore } from '../infra/artifacts';
import { projectRoot } from '../infra/paths';
import { startPipeline } from '../pipelines/dsl/start';
import { runStateQuery } from '../pipelines/dsl/messages';
import { PipelineName } from '../pipelines/search-attributes';
import { boundedRunState, STATE_MAX_CHARS } from '../pipelines/dsl/bounded-state';
import type { NodeState, RunState } from '../pipelines/dsl/protocol';
import { isClaim } from '../pipelines/dsl/claim';
import { TEST_CHAIN_LENGTH, WIDE_TEXTS, testChain, wideTexts } from './fixtures/generated-pipelines';
import { startRun } from './helpers/runs';
import { startTestStack, uniqueId, type TestStack } from './helpers/stack';

/**
 * Pipelines longer than one execution's history should hold: with a history budget of 48 events
 * (SLUICE_RUN_HISTORY_BUDGET; 8,000 by default) a 20-node chain, about 130 events in one
 * execution, must hand over to fresh executions (continue as new) and still finish as one run.
 */
const BUDGET = 48;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
/** What an execution adds after its last node: the hand-over, or the run's end (its bookkeeping activity, the completion). */
const CLOSING_EVENTS = 10;

test('a state over the bound leaves out its largest outputs first, saying their size', () => {
  const node = (chars: number): NodeState => ({ status: 'succeeded', step: 's', queue: 'cpu', output: { text: 'x'.repeat(chars) } });
  const state: RunState = { pipeline: 'p', version: 'v', status: 'running', nodes: { a: node(300), b: node(900), c: node(600), d: { status: 'pending', step: 's', queue: 'cpu' } } };
  assert.equal(boundedRunState(state, 5_000), state, 'a small state is answered as it is');
  const bounded = boundedRunState(state, 1_200);
  assert.ok(JSON.stringify(bounded).length <= 1_200, JSON.stringify(bounded));
  assert.deepEqual(bounded.nodes.b!.output, { $sluiceOmitted: { chars: 911 } });
  assert.deepEqual(bounded.nodes.a, state.nodes.a, 'the smallest output stays');
  assert.equal(JSON.stringify(state.nodes.b!.output).length, 911, "the run's own state keeps the output");
});

describe('pipelines longer than an execution history budget', () => {
  let stack: TestStack;
  let client: Client;

  before(async () => {
    stack = await startTestStack({
      kinds: ['cpu'],
      env: {
        SLUICE_EXTRA_PIPELINES: path.join(projectRoot, 'test', 'fixtures', 'generated-pipelines.ts'),
        SLUICE_RUN_HISTORY_BUDGET: String(BUDGET),
      },
    });
    ({ client } = stack);
  });
  after(async () => {
    await stack?.stop();
  });

  /** Every execution of a workflow id, first to last, found through each one's continued-as-new event. */
  const executions = async (workflowId: string, firstRunId: string) => {
    const out: { runId: string; events: number; continued: boolean }[] = [];
    for (let runId: string | undefined = firstRunId; runId; ) {
      const events: HistoryEvent[] = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
      const next: string | undefined = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
      out.push({ runId, events: events.length, continued: next !== undefined });
      runId = next;
    }
    return out;
  };

  test('a chain continues as new within its budget and finishes as one run', async () => {
    const handle = await startRun(stack, testChain, { start: 5 });
    const { outputs, runId } = await handle.result();
    assert.equal(outputs.v, 5 + TEST_CHAIN_LENGTH, 'every node ran once, in order');
    assert.equal(runId, handle.firstExecutionRunId, 'the run keeps its first execution run id');

    const all = await executions(handle.workflowId, handle.firstExecutionRunId);
    // Without the budget the one execution would hold ~6 events per node.
    assert.ok(all.length >= 3, `${all.length} executions`);
    for (const e of all) assert.ok(e.events <= BUDGET + CLOSING_EVENTS, `execution ${e.runId}: ${e.events} events (budget ${BUDGET})`);
    assert.deepEqual(all.map((e) => e.continued), [...all.slice(1).map(() => true), false]);

    // The last execution answers for the whole run, and keeps the search attributes that find it.
    const state = await handle.query(runStateQuery);
    assert.equal(state.status, 'succeeded');
    assert.equal(state.execution, all.length);
    // The console asks by the run's first execution id and gets the current execution's state.
    const console = temporalActions(stack.workers.config);
    assert.equal((await console.runState!(handle.workflowId, handle.firstExecutionRunId))?.execution, all.length);
    await console.close();
    assert.equal(Object.values(state.nodes).filter((n) => n.status === 'succeeded').length, TEST_CHAIN_LENGTH);
    // Hand-overs carry only the outputs still to be read: the first node's is left out, its size said.
    assert.deepEqual(state.nodes.n0!.output, { $sluiceOmitted: { chars: JSON.stringify({ v: 6 }).length } });
    assert.deepEqual(state.nodes[`n${TEST_CHAIN_LENGTH - 1}`]!.output, { v: 5 + TEST_CHAIN_LENGTH });
    const last = await client.workflow.getHandle(handle.workflowId, all.at(-1)!.runId).describe();
    assert.deepEqual(last.typedSearchAttributes.get(PipelineName), testChain.name);

    // Bookkeeping is the run's: one row, every node's step run under the first run id.
    const run = await stack.db.query<{ status: string }>(`SELECT status FROM runs WHERE run_id = $1`, [runId]);
    assert.deepEqual(run.rows, [{ status: 'succeeded' }]);
    const steps = await stack.db.query<{ n: string }>(`SELECT count(DISTINCT node_id) AS n FROM step_runs WHERE run_id = $1 AND status = 'succeeded'`, [runId]);
    assert.equal(Number(steps.rows[0]!.n), TEST_CHAIN_LENGTH);
  });

  test('the state query of a wide run stays small; result() reads back outputs passed by reference', async () => {
    // 12 nodes and 12 items of 100,000 characters each: 1.2 MB of node outputs, under the claim
    // threshold one by one; the fan-in of the 12 items goes by reference.
    const chars = 100_000;
    const items = Array.from({ length: WIDE_TEXTS }, (_, i) => i);
    const artifacts = await openArtifactStore(stack.workers.config.artifacts);
    const handle = await startPipeline(client, wideTexts, { chars, items }, { taskQueue: stack.workers.config.queues.workflow, workflowId: uniqueId('wide-'), artifacts });
    const { outputs } = await handle.result();
    assert.equal(outputs.first, 0);
    assert.equal(outputs.last.length, chars);
    // The fan-in went by reference (the state below says so); the caller gets the declared list.
    assert.ok(Array.isArray(outputs.items), `items: ${JSON.stringify(outputs.items).slice(0, 200)}`);
    assert.deepEqual(outputs.items.map((o) => [o.i, o.text.length, o.text.slice(0, 3)]), items.map((i) => [i, chars, `${i}:.`.slice(0, 3)]));
    const state = await handle.query(runStateQuery);
    const size = JSON.stringify(state).length;
    assert.ok(size <= STATE_MAX_CHARS, `state answer ${size} chars`);
    const nodes = Object.values(state.nodes);
    assert.equal(nodes.filter((n) => n.status === 'succeeded').length, WIDE_TEXTS + 1, 'every node is in the state');
    const omitted = nodes.filter((n) => (n.output as { $sluiceOmitted?: { chars: number } } | undefined)?.$sluiceOmitted);
    assert.ok(omitted.length >= 1 && omitted.length < WIDE_TEXTS, `${omitted.length} outputs left out`);
    assert.ok(omitted.every((n) => (n.output as { $sluiceOmitted: { chars: number } }).$sluiceOmitted.chars > chars));
    assert.ok(isClaim(state.nodes.each!.output), 'the fan-in of 1.2 MB is a reference');
    assert.deepEqual(state.nodes.each!.items, { total: WIDE_TEXTS, done: WIDE_TEXTS });
  });
});
