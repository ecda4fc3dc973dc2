import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { projectRoot } from '../infra/paths';
import { phases, phasesStep } from './fixtures/phase-pipelines';
import { startRun } from './helpers/runs';
import { startTestStack, tempDir, type TestStack } from './helpers/stack';

/**
 * The phase a running step reports is what `temporal workflow describe` shows while the step is
 * in it. The fixture's step has a 30 s heartbeat timeout, under which Temporal's default throttle
 * (0.8 × the timeout) held a new phase back for up to 24 s; it stays in its second phase at most
 * 12 s, so a phase held back that long is never seen and the test fails.
 */
let stack: TestStack;

before(async () => {
  stack = await startTestStack({ kinds: ['cpu'], env: { SLUICE_EXTRA_PIPELINES: path.join(projectRoot, 'test', 'fixtures', 'phase-pipelines.ts') } });
});
after(async () => {
  await stack?.stop();
});

test('describe shows a step’s new heartbeat phase while the step is in it', async () => {
  assert.equal(phasesStep.timeouts.heartbeat, '30s');
  const release = path.join(tempDir('phases'), 'release');
  const handle = await startRun(stack, phases, { release });
  // Poll what describe shows until the second phase appears, or the step is no longer running.
  const seen: string[] = [];
  for (;;) {
    const d = await handle.describe();
    const activity = d.raw.pendingActivities?.[0];
    const payload = activity?.heartbeatDetails?.payloads?.[0];
    const phase = payload ? (defaultPayloadConverter.fromPayload(payload) as { phase?: string }).phase : undefined;
    if (phase && seen.at(-1) !== phase) seen.push(phase);
    if (phase === 'write online' || d.status.name !== 'RUNNING' || (seen.length && !activity)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  fs.writeFileSync(release, '');
  const result = await handle.result();
  assert.equal(seen.at(-1), 'write online', `phases shown: ${seen.join(' → ') || 'none'}`);
  assert.equal(result.outputs.released, true, 'the second phase was shown while the step was in it');
});
