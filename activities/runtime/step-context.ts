import type { Client } from '@temporalio/client';
import type { ArtifactStore } from '../../infra/artifacts';
import type { Db } from '../../infra/db/pool';
import type { Logger } from '../../infra/log';
import type { GpuInfo } from '../../infra/gpu-devices';
import type { InferencePool } from '../scoring/inference-pool';

/** What a step implementation gets besides its input; `C` is the step's checkpoint type (CheckpointOf). */
export interface StepContext<C = unknown> {
  store: ArtifactStore;
  db: Db;
  /** Bound to run id, pipeline and node. */
  log: Logger;
  run: { runId: string; workflowId: string; pipeline: string; node: string };
  attempt: number;
  /**
   * What the previous attempt last passed to heartbeat(), to resume from: parsed with the step's
   * checkpoint schema when it declares one (undefined when there is none or it does not fit).
   */
  checkpoint: C | undefined;
  /** Progress and a resumable checkpoint; also how cancellation and a lost worker are noticed. */
  heartbeat(details?: unknown): void;
  signal: AbortSignal;
  /** The execution provider this worker offers (CUDA on GPU workers that have one). */
  device: GpuInfo;
  /** Adds to the worker's sluice_rows_processed_total for this step. */
  countRows(n: number): void;
  /** The worker's Temporal client, connected on first use (steps that signal workflows). */
  temporal(): Promise<Client>;
  /** The worker's inference threads, shared by every scoring step in the process. */
  inference: InferencePool;
  /** Directories file sources may read under (SLUICE_DATA_ROOTS), from the worker's configuration. */
  dataRoots: string[];
}
