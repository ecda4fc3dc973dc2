import type { ArtifactStore } from '../../infra/artifacts';
import type { Db } from '../../infra/db/pool';
import { createLogger, type Logger } from '../../infra/log';
import type { StepContext } from '../../activities/runtime/step-context';
import { readCheckpoint } from '../../activities/runtime/read-checkpoint';
import type { AnyStep, CheckpointOf } from '../../pipelines/dsl/step';
import { InferencePool, inferenceThreads } from '../../activities/scoring/inference-pool';
import { loadConfig } from '../../infra/config';
import { uniqueId } from './stack';

type ContextOptions = { attempt?: number; node?: string; signal?: AbortSignal; inference?: InferencePool; log?: Logger };

/**
 * A StepContext for calling a step implementation directly in a test, against a real store and
 * a real database. Heartbeats are recorded so tests can look at progress and checkpoints.
 *
 * Without a checkpoint it fits any step (a first attempt). A retry names its step: the heartbeat
 * details it resumes from are parsed with that step's checkpoint schema (readCheckpoint), as the
 * step runtime parses them, so the implementation gets them typed and checked.
 */
export function testStepContext<S extends AnyStep>(
  deps: { store: ArtifactStore; db: Db },
  opts: ContextOptions & { step: S; checkpoint?: unknown },
): StepContext<CheckpointOf<S>> & { heartbeats: unknown[] };
// last: what ReturnType and Parameters of testStepContext name
export function testStepContext(deps: { store: ArtifactStore; db: Db }, opts?: ContextOptions): StepContext<never> & { heartbeats: unknown[] };
export function testStepContext(
  deps: { store: ArtifactStore; db: Db },
  opts: ContextOptions & { step?: AnyStep; checkpoint?: unknown } = {},
): StepContext & { heartbeats: unknown[] } {
  const heartbeats: unknown[] = [];
  const runId = uniqueId('run-');
  const log = opts.log ?? createLogger({ test: true, runId }, 'warn');
  return {
    store: deps.store,
    db: deps.db,
    log,
    run: { runId, workflowId: `wf-${runId}`, pipeline: 'test', node: opts.node ?? 'node' },
    attempt: opts.attempt ?? 1,
    checkpoint: opts.step ? readCheckpoint(opts.step, opts.checkpoint, log) : undefined,
    heartbeat: (d) => void heartbeats.push(d),
    signal: opts.signal ?? new AbortController().signal,
    device: { count: 0, provider: 'cpu', fallbackReason: 'test' },
    countRows: () => undefined,
    temporal: () => Promise.reject(new Error('no Temporal client in a test step context')),
    inference: opts.inference ?? testInferencePool(),
    // Read when a step reads it, as a worker's configuration would be: tests set SLUICE_DATA_ROOTS.
    get dataRoots() {
      return loadConfig().dataRoots;
    },
    heartbeats,
  };
}

let pool: InferencePool | undefined;

/** One pool per test process, as a worker has (its threads start on demand and do not hold the process open). */
function testInferencePool(): InferencePool {
  pool ??= new InferencePool(inferenceThreads(loadConfig().inferenceThreads));
  return pool;
}
