import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { projectRoot } from '../infra/paths';
import { approveUpdate, runStateQuery } from '../pipelines/dsl/messages';
import { paramsDigest } from '../pipelines/dsl/run-summary';
import { startPipeline } from '../pipelines/dsl/start';
import { monitorStatusQuery, setPolicyUpdate } from '../pipelines/monitor/messages';
import type { MonitorStart } from '../pipelines/monitor/protocol';
import { approval } from './fixtures/engine-pipelines';
import { startTestStack, type TestStack, uniqueId } from './helpers/stack';
import { waitFor } from './helpers/wait-for';

/**
 * Messages sent by hand (the Temporal UI's signal form, `temporal workflow signal --input '{}'`)
 * to live workflows: malformed payloads of every handler must be refused or recorded as rejected,
 * never fail a workflow task (which would stall the workflow until a manual reset); queries
 * still answer and valid input afterwards completes the work. And the UI can read a run: its
 * summary and details at start, and the node states as current details.
 */
let stack: TestStack;

before(async () => {
  stack = await startTestStack({ kinds: ['cpu'], env: { SLUICE_EXTRA_PIPELINES: path.join(projectRoot, 'test', 'fixtures', 'engine-pipelines.ts') } });
});
after(async () => {
  await stack?.stop();
});

const huge = 'x'.repeat(200_000);
/** Payloads that fit no handler: wrong types, empty, a plain string, null, a huge string. */
const malformed: unknown[] = ['oops', {}, null, 42, [1, 2], { batchId: 123, reason: 7, node: false }, huge];


/** A poisoned workflow shows up as failed workflow tasks in its history. */
async function failedTasks(h: WorkflowHandle): Promise<string[]> {
  const history = await h.fetchHistory();
  return (history.events ?? [])
    .filter((e) => e.workflowTaskFailedEventAttributes)
    .map((e) => e.workflowTaskFailedEventAttributes?.failure?.message ?? '?');
}

const updateError = (e: Error) => String((e.cause as Error | undefined)?.message ?? e.message);

test('a drift monitor ignores malformed signals (shown as rejected), refuses bad policy updates, and keeps working', async () => {
  const model = uniqueId('poison-');
  const reference = { uri: 'file:///nowhere/ref.parquet', sha256: '0'.repeat(64), size: 0, name: 'ref', version: 1, rows: 0, schema: [] };
  const start: MonitorStart = { model, reference, policy: { dailyCap: 3 } };
  const h = await stack.client.workflow.start('drift-monitor', { taskQueue: stack.workers.config.queues.workflow, workflowId: `drift-monitor-${model}`, args: [start] });
  await waitFor('the monitor to answer', () => h.query(monitorStatusQuery));

  // Raw signals by name: no types to stop a bad payload on the way.
  const signals = ['batchScored', 'labelsArrived', 'retrain'];
  for (const name of signals) for (const body of malformed) await h.signal(name, body);
  await h.signal('retrian', { reason: 'typo in the signal name' });
  await h.signal('retrain'); // no payload at all

  const sent = signals.length * malformed.length + 2;
  const status = await waitFor('the rejections to be recorded', async () => {
    const s = await h.query(monitorStatusQuery);
    return s.decisions.filter((d) => d.kind === 'rejected').length >= Math.min(sent, 50) ? s : undefined;
  });
  // The rejected list is bounded (the newest 20) and names handler, time and reason.
  assert.equal(status.rejected?.length, 20);
  const last = status.rejected!.at(-1)!;
  assert.equal(last.handler, 'retrain');
  assert.match(last.reason, /retrain signal rejected: .*expected object/);
  assert.ok(!Number.isNaN(Date.parse(last.at)));
  assert.ok(status.rejected!.some((r) => r.handler === 'retrian' && /no signal named "retrian"/.test(r.reason)));
  assert.ok(status.rejected!.every((r) => r.reason.length <= 501), 'a huge payload does not make a huge reason');
  assert.ok(!status.decisions.some((d) => d.kind === 'retrain-skipped' || d.kind === 'retrain-started'), 'nothing acted on a bad signal');

  // Bad updates are refused by the validator (nothing written to history), naming the problem.
  for (const [patch, why] of [
    ['oops', /expected record, received string/],
    [null, /expected record, received null/],
    [[1], /expected record, received array/],
    [{ nEstimators: 5 }, /Unrecognized key/],
    [{ driftShare: 'half' }, /driftShare/],
    [{ driftShare: 2 }, /driftShare/],
  ] as const) {
    await assert.rejects(h.executeUpdate(setPolicyUpdate, { args: [patch as never] }), (e: Error) => why.test(updateError(e)), JSON.stringify(patch));
  }
  // Queries still answer, even with junk arguments.
  assert.equal((await h.query<{ model: string }, [string]>('status', huge)).model, model);

  // Valid input afterwards is handled: a policy change answers, a person's retrain is planned
  // (and skipped: the monitor has seen no data yet), labels with metrics are recorded.
  const policy = await h.executeUpdate(setPolicyUpdate, { args: [{ dailyCap: 5 }] });
  assert.equal(policy.dailyCap, 5);
  await h.signal('retrain', { reason: 'after the junk', by: 'alice', requestId: 'ok-1' });
  const done = await waitFor('the valid retrain request to be handled', async () => {
    const s = await h.query(monitorStatusQuery);
    return s.decisions.some((d) => d.kind === 'retrain-skipped') ? s : undefined;
  });
  assert.match(done.decisions.find((d) => d.kind === 'retrain-skipped')!.reason, /requested by alice: after the junk: no data to retrain on yet/);
  assert.equal(done.policy.dailyCap, 5);
  assert.deepEqual(await failedTasks(h), [], 'no workflow task failed');
  const history = await h.fetchHistory();
  assert.equal(history.events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length, 1, 'only the valid update reached history');
  await h.terminate('test done');
});

test('a run waiting on approval refuses malformed approvals and signals, then completes with a valid one; the UI can read it', async () => {
  // Started as the Temporal UI or CLI would: a plain client, a workflow type and one JSON object.
  const params = { timeout: '1h' };
  const h = await stack.client.workflow.start('t-approval', { taskQueue: stack.workers.config.queues.workflow, workflowId: uniqueId('t-approval-'), args: [params] });
  const waiting = await waitFor('the run to wait for approval', async () => {
    const s = await h.query(runStateQuery);
    return s.nodes['sign-off']?.awaiting === 'approval' ? s : undefined;
  });
  assert.equal(waiting.nodes.score!.status, 'succeeded');

  // Current details: the pipeline, its params digest and the node states, as the UI reads them.
  const metadata = await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  const details = metadata.currentDetails ?? '';
  assert.match(details, /\*\*t-approval\*\*@[0-9a-f]{12} · running/);
  assert.ok(details.includes(paramsDigest(params)), details);
  assert.match(details, /\| score \| [^|]+ \| succeeded \|/);
  assert.match(details, /\| sign-off \| [^|]+ \| awaiting approval \|/);
  assert.match(details, /\| promote \| [^|]+ \| pending \|/);

  for (const body of [...malformed, { node: 'sign-off', decision: 'maybe', by: 'x', reason: 'y' }, { node: 'sign-off', decision: 'approve', by: 'x', reason: huge }, { node: 'constructor', decision: 'approve', by: 'x', reason: 'y' }]) {
    await assert.rejects(h.executeUpdate(approveUpdate, { args: [body as never] }), (e: Error) => /invalid approve request|run has no node/.test(updateError(e)), JSON.stringify(body).slice(0, 80));
  }
  // An approval sent as a signal (a form that offers signals only) is recorded as rejected.
  await h.signal('approve', { node: 'sign-off', decision: 'approve', by: 'eve', reason: 'as a signal' });
  const state = await waitFor('the signal to be rejected', async () => {
    const s = await h.query(runStateQuery);
    return s.rejected?.length ? s : undefined;
  });
  assert.equal(state.rejected![0]!.handler, 'approve');
  assert.equal(state.nodes['sign-off']!.awaiting, 'approval', 'a rejected signal decides nothing');
  await assert.rejects(h.query('stepSpec', 42), /invalid stepSpec query/);
  assert.equal(await h.query('stepSpec', 'constructor'), null);

  const decision = await h.executeUpdate(approveUpdate, { args: [{ node: 'sign-off', decision: 'approve', by: 'alice', reason: 'fine' }] });
  assert.equal(decision.approved, true);
  const result = await h.result();
  assert.equal(result.outputs.decision.by, 'alice');
  const final = await h.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  assert.match(final.currentDetails ?? '', / · succeeded/);
  assert.match(final.currentDetails ?? '', /\| promote \| [^|]+ \| succeeded \|/);
  assert.deepEqual(await failedTasks(h), [], 'no workflow task failed');
});

test('startPipeline gives a run a static summary and details: pipeline and params digest', async () => {
  const params = { timeout: '2h' };
  const h = await startPipeline(stack.client, approval, params, { taskQueue: stack.workers.config.queues.workflow, workflowId: uniqueId('t-approval-') });
  const d = await h.describe();
  assert.equal(await d.staticSummary(), `t-approval · params ${paramsDigest(params).slice(0, 12)}`);
  const details = (await d.staticDetails()) ?? '';
  assert.ok(details.includes(paramsDigest(params)) && details.includes('"timeout": "2h"'), details);
  await h.terminate('test done');
});
