import type { ArtifactStore } from '../../infra/artifacts';
import type { Db } from '../../infra/db/pool';
import { createLogger } from '../../infra/log';
import type { StepContext } from '../../activities/runtime/step-context';
import { InferencePool, inferenceThreads } from '../../activities/scoring/inference-pool';
import { loadConfig } from '../../infra/config';
import { uniqueId } from './stack';

/**
 * A StepContext for calling a step implementation directly in a test, against a real store and
 * a real database. Heartbeats are recorded so tests can look at progress and checkpoints.
 */
export function testStepContext(
  deps: { store: ArtifactStore; db: Db },
  opts: { checkpoint?: unknown; attempt?: number; node?: string; signal?: AbortSignal; inference?: InferencePool } = {},
): StepContext & { heartbeats: unknown[] } {
  const heartbeats: unknown[] = [];
  const runId = uniqueId('run-');
  return {
    store: deps.store,
    db: deps.db,
    log: createLogger({ test: true, runId }, 'warn'),
    run: { runId, workflowId: `wf-${runId}`, pipeline: 'test', node: opts.node ?? 'node' },
    attempt: opts.attempt ?? 1,
    checkpoint: opts.checkpoint,
    heartbeat: (d) => void heartbeats.push(d),
    signal: opts.signal ?? new AbortController().signal,
    device: { count: 0, provider: 'cpu', fallbackReason: 'test' },
    countRows: () => undefined,
    temporal: () => Promise.reject(new Error('no Temporal client in a test step context')),
    inference: opts.inference ?? testInferencePool(),
    heartbeats,
  };
}

let pool: InferencePool | undefined;

/** One pool per test process, as a worker has (its threads start on demand and do not hold the process open). */
function testInferencePool(): InferencePool {
  pool ??= new InferencePool(inferenceThreads(loadConfig().inferenceThreads));
  return pool;
}
