import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { BatchScored, LabelsArrived, MonitorPolicy, MonitorStatus, RetrainRequest } from './protocol';

/**
 * The drift monitor's signals, query and update, declared beside their schemas (protocol.ts) so
 * the CLI, the scoring pipeline's notify activity and the workflow share one definition.
 * Definitions are plain names: moving them changes nothing in a monitor's history.
 */

export const batchScored = defineSignal<[BatchScored]>('batchScored');
export const labelsArrived = defineSignal<[LabelsArrived]>('labelsArrived');
export const retrain = defineSignal<[RetrainRequest]>('retrain');
export const monitorStatusQuery = defineQuery<MonitorStatus>('status');
export const setPolicyUpdate = defineUpdate<MonitorPolicy, [Partial<MonitorPolicy>]>('setPolicy');
