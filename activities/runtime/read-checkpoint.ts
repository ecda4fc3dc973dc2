import type { AnyStep, CheckpointOf } from '../../pipelines/dsl/step';
import type { Logger } from '../../infra/log';

/**
 * The previous attempt's heartbeat as the step's checkpoint: parsed once with the step's schema
 * when it declares one. One that does not fit (written by older code, another format, foreign
 * heartbeat data) is dropped with a warning, so the step starts over instead of resuming from
 * something else. Steps without a schema get the details as they were.
 *
 * The step runtime calls it for every attempt; code that calls an implementation directly (tests,
 * benchmarks, a step that runs another's implementation) calls it too, so no checkpoint reaches
 * an implementation unparsed.
 */
export function readCheckpoint<S extends AnyStep>(step: S, details: unknown, log: Pick<Logger, 'warn'>): CheckpointOf<S> | undefined {
  if (details === undefined || details === null) return undefined;
  if (!step.checkpoint) return details as CheckpointOf<S>; // unknown: no schema to check against
  const r = step.checkpoint.safeParse(details);
  if (r.success) return r.data as CheckpointOf<S>;
  log.warn(`heartbeat details are no checkpoint of step ${step.name}; starting over`, {
    issues: r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(checkpoint)'}: ${i.message}`),
  });
  return undefined;
}
