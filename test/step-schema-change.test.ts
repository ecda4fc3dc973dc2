import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import { projectRoot } from '../infra/paths';
import { runStateQuery } from '../pipelines/dsl/messages';
import { uniqueId, type TestWorkers, startTestStack, type TestStack } from './helpers/stack';

/**
 * A step's input schema changes (a new required field, no version bump) while a run of its
 * pipeline waits. When the run reaches the step, the new worker refuses it as StepVersionMismatch
 * naming the step and the field, read from the run's own spec through the stepSpec query; before
 * the steps table this surfaced as an InvalidInput about a missing field.
 */
const moduleSource = (variant: 'v1' | 'v2') => `
import { z } from 'zod';
import { implement } from '${projectRoot}/activities/runtime/implement';
import { sleepWithHeartbeat } from '${projectRoot}/activities/runtime/step-activity';
import { pipeline } from '${projectRoot}/pipelines/dsl/pipeline';
import { step } from '${projectRoot}/pipelines/dsl/step';

const waitStep = step({ name: 'tsc.wait', input: z.object({ ms: z.number().int() }), output: z.object({ ms: z.number() }), timeouts: { startToClose: '5m', heartbeat: '2s' }, cache: false });
const labelStep = step({
  name: 'tsc.label',
  input: z.object({ after: z.number()${variant === 'v2' ? ', tag: z.string()' : ''} }),
  output: z.object({ label: z.string() }),
  timeouts: { startToClose: '1m' },
  cache: false,
});

export const implementations = [
  implement(waitStep, async ({ ms }, ctx) => { await sleepWithHeartbeat(ms, ctx, () => ({})); return { ms }; }),
  implement(labelStep, async () => ({ label: '${variant}' })),
];

export const pipelines = [
  pipeline({ name: 't-schema-change', params: z.object({ ms: z.number().int().default(0) }) }, (p, b) => {
    const w = b.step('wait', waitStep, { ms: p.ms });
    const l = b.step('label', labelStep, { after: w.output.ms${variant === 'v2' ? ", tag: 'x'" : ''} });
    return { label: l.output.label };
  }),
];
`;

let stack: TestStack;
let workers: TestWorkers;
let client: Client;
const moduleDir = path.join(projectRoot, '.sluice', 'test-generated', uniqueId('schema-change-'));
const moduleFile = path.join(moduleDir, 'pipelines.ts');

before(async () => {
  fs.mkdirSync(moduleDir, { recursive: true });
  fs.writeFileSync(moduleFile, moduleSource('v1'));
  stack = await startTestStack({ kinds: ['cpu'], env: { SLUICE_EXTRA_PIPELINES: moduleFile } });
  ({ workers, client } = stack);
});
after(async () => {
  await stack?.stop();
  fs.rmSync(moduleDir, { recursive: true, force: true });
});

test('a step whose input schema changed under a waiting run fails it as StepVersionMismatch naming the field', async () => {
  const waiting = await client.workflow.start('t-schema-change', { taskQueue: workers.config.queues.workflow, workflowId: uniqueId('schema-'), args: [{ ms: 4000 }] });
  for (let i = 0; i < 150; i++) {
    const s = await waiting.query(runStateQuery).catch(() => undefined);
    if (s?.nodes.wait?.status === 'running') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await workers.stop();
  fs.writeFileSync(moduleFile, moduleSource('v2'));
  await workers.startWorker('cpu');

  const err = await waiting.result().then(
    () => assert.fail('the run should fail at the changed step'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  // StepFailed (the engine) ← ActivityFailure ← the worker's ApplicationFailure.
  let cause: unknown = err.cause;
  while (cause && !(cause instanceof ApplicationFailure && cause.type === 'StepVersionMismatch')) cause = (cause as ActivityFailure | ApplicationFailure).cause;
  assert.ok(cause instanceof ApplicationFailure, `no StepVersionMismatch in the failure chain of ${err.cause?.message}`);
  assert.equal(cause.nonRetryable, true);
  assert.match(cause.message, /node label: step tsc\.label@1 changed under this run: input tag \(added: string\)/);
  const state = await waiting.query(runStateQuery);
  assert.equal(state.nodes.label!.status, 'failed');
  assert.doesNotMatch(state.nodes.label!.error ?? '', /InvalidInput|invalid input/);
});
