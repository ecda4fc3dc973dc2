import type { ActivityDeps } from './context';
import { createGreet } from './hello/greet';
import { createRunActivities } from './runs/bookkeeping';

/** Every activity served on the CPU queue. */
export function createCpuActivities(deps: ActivityDeps) {
  return {
    ...createRunActivities(deps),
    greet: createGreet(deps),
  };
}
export type CpuActivities = ReturnType<typeof createCpuActivities>;
