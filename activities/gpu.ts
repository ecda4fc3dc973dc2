import type { GpuInfo } from '../workers/gpu-devices';
import type { ActivityDeps } from './context';
import { createInspectDevice } from './hello/inspect-device';

/** Every activity served on the GPU queue. */
export function createGpuActivities(deps: ActivityDeps, gpu: GpuInfo) {
  return {
    inspectDevice: createInspectDevice(deps, gpu),
  };
}
export type GpuActivities = ReturnType<typeof createGpuActivities>;
