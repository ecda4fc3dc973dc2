import { recordStepOutput } from '../../infra/db/runs';
import { greetInput, greetOutput } from '../../pipelines/hello';
import type { ActivityDeps } from '../context';
import { runStep, sleepWithHeartbeat } from '../step-runner';

/**
 * CPU step: writes the greeting as a content-addressed artifact and records it, then "finishes
 * up" for `delayMs`. That window, after the output is published but before the step completes,
 * is where a crash tempts a naive retry into recording a second output.
 */
export function createGreet(deps: ActivityDeps) {
  return async function greet(raw: unknown) {
    return runStep(deps, { name: 'greet', version: '1', queue: 'cpu' }, { input: greetInput, output: greetOutput }, raw, (i) => i.runId, async (ctx) => {
      const { runId, name, delayMs } = ctx.input;
      const greeting = await deps.store.putContent(`Hello, ${name}!\n`, { contentType: 'text/plain' });
      await recordStepOutput(deps.db, runId, 'greet', { ...greeting, mediaType: 'text/plain' });
      const resumeFrom = typeof (ctx.checkpoint as { elapsedMs?: unknown })?.elapsedMs === 'number' ? (ctx.checkpoint as { elapsedMs: number }).elapsedMs : 0;
      if (resumeFrom) ctx.log.info('resuming from checkpoint', { elapsedMs: resumeFrom });
      await sleepWithHeartbeat(Math.max(0, delayMs - resumeFrom), ctx, (elapsed) => ({ elapsedMs: resumeFrom + elapsed }));
      return { greeting: { uri: greeting.uri, sha256: greeting.sha256, size: greeting.size } };
    });
  };
}
