import { greetStep } from '../../pipelines/hello';
import { implement } from '../runtime/implement';
import { sleepWithHeartbeat } from '../runtime/step-activity';

/**
 * Writes the greeting as a content-addressed artifact, then "finishes up" for `delayMs`. That
 * window, after the output is published but before the step completes, is where a crash tempts a
 * naive retry into writing a second output.
 */
export const greet = implement(greetStep, async ({ name, delayMs }, ctx) => {
  const greeting = await ctx.store.putContent(`Hello, ${name}!\n`, { contentType: 'text/plain' });
  const resumeFrom = ctx.checkpoint?.elapsedMs ?? 0;
  if (resumeFrom) ctx.log.info('resuming from checkpoint', { elapsedMs: resumeFrom });
  await sleepWithHeartbeat(Math.max(0, delayMs - resumeFrom), ctx, (elapsed) => ({ elapsedMs: resumeFrom + elapsed }));
  return { greeting };
});
