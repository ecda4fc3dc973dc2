import type { DatasetRef } from '../steps/dataset';
import type { DetectDriftOutput } from '../steps/drift';
import type { JoinLabelsInput, JoinLabelsOutput, MonitorDecision } from './protocol';

/**
 * Activities of the drift monitor (queue cpu): its results and decisions kept in PostgreSQL and
 * as metrics. Declared here, beside the monitor's protocol, so the workflow depends on this
 * contract and activities/monitor implements it.
 */
export interface MonitorActivities {
  recordDriftResult(r: { model: string; batchId: string; dataset: DatasetRef; reference: DatasetRef; result: DetectDriftOutput }): Promise<void>;
  /** Idempotent by (workflow, sequence number): a retried activity records a decision once. */
  recordMonitorDecision(r: { model: string; workflowId: string; seq: number; decision: MonitorDecision }): Promise<void>;
  /**
   * Joins arrived labels with the scored batches' predictions by key: per batch, the task metric
   * and label drift against the reference's target; the labelled input rows are added to the
   * accumulated labelled dataset (`<model>.labelled`), a retrain's data.
   */
  joinLabels(r: JoinLabelsInput): Promise<JoinLabelsOutput>;
}
