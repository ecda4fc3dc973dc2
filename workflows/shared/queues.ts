import { proxyLocalActivities } from '@temporalio/workflow';
import type { QueueActivities } from '../../workers/queue-activities';

/**
 * Activity task queue names come from the worker's configuration, which workflow code cannot
 * read. A local activity asks once per run; its answer is recorded in history, so replay stays
 * deterministic even if the configuration later changes.
 */
const { sluiceTaskQueues } = proxyLocalActivities<QueueActivities>({ startToCloseTimeout: '10s' });

export function taskQueues(): Promise<{ cpu: string; gpu: string }> {
  return sluiceTaskQueues();
}
