import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import type { AnyStep, CheckpointOf, StepSignature } from '../../pipelines/dsl/step';
import type { StepContext } from './step-context';

export interface StepImplementation<S extends AnyStep = AnyStep> {
  readonly step: S;
  readonly run: (input: z.output<S['input']>, ctx: StepContext<CheckpointOf<S>>) => Promise<z.input<S['output']>>;
  /** The file that defines the implementation: the root of its code fingerprint. */
  readonly module: string;
}

/**
 * Binds a step signature to the function that runs it (worker side only). The defining module is
 * found from the call site, so the cache key follows the code without any bookkeeping by authors.
 */
export function implement<I extends z.ZodType, O extends z.ZodType, C extends z.ZodType | undefined = undefined>(
  step: StepSignature<I, O, C>,
  run: (input: z.output<I>, ctx: StepContext<CheckpointOf<StepSignature<I, O, C>>>) => Promise<z.input<O>>,
  opts: { module?: string } = {},
): StepImplementation<StepSignature<I, O, C>> {
  return { step, run, module: opts.module ?? callerFile() };
}

function callerFile(): string {
  const stack = new Error().stack?.split('\n') ?? [];
  // [0] "Error", [1] callerFile, [2] implement, [3] the module calling implement()
  for (const line of stack.slice(3)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):\d+:\d+\)?$/.exec(line.trim());
    if (m?.[1]) return m[1].startsWith('file://') ? fileURLToPath(m[1]) : m[1];
  }
  throw new Error('implement(): cannot tell which module defines this step; pass { module: import.meta.url }');
}
