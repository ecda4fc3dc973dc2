import type { ModelRef } from '../pipelines/steps/model';

/**
 * Messages between the serving process's main thread (inference.ts) and its inference threads
 * (inference-thread.ts). A model version is loaded into every thread once (its bytes cross once
 * per thread), then each micro-batch crosses as plain column arrays and comes back as typed arrays.
 */

/** A batch's values, column by column (the model's columns, in any order); null = missing. */
export type BatchColumns = Record<string, (number | string | null)[]>;

export type ToThread =
  | { kind: 'load'; key: string; model: ModelRef; bytes: Uint8Array; intraOpThreads: number }
  | { kind: 'unload'; key: string }
  | { kind: 'run'; id: number; key: string; rows: number; columns: BatchColumns };

export type FromThread =
  | { kind: 'ready' }
  | { kind: 'loaded'; key: string; ok: true }
  | { kind: 'loaded'; key: string; ok: false; error: string }
  | { kind: 'result'; id: number; ok: true; labelIndex?: Int32Array; probabilities?: Float32Array; values?: Float64Array }
  | { kind: 'result'; id: number; ok: false; error: string };
