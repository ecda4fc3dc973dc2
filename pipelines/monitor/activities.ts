import type { DatasetRef } from '../steps/dataset';
import type { DetectDriftOutput } from '../steps/drift';
import type { MonitorDecision } from './protocol';

/**
 * Activities of the drift monitor (queue cpu): its results and decisions kept in PostgreSQL and
 * as metrics. Declared here, beside the monitor's protocol, so the workflow depends on this
 * contract and activities/monitor implements it.
 */
export interface MonitorActivities {
  recordDriftResult(r: { model: string; batchId: string; dataset: DatasetRef; reference: DatasetRef; result: DetectDriftOutput }): Promise<void>;
  /** Idempotent by (workflow, sequence number): a retried activity records a decision once. */
  recordMonitorDecision(r: { model: string; workflowId: string; seq: number; decision: MonitorDecision }): Promise<void>;
}
