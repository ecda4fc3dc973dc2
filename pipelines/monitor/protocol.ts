import { z } from 'zod';
import { datasetName, datasetRef } from '../steps/dataset';
import { scoringWindow } from '../steps/scoring';
import { duration } from '../vocab/duration';
import type { RejectedMessage } from '../dsl/protocol';

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
    /**
     * A retrain learns from the rows of this last span (up to the newest window's end): the
     * labelled rows accumulated over the batches labels arrived for or, before any labels, the
     * rows of the remembered scored windows; without it, from the labelled data as a whole (or
     * every remembered scored window).
     */
    retrainWindow: duration.optional(),
    /** Retrain when the outcome rate of arrived labels drifts from the reference's (default true). */
    labelDrift: z.boolean().optional(),
  })
  .strict();
export type MonitorPolicy = z.infer<typeof monitorPolicy>;

/**
 * What the setPolicy update takes: an object naming policy fields only (an unknown key is an
 * error, not silently dropped); the values are checked on the policy they would make.
 */
export const monitorPolicyPatch = z.partialRecord(monitorPolicy.keyof(), z.unknown());

export const monitorStart = z.object({
  model: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/),
  /** The champion's training data: what new batches are compared with. */
  reference: datasetRef,
  /** Pipeline a retrain runs (as a child workflow) and its base params; the newest data is passed as `source`. */
  trainingPipeline: z.string().min(1).default('train-model'),
  trainingParams: z.record(z.string(), z.unknown()).default({}),
  /**
   * Where `trainingParams` came from, for people (`monitor status` and `monitor policy` show it):
   * the champion's training run, a file, or the pipeline's defaults. Absent in monitors started before.
   */
  trainingParamsFrom: z.string().min(1).max(500).optional(),
  /** Column the model predicts: left out of drift columns, needed in data used for retraining. */
  target: z.string().min(1).optional(),
  policy: monitorPolicy.default(monitorPolicy.parse({})),
});
export type MonitorStart = z.input<typeof monitorStart>;

export const batchScoredSignal = z.object({
  batchId: z.string().min(1),
  /** The scoring run's input dataset version. */
  dataset: datasetRef,
  /** The rows that run scored: `window.column` in [start, end); null for the whole dataset (absent from older senders). */
  window: scoringWindow.nullable().optional(),
  /** Rows scored (in the window). */
  rows: z.number().int().nonnegative().optional(),
  /** The run's predictions dataset: what arriving labels are joined with. */
  predictions: datasetRef.optional(),
});

/** Where arriving labels are read from: a file (CSV, Parquet, JSON) or a registered dataset version. */
export const labelsSource = z.union([
  z.object({ path: z.string().min(1) }).strict(),
  z.object({ dataset: z.object({ name: datasetName, version: z.number().int().positive().optional() }).strict() }).strict(),
]);
export type LabelsSource = z.infer<typeof labelsSource>;

/** True outcomes to join with the predictions of scored batches by a key column. */
export const labelsSpec = z
  .object({
    source: labelsSource,
    /** Column in both the labels and the predictions (scoring must `keep` it). */
    key: z.string().min(1),
    /** Column of the labels holding the outcome; default: the model's target. */
    label: z.string().min(1).optional(),
    /** Join only this scored batch; default: every remembered batch. */
    batch: z.string().min(1).optional(),
  })
  .strict();
export type LabelsSpec = z.infer<typeof labelsSpec>;
export const labelsArrivedSignal = z.object({
  batchId: z.string().min(1),
  /** The batch with its true labels: the newest data a retrain learns from. */
  dataset: datasetRef.optional(),
  /** Metrics measured on it, e.g. { accuracy: 0.71 }. */
  metrics: z.record(z.string(), z.number()).default({}),
  /** Labels for the monitor to join with the scored batches' predictions (metrics and label drift measured by it). */
  labels: labelsSpec.optional(),
});
export const retrainSignal = z.object({
  reason: z.string().min(1).max(2000),
  by: z.string().min(1).max(200).default('unknown'),
  /** Duplicate requests with the same id start nothing extra. */
  requestId: z.string().min(1).max(200).optional(),
});
export type BatchScored = z.infer<typeof batchScoredSignal>;
export type LabelsArrived = z.input<typeof labelsArrivedSignal>;
/** The payloads as the monitor holds them once parsed (defaults applied). */
export type MonitorArgs = z.output<typeof monitorStart>;
export type LabelsArrivedEvent = z.output<typeof labelsArrivedSignal>;
export type RetrainRequestEvent = z.output<typeof retrainSignal>;
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
  kind:
    | 'drift-checked'
    | 'retrain-started'
    | 'retrain-skipped'
    | 'retrain-finished'
    | 'duplicate-ignored'
    | 'policy-changed'
    | 'performance-checked'
    | 'labels-checked'
    | 'rejected';
  reason: string;
  numbers?: Record<string, unknown>;
}

export interface MonitorStatus {
  model: string;
  policy: MonitorPolicy;
  /** What a retrain runs: the pipeline, its base params and where they came from (null for monitors started before that was recorded). */
  training: { pipeline: string; params: Record<string, unknown>; from: string | null };
  reference: { name: string; version: number };
  consecutiveDrifted: number;
  recent: DriftCheck[];
  inFlight: { workflowId: string; reason: string; startedAt: string } | null;
  lastRetrainEndedAt: string | null;
  retrainsLast24h: number;
  decisions: MonitorDecision[];
  /** Scored batches remembered for arriving labels (newest last). */
  scored?: ScoredBatch[];
  /** Labelled batches a retrain learns from (newest last). */
  labelled?: LabelledBatch[];
  /** Signals the monitor ignored because their payload did not fit (newest last, bounded). */
  rejected?: RejectedMessage[];
}

/** A scored batch as the monitor remembers it: what labels are joined with. */
export interface ScoredBatch {
  batchId: string;
  dataset: z.infer<typeof datasetRef>;
  window: z.infer<typeof scoringWindow> | null;
  rows: number | null;
  predictions: z.infer<typeof datasetRef> | null;
}

/** Labels joined for one scored batch. */
export interface LabelledBatch {
  batchId: string;
  window: z.infer<typeof scoringWindow> | null;
  /** Rows with a label. */
  rows: number;
  /** The accumulated labelled data (every labelled batch so far, this one included). */
  data: z.infer<typeof datasetRef>;
}

/** The join-labels activity's input: the batches to join and what to compare with. */
export interface JoinLabelsInput {
  model: string;
  labelsBatchId: string;
  labels: LabelsSpec;
  /** The model's target: the labels' default column, and its name in the labelled data. */
  target: string;
  batches: ScoredBatch[];
  /** The champion's training data: its target distribution is the label-drift reference. */
  reference: z.infer<typeof datasetRef>;
  /** The accumulated labelled data so far: the new labelled rows are added to it. */
  previous: z.infer<typeof datasetRef> | null;
}

/** Per scored batch: its labelled rows, the task metrics on them and label drift. */
export interface BatchLabelsResult {
  batchId: string;
  window: z.infer<typeof scoringWindow> | null;
  rows: number;
  task: 'classification' | 'regression';
  /** accuracy (and roc_auc for a binary model with probabilities), or rmse. */
  metrics: Record<string, number>;
  labelDrift: { test: string | null; statistic: number | null; pValue: number | null; threshold: number | null; drift: boolean; referenceRate: Record<string, number>; currentRate: Record<string, number> } | null;
}

export interface JoinLabelsOutput {
  batches: BatchLabelsResult[];
  /** The accumulated labelled data (null when no row joined). */
  labelled: z.infer<typeof datasetRef> | null;
  /** Label rows that matched no prediction. */
  unmatched: number;
}
