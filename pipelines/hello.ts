import { z } from 'zod';

/**
 * The first pipeline: one step on each queue, an artifact written and read back, the run
 * recorded in PostgreSQL. It exists to prove the stack end to end (`sluice run hello`).
 * Imported by workflow code, so it holds schemas and names only, never implementations.
 */
export const HELLO_PIPELINE = { name: 'hello', version: '1' } as const;

export const helloParams = z
  .object({
    name: z.string().min(1).max(200).default('world').describe('who to greet'),
    /** Makes the CPU step take a while (heartbeating), so tests can kill a worker mid-step. */
    delayMs: z.number().int().min(0).max(600_000).default(0).describe('extra time the greet step takes, in ms'),
  })
  .strict();
export type HelloParams = z.infer<typeof helloParams>;

export const artifactRef = z.object({
  uri: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
});
export type ArtifactRefT = z.infer<typeof artifactRef>;

export const greetInput = z.object({ runId: z.string(), name: z.string(), delayMs: z.number().int().nonnegative() });
export const greetOutput = z.object({ greeting: artifactRef });

export const inspectInput = z.object({ runId: z.string(), greeting: artifactRef });
export const inspectOutput = z.object({
  report: artifactRef,
  device: z.object({ gpus: z.number().int().nonnegative(), provider: z.enum(['cuda', 'cpu']), fallbackReason: z.string().optional() }),
});

export interface HelloResult {
  runId: string;
  greeting: z.infer<typeof artifactRef>;
  report: z.infer<typeof artifactRef>;
  device: z.infer<typeof inspectOutput>['device'];
}
