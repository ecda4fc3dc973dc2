import type { ActivityDeps } from '../activities/context';
import { stepActivity } from '../activities/runtime/step-activity';
import { createMonitorActivities } from '../activities/monitor';
import { createRolloutActivities } from '../activities/rollout';
import { createRunActivities } from '../activities/runs/bookkeeping';
import { createFanInActivities } from '../activities/runs/fan-in';
import type { Queue } from '../pipelines/dsl/step';
import { implementationsFor, type Registry } from './registry';

/** The activities a worker registers for its queue: one per step (activity type = step name). */
export function activitiesFor(reg: Registry, queue: Queue, deps: ActivityDeps): Record<string, (...args: never[]) => Promise<unknown>> {
  const acts: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const impl of implementationsFor(reg, queue)) acts[impl.step.name] = stepActivity(deps, impl);
  if (queue === 'cpu') Object.assign(acts, createRunActivities(deps), createFanInActivities(deps), createMonitorActivities(deps), createRolloutActivities(deps));
  return acts;
}
