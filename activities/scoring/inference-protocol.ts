import type { ModelRef } from '../../pipelines/steps/model';
import type { ScoringWindow } from '../../pipelines/steps/scoring';
import type { PredictionMeta } from './prediction-frame';

/** Messages between a scoring chunk (main thread) and an inference thread (inference-thread.ts). */

/** Score one batch and write its predictions as a Parquet part. */
export interface InferenceJob {
  id: number;
  model: ModelRef;
  /** The model's ONNX bytes (hash verified), sent when the thread does not hold a session for it. */
  modelBytes?: Uint8Array;
  /** onnxruntime intra-op threads of the session, when the thread opens it. */
  intraOpThreads: number;
  executionProviders?: string[];
  /** The batch's rows (row id, model inputs, kept columns). */
  source: BatchSource;
  keep: string[];
  meta: PredictionMeta;
  /** Where to write the predictions. */
  outFile: string;
  compression: 'lz4' | 'zstd' | 'snappy' | 'uncompressed';
}

/**
 * Where a batch's rows are: a local Parquet file the thread reads (`scoringRows(file, window)`,
 * rows [offset, offset + rows), the columns named), or rows already read (Arrow IPC), as after a
 * feature join.
 */
export type BatchSource =
  | { kind: 'file'; file: string; window: ScoringWindow | null; offset: number; rows: number; columns: string[] }
  | { kind: 'ipc'; frame: Uint8Array };

/** Time spent per phase of a job, in ms (SLUICE_SCORING_PROFILE). */
export type InferenceTimings = Record<string, number>;

export type InferenceReply =
  | { id: number; ok: true; rows: number; loaded: string[]; timings: InferenceTimings }
  | { id: number; ok: false; error: SerializedError; loaded: string[] };

/** An error crossing threads: a SluiceFailure's type (and so its retryability) survives it. */
export interface SerializedError {
  message: string;
  name: string;
  /** FailureType of a SluiceFailure (pipelines/failures.ts). */
  type?: string;
  stack?: string;
}

/** Main thread → inference thread, besides jobs. */
export type ThreadControl = { kind: 'release-sessions' };

/** Inference thread → main thread, besides replies: its modules are loaded. */
export type ThreadEvent = { kind: 'ready' };
