import { z } from 'zod';
import { datasetRef } from '../steps/dataset';
import { duration } from '../vocab/duration';

/**
 * The drift monitor's contract: one long-running workflow per model (id `drift-monitor-<model>`),
 * fed by signals, steered by a validated policy update, read through a status query.
 */

export const monitorPolicy = z
  .object({
    /** A batch drifts when at least this share of its columns drift. */
    driftShare: z.number().gt(0).max(1).default(0.5),
    /** Retrain after this many drifted batches in a row. */
    consecutive: z.number().int().min(1).max(100).default(2),
    /** No automatic retrain sooner than this after the last one ended. */
    cooldown: duration.default('1h'),
    /** At most this many retrains (automatic or manual) in any 24 hours. */
    dailyCap: z.number().int().min(0).max(100).default(3),
    /** Performance decay: retrain when labels show `metric` below `minValue`. */
    performance: z.object({ metric: z.string().min(1), minValue: z.number() }).optional(),
    /** Columns to compare (default: all but the target). */
    columns: z.array(z.string().min(1)).min(1).optional(),
    categorical: z.array(z.string().min(1)).optional(),
  })
  .strict();
export type MonitorPolicy = z.infer<typeof monitorPolicy>;

export const monitorStart = z.object({
  model: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/),
  /** The champion's training data: what new batches are compared with. */
  reference: datasetRef,
  /** Pipeline a retrain runs (as a child workflow) and its base params; the newest data is passed as `source`. */
  trainingPipeline: z.string().min(1).default('train-model'),
  trainingParams: z.record(z.string(), z.unknown()).default({}),
  /** Column the model predicts: left out of drift columns, needed in data used for retraining. */
  target: z.string().min(1).optional(),
  policy: monitorPolicy.default(monitorPolicy.parse({})),
});
export type MonitorStart = z.input<typeof monitorStart>;

export const batchScoredSignal = z.object({ batchId: z.string().min(1), dataset: datasetRef });
export const labelsArrivedSignal = z.object({
  batchId: z.string().min(1),
  /** The batch with its true labels: the newest data a retrain learns from. */
  dataset: datasetRef.optional(),
  /** Metrics measured on it, e.g. { accuracy: 0.71 }. */
  metrics: z.record(z.string(), z.number()).default({}),
});
export const retrainSignal = z.object({
  reason: z.string().min(1).max(2000),
  by: z.string().min(1).max(200).default('unknown'),
  /** Duplicate requests with the same id start nothing extra. */
  requestId: z.string().min(1).max(200).optional(),
});
export type BatchScored = z.infer<typeof batchScoredSignal>;
export type LabelsArrived = z.input<typeof labelsArrivedSignal>;
export type RetrainRequest = z.input<typeof retrainSignal>;

export interface DriftCheck {
  batchId: string;
  at: string;
  share: number;
  datasetDrift: boolean;
  drifted: string[];
  report: string;
}

export interface MonitorDecision {
  at: string;
  kind: 'drift-checked' | 'retrain-started' | 'retrain-skipped' | 'retrain-finished' | 'duplicate-ignored' | 'policy-changed' | 'performance-checked';
  reason: string;
  numbers?: Record<string, unknown>;
}

export interface MonitorStatus {
  model: string;
  policy: MonitorPolicy;
  reference: { name: string; version: number };
  consecutiveDrifted: number;
  recent: DriftCheck[];
  inFlight: { workflowId: string; reason: string; startedAt: string } | null;
  lastRetrainEndedAt: string | null;
  retrainsLast24h: number;
  decisions: MonitorDecision[];
}
