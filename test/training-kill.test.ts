import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../infra/paths';
import { slowTraining } from './fixtures/training-pipelines';
import { startRun } from './helpers/runs';
import { startTestStack, type TestStack } from './helpers/stack';

/**
 * Kill the worker in the middle of training: the retried step resumes from the checkpoint its
 * last heartbeat carried, and ends with exactly the model an uninterrupted run makes.
 */
let stack: TestStack;
before(async () => {
  stack = await startTestStack({
    kinds: ['cpu'],
    env: { SLUICE_EXTRA_PIPELINES: path.join(projectRoot, 'test', 'fixtures', 'training-pipelines.ts'), SLUICE_LOG_LEVEL: 'info', SLUICE_HEARTBEAT_THROTTLE: '1s' },
  });
});
after(async () => {
  await stack?.stop();
});

test('SIGKILL mid-training: the retry resumes from the last checkpoint and makes the same model', async () => {
  const { workers } = stack;
  const handle = await startRun(stack, slowTraining, {});

  // Wait for a heartbeat that carries a checkpoint.
  let checkpointed = 0;
  for (let i = 0; i < 600 && !checkpointed; i++) {
    const desc = await handle.describe();
    for (const a of desc.raw.pendingActivities ?? []) {
      const payload = a.heartbeatDetails?.payloads?.[0];
      if (a.activityType?.name !== 'train.gbdt' || !payload?.data) continue;
      const details = JSON.parse(Buffer.from(payload.data).toString()) as { iteration?: number; checkpoint?: unknown; checkpointRef?: unknown };
      if (details.checkpoint || details.checkpointRef) checkpointed = details.iteration ?? 1;
    }
    if (!checkpointed) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(checkpointed > 0, 'training heartbeated a checkpoint');
  const killed = workers.cpu!;
  killed.child.kill('SIGKILL');
  await new Promise((r) => killed.child.once('exit', r));
  await workers.startWorker('cpu');

  const resumed = await handle.result();
  const out = resumed.outputs;
  assert.equal(out.iterations, 300);
  const step = await stack.db.query(`SELECT attempt, status FROM step_runs WHERE run_id = $1 AND node_id = 'train'`, [resumed.runId]);
  assert.deepEqual([step.rows[0].status, step.rows[0].attempt >= 2], ['succeeded', true]);
  const log = fs.readFileSync(path.join(workers.home, 'worker-cpu.log'), 'utf8');
  const resumedLine = log.split('\n').find((l) => l.includes('resuming gradient boosting from a checkpoint'));
  assert.ok(resumedLine, 'the second attempt resumed instead of starting over');
  // (The heartbeat's iteration runs ahead of the checkpoint it carries, taken a few rounds before.)
  const from = (JSON.parse(resumedLine!) as { iteration: number }).iteration;
  assert.ok(from > 0 && from <= checkpointed, `resumed at iteration ${from}, last heartbeat at ${checkpointed}`);

  // The same training from scratch (forced past the cache) makes the very same model.
  const fresh = await (await startRun(stack, slowTraining, { _sluice: { force: ['train'] } })).result();
  assert.equal(fresh.outputs.model.sha256, out.model.sha256);
});
