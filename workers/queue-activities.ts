import type { SluiceConfig } from '../infra/config';

/** Local activity registered on the workflow worker: tells workflows where to route steps. */
export function createQueueActivities(config: SluiceConfig) {
  return {
    async sluiceTaskQueues(): Promise<{ cpu: string; gpu: string }> {
      return { cpu: config.queues.cpu, gpu: config.queues.gpu };
    },
  };
}
export type QueueActivities = ReturnType<typeof createQueueActivities>;
