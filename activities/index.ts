import { greet } from './hello/greet';
import { inspectDevice } from './hello/inspect-device';
import type { StepImplementation } from './runtime/implement';
import { utilImplementations } from './util';

/** Every step implementation Sluice ships; each worker serves those of its queue. */
export const builtinImplementations: StepImplementation[] = [greet, inspectDevice, ...utilImplementations] as StepImplementation[];
