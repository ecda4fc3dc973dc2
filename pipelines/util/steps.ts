import { z } from 'zod';
import { step } from '../dsl/step';

/**
 * Small general-purpose steps: pass a value on, wait, fail on demand. Used by the engine's tests
 * and benchmark, and handy for sketching a pipeline before its real steps exist.
 */
export const passStep = step({
  name: 'util.pass',
  description: 'return its input unchanged',
  input: z.strictObject({ value: z.json() }),
  output: z.object({ value: z.json() }),
  timeouts: { startToClose: '1m' },
});

export const sumStep = step({
  name: 'util.sum',
  description: 'add numbers',
  input: z.strictObject({ values: z.array(z.number()) }),
  output: z.object({ total: z.number(), count: z.number().int() }),
  timeouts: { startToClose: '1m' },
});

export const rangeStep = step({
  name: 'util.range',
  description: 'the integers [0, n)',
  input: z.strictObject({ n: z.number().int().min(0).max(10_000) }),
  output: z.object({ items: z.array(z.number().int()) }),
  timeouts: { startToClose: '1m' },
});

export const sleepStep = step({
  name: 'util.sleep',
  description: 'wait, heartbeating',
  input: z.strictObject({ ms: z.number().int().min(0).max(3_600_000), value: z.json().optional() }),
  output: z.object({ sleptMs: z.number().int(), value: z.json().optional() }),
  timeouts: { startToClose: '2h', heartbeat: '10s' },
  cache: false,
  /** How long the previous attempt had already slept. */
  checkpoint: z.object({ elapsed: z.number().nonnegative() }),
});

export const failIfExistsStep = step({
  name: 'util.fail-if-exists',
  description: 'fail while a file exists (a stand-in for a transient outside fault)',
  input: z.strictObject({ path: z.string().min(1), value: z.json().optional() }),
  output: z.object({ value: z.json().optional() }),
  timeouts: { startToClose: '1m' },
  retry: { maximumAttempts: 1 },
});
