import { z } from 'zod';

import type { Duration } from '../vocab/duration';
import type { Queue } from '../vocab/queue';
import type { StepOptionsSpec } from './spec';

export type { Duration, Queue };

export interface RetryPolicy {
  maximumAttempts?: number;
  initialInterval?: Duration;
  maximumInterval?: Duration;
  backoffCoefficient?: number;
  /** Error types (ApplicationFailure.type) never retried, beyond the always non-retryable bad-input ones. */
  nonRetryableErrorTypes?: string[];
}

export interface CachePolicy {
  enabled: boolean;
  /**
   * 'code' (default): the key includes a fingerprint of the implementation's source and the
   * project modules it imports, so editing the step invalidates its cache by itself.
   * 'version': only the declared version counts: bump it to invalidate.
   */
  key?: 'code' | 'version';
}

/**
 * A step's signature: everything the engine (workflow code) needs to schedule it, and nothing
 * that runs it. Implementations are bound on the worker side (activities/), so workflow code can
 * import signatures without pulling in Node APIs.
 */
export interface StepSignature<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType, C extends z.ZodType | undefined = z.ZodType | undefined> {
  readonly kind: 'sluice.step';
  readonly name: string;
  readonly version: string;
  readonly description?: string;
  readonly input: I;
  readonly output: O;
  readonly queue: Queue;
  readonly retry: RetryPolicy;
  readonly timeouts: { startToClose: Duration; heartbeat?: Duration; scheduleToClose?: Duration };
  readonly cache: CachePolicy;
  /**
   * What the step heartbeats to resume from after a retry. The runtime parses the previous
   * attempt's heartbeat with it once and hands the implementation a typed checkpoint (or none,
   * when it does not fit: an older format is started over, not half-resumed).
   */
  readonly checkpoint?: C;
  /**
   * Runs as a Temporal local activity, inside the CPU worker process that runs the pipeline's
   * workflow task: no trip through a task queue, so a short step ends in milliseconds instead of
   * an activity round trip (~100 ms on a busy server). For CPU steps of seconds at most: a local
   * activity cannot heartbeat, holds the workflow task while it runs, and does not spread over
   * other CPU workers.
   */
  readonly local?: boolean;
}

export type AnyStep = StepSignature<z.ZodType, z.ZodType, z.ZodType | undefined>;

/** What a caller passes to a step (its input schema's input) and what it gets back (its output schema's output). */
export type StepInput<S extends AnyStep> = z.input<S['input']>;
export type StepOutput<S extends AnyStep> = z.output<S['output']>;

/** The checkpoint type an implementation of `S` receives: its schema's output, or unknown without one. */
export type CheckpointOf<S extends AnyStep> = [NonNullable<S['checkpoint']>] extends [never] ? unknown : z.output<NonNullable<S['checkpoint']>>;

export interface StepOptions<I extends z.ZodType, O extends z.ZodType, C extends z.ZodType | undefined = undefined> {
  name: string;
  version?: string;
  description?: string;
  input: I;
  output: O;
  queue?: Queue;
  retry?: RetryPolicy;
  timeouts?: Partial<StepSignature['timeouts']>;
  /** `false` turns caching off for this step; default: on, keyed by code. */
  cache?: boolean | CachePolicy;
  /** Schema of the heartbeat details the step resumes from (see StepSignature.checkpoint). */
  checkpoint?: C;
  /** Run as a local activity (see StepSignature.local): CPU steps without a heartbeat timeout only. */
  local?: boolean;
}

const STEP_NAME = /^[a-z][a-z0-9]*([.-][a-z0-9]+)*$/;

export function step<I extends z.ZodType, O extends z.ZodType, C extends z.ZodType | undefined = undefined>(o: StepOptions<I, O, C>): StepSignature<I, O, C> {
  if (!STEP_NAME.test(o.name)) {
    throw new Error(`step name "${o.name}" must be lowercase words joined by "." or "-" (e.g. "ingest.csv")`);
  }
  if (o.local && (o.queue ?? 'cpu') !== 'cpu') throw new Error(`step "${o.name}": a local step runs in the CPU worker's process, so its queue must be cpu`);
  if (o.local && o.timeouts?.heartbeat) throw new Error(`step "${o.name}": a local step cannot heartbeat; drop the heartbeat timeout or the local flag`);
  const cache: CachePolicy = o.cache === undefined || o.cache === true ? { enabled: true, key: 'code' } : o.cache === false ? { enabled: false } : o.cache;
  const retry: RetryPolicy = { maximumAttempts: 3, initialInterval: '1s', maximumInterval: '1m', backoffCoefficient: 2, ...o.retry };
  const sig: StepSignature<I, O, C> = {
    kind: 'sluice.step',
    name: o.name,
    version: o.version ?? '1',
    description: o.description,
    input: o.input,
    output: o.output,
    queue: o.queue ?? 'cpu',
    retry,
    timeouts: { startToClose: '30m', ...o.timeouts },
    cache,
    ...(o.checkpoint ? { checkpoint: o.checkpoint } : {}),
    ...(o.local ? { local: true } : {}),
  };
  return Object.freeze(sig);
}

export function isStep(x: unknown): x is AnyStep {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'sluice.step';
}

/**
 * A signature's scheduling options as the spec's steps table writes them (timeouts, retry,
 * cache): the compiler records them per step, and workflow code that calls a step outside a
 * pipeline (the drift monitor) schedules it with the same.
 */
export function stepOptions(s: AnyStep): StepOptionsSpec {
  return {
    startToCloseTimeout: s.timeouts.startToClose,
    ...(s.timeouts.heartbeat ? { heartbeatTimeout: s.timeouts.heartbeat } : {}),
    ...(s.timeouts.scheduleToClose ? { scheduleToCloseTimeout: s.timeouts.scheduleToClose } : {}),
    retry: s.retry,
    cache: { enabled: s.cache.enabled, ...(s.cache.key ? { key: s.cache.key } : {}) },
    ...(s.local ? { local: true } : {}),
  };
}
