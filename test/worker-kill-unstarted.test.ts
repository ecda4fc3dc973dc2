import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { projectRoot } from '../infra/paths';
import { promoteModelStep } from '../pipelines/steps/registry';
import { lostTask } from './fixtures/lost-task-pipelines';
import { startRun } from './helpers/runs';
import { startTestStack, type TestStack } from './helpers/stack';

/**
 * A step attempt handed to a worker that dies before running it (the promote-model run that
 * waited its whole 5-minute start-to-close timeout): short steps now carry a heartbeat timeout of
 * seconds, so the lost attempt is retried on a new worker within a minute, not after
 * start-to-close. The fixture's step has promote-model's timeouts and retry policy.
 */
let stack: TestStack;

before(async () => {
  stack = await startTestStack({ kinds: ['cpu'], env: { SLUICE_EXTRA_PIPELINES: path.join(projectRoot, 'test', 'fixtures', 'lost-task-pipelines.ts') } });
});
after(async () => {
  await stack?.stop();
});

test('promote-model-like step: its worker dies on taking the task; a new worker finishes the run within a minute', async () => {
  assert.ok(promoteModelStep.timeouts.heartbeat, 'promote-model declares a heartbeat timeout');
  const { workers, db } = stack;
  const handle = await startRun(stack, lostTask, { tag: 'p1' });
  const killed = workers.cpu!;
  // The worker SIGKILLs itself on the first attempt, right after taking the task.
  const exit = await new Promise<NodeJS.Signals | null>((r) => killed.child.once('exit', (_code, signal) => r(signal)));
  assert.equal(exit, 'SIGKILL');
  const diedAt = Date.now();
  await workers.startWorker('cpu');

  const result = await handle.result();
  const recoveredIn = Date.now() - diedAt;
  assert.deepEqual(result.outputs, { tag: 'p1', attempt: 2 });
  assert.ok(recoveredIn < 60_000, `recovered in ${recoveredIn} ms (start-to-close is ${promoteModelStep.timeouts.startToClose})`);
  const step = await db.query(`SELECT status, attempt FROM step_runs WHERE run_id = $1 AND node_id = 'promote-like'`, [handle.firstExecutionRunId]);
  assert.deepEqual(step.rows[0], { status: 'succeeded', attempt: 2 });
});
