import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../infra/paths';
import { runStateQuery } from '../pipelines/dsl/messages';
import { startRun } from './helpers/runs';
import { uniqueId, type TestWorkers, startTestStack, type TestStack } from './helpers/stack';

/**
 * A user edits a pipeline (and a step's code) while a run of it waits. The run keeps the shape it
 * started with (its spec is in its history); new runs get the new shape; the edited step's cache
 * is invalidated by its code fingerprint alone, without a version bump.
 */
const moduleSource = (variant: 'v1' | 'v2') => `
import { z } from 'zod';
import { implement } from '${projectRoot}/activities/runtime/implement';
import { sleepWithHeartbeat } from '${projectRoot}/activities/runtime/step-activity';
import { pipeline } from '${projectRoot}/pipelines/dsl/pipeline';
import { step } from '${projectRoot}/pipelines/dsl/step';

const waitStep = step({ name: 'tc.wait', input: z.object({ ms: z.number().int() }), output: z.object({ ms: z.number() }), timeouts: { startToClose: '5m', heartbeat: '2s' }, cache: false });
const labelStep = step({ name: 'tc.label', input: z.object({ after: z.number() }), output: z.object({ label: z.string() }), timeouts: { startToClose: '1m' } });

export const implementations = [
  implement(waitStep, async ({ ms }, ctx) => { await sleepWithHeartbeat(ms, ctx, () => ({})); return { ms }; }),
  implement(labelStep, async () => ({ label: '${variant}' })),
];

export const pipelines = [
  pipeline({ name: 't-change', params: z.object({ ms: z.number().int().default(0) }) }, (p, b) => {
    const w = b.step('${variant === 'v1' ? 'wait' : 'wait-renamed'}', waitStep, { ms: p.ms });
    ${variant === 'v2' ? "b.step('extra', waitStep, { ms: 0 });" : ''}
    const l = b.step('label', labelStep, { after: 1 }, { after: [w] });
    return { label: l.output.label };
  }),
];
`;

let stack: TestStack;
let workers: TestWorkers;
// Inside the project, so the module resolves the project's packages (zod) like a user's would.
const moduleDir = path.join(projectRoot, '.sluice', 'test-generated', uniqueId('change-'));
const moduleFile = path.join(moduleDir, 'pipelines.ts');

before(async () => {
  fs.mkdirSync(moduleDir, { recursive: true });
  fs.writeFileSync(moduleFile, moduleSource('v1'));
  stack = await startTestStack({ env: { SLUICE_EXTRA_PIPELINES: moduleFile } });
  ({ workers } = stack);
});
after(async () => {
  await stack?.stop();
  fs.rmSync(moduleDir, { recursive: true, force: true });
});

test('a waiting run keeps its definition across a change; new runs and the step cache follow the new code', async () => {
  // By name: the pipeline lives in the generated module the workers load, so its outputs are untyped.
  const start = (params: { ms?: number }) => startRun(stack, 't-change', params);

  const first = await (await start({})).result();
  const second = await start({});
  await second.result();
  assert.equal((await second.query(runStateQuery)).nodes.label!.status, 'cached', 'unchanged code: cache hit');

  // A run that will be waiting while the definition changes.
  const waiting = await start({ ms: 4000 });
  for (let i = 0; i < 150; i++) {
    const s = await waiting.query(runStateQuery).catch(() => undefined);
    if (s?.nodes.wait?.status === 'running') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await workers.stop();
  fs.writeFileSync(moduleFile, moduleSource('v2'));
  await workers.startWorker('cpu');
  await workers.startWorker('gpu');

  const waited = await waiting.result();
  assert.equal(waited.version, first.version, 'the waiting run kept the spec it started with');
  const waitedState = await waiting.query(runStateQuery);
  assert.deepEqual(Object.keys(waitedState.nodes), ['wait', 'label']);
  // Its label step ran after the change, on the new code: same step, version and inputs as the
  // cached v1 result, but the code fingerprint differs, so no cache hit and the new output.
  assert.equal(waitedState.nodes.label!.status, 'succeeded');
  assert.deepEqual(waited.outputs, { label: 'v2' });

  const fresh = await start({});
  const freshResult = await fresh.result();
  assert.notEqual(freshResult.version, first.version, 'new runs use the new definition');
  const freshState = await fresh.query(runStateQuery);
  assert.deepEqual(Object.keys(freshState.nodes), ['wait-renamed', 'extra', 'label']);
  assert.equal(freshState.nodes.label!.status, 'cached', 'reuses the result of the v2 code');
  assert.deepEqual(freshResult.outputs, { label: 'v2' });
});
