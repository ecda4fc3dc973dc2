import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';

/**
 * Validates a run's params at start. A thrown ZodError would fail the workflow *task* and retry
 * forever, so a violation becomes a non-retryable failure that names each bad field.
 */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown, pipeline: string): z.infer<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const details = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(params)'}: ${i.message}`);
  throw ApplicationFailure.create({
    type: 'InvalidParams',
    message: `invalid params for pipeline ${pipeline}: ${details.join('; ')}`,
    nonRetryable: true,
    details: r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
  });
}
