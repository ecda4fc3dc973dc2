import { z } from 'zod';
import { pipeline } from './dsl/pipeline';
import { step } from './dsl/step';
import { artifactRef } from './steps/artifact-ref';

/**
 * The first pipeline: one step on each queue, an artifact written and read back, the run
 * recorded in PostgreSQL. It proves the stack end to end (`sluice run hello`, `npm run demo`).
 */

export const greetStep = step({
  name: 'hello.greet',
  description: 'write the greeting artifact',
  input: z.strictObject({ name: z.string().min(1), delayMs: z.number().int().nonnegative().default(0) }),
  output: z.object({ greeting: artifactRef }),
  queue: 'cpu',
  // Short, so a worker that dies mid-step is noticed within seconds and the step retried elsewhere.
  timeouts: { startToClose: '15m', heartbeat: '5s' },
  retry: { maximumAttempts: 10, maximumInterval: '10s' },
  /** How long the previous attempt had already waited. */
  checkpoint: z.object({ elapsedMs: z.number().nonnegative() }),
  // Always runs: the demo should show real work, and tests kill workers in the middle of it.
  cache: false,
});

export const inspectDeviceStep = step({
  name: 'hello.inspect-device',
  description: 'read the greeting, report the execution provider',
  input: z.strictObject({ greeting: artifactRef }),
  output: z.object({
    report: artifactRef,
    device: z.object({ gpus: z.number().int().nonnegative(), provider: z.enum(['cuda', 'cpu']), fallbackReason: z.string().optional() }),
  }),
  queue: 'gpu',
  timeouts: { startToClose: '10m' },
  retry: { maximumAttempts: 10, maximumInterval: '10s' },
  cache: false,
});

export const helloParams = z
  .object({
    name: z.string().min(1).max(200).default('world').describe('who to greet'),
    delayMs: z.number().int().min(0).max(600_000).default(0).describe('extra time the greet step takes, in ms'),
  })
  .strict();

export const hello = pipeline({ name: 'hello', description: 'one step on each queue, an artifact, the run recorded', params: helloParams }, (p, b) => {
  const greet = b.step('greet', greetStep, { name: p.name, delayMs: p.delayMs });
  const inspect = b.step('inspect-device', inspectDeviceStep, { greeting: greet.output.greeting });
  return { greeting: greet.output.greeting, report: inspect.output.report, device: inspect.output.device };
});
