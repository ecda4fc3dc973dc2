import type { z } from 'zod';
import type { ArtifactRef } from '../../infra/artifacts';
import { canonicalJson, sha256Hex } from '../../pipelines/dsl/canonical';
import type { TrainingCheckpointSpec } from '../../pipelines/steps/training-checkpoint';
import type { StepContext } from '../runtime/step-context';

/**
 * Training progress and resumable checkpoints through Temporal heartbeats.
 *
 * Every iteration heartbeats `{ phase, trainer, iteration, of, losses, checkpoint | checkpointRef }`:
 * the latest checkpoint rides along on each heartbeat, because Temporal hands a retry only the
 * last heartbeat's details. A new checkpoint is taken every `every` iterations once at least
 * `minIntervalMs` passed since the previous one (so large ensembles are not re-serialised every few
 * rounds). A checkpoint whose JSON is larger than
 * `inlineLimit` bytes (default 512 KiB, well under Temporal's 2 MB payload limit) is stored as an
 * artifact and the heartbeat carries its ref instead.
 *
 * A checkpoint carries a key (hash of trainer, params, data and columns): a retry with other
 * input ignores it and starts over. Its shape is the step's checkpoint schema
 * (pipelines/steps/training-checkpoint.ts): the runtime parses the inline checkpoint, restore()
 * parses a stored one with the same schema.
 *
 * The loop also yields to the event loop on every report (training loops are synchronous code:
 * without it no heartbeat would leave and no cancellation would arrive) and throws when the
 * activity is cancelled.
 */

export const DEFAULT_INLINE_LIMIT = 512 * 1024;

/** A trainer's checkpoint: format, trainer, key, iteration and its state `S` (training-checkpoint.ts). */
export type Checkpoint<S> = { format: string; trainer: string; key: string; iteration: number; state: S };

/** The step's checkpoint as the runtime parsed it from the previous attempt's heartbeat. */
export type TrainingResume<S> = { checkpoint?: Checkpoint<S> | undefined; checkpointRef?: ArtifactRef | undefined };

export interface TrainingHeartbeat<S = unknown> extends TrainingResume<S> {
  phase: 'training';
  trainer: string;
  iteration: number;
  of: number;
  trainLoss?: number;
  validationLoss?: number;
}

export interface CheckpointOptions {
  /** Take a checkpoint every this many iterations (default 10). */
  every?: number;
  /** …and not sooner than this after the previous one (default 5 s; 0: `every` alone decides). */
  minIntervalMs?: number;
  /** Larger checkpoints go to the artifact store (bytes of JSON). */
  inlineLimit?: number;
}

export function checkpointKey(parts: Record<string, unknown>): string {
  return sha256Hex(canonicalJson(parts));
}

export class Checkpointer<S extends z.ZodType> {
  private last: TrainingResume<z.output<S>> = {};
  private lastAt = 0;
  private readonly every: number;
  private readonly minIntervalMs: number;
  private readonly inlineLimit: number;

  constructor(
    private readonly ctx: Pick<StepContext<TrainingResume<z.output<S>>>, 'heartbeat' | 'checkpoint' | 'store' | 'signal' | 'log'>,
    private readonly spec: TrainingCheckpointSpec<S>,
    private readonly key: string,
    opts: CheckpointOptions = {},
  ) {
    this.every = Math.max(1, opts.every ?? 10);
    this.minIntervalMs = opts.minIntervalMs ?? 5_000;
    this.inlineLimit = opts.inlineLimit ?? DEFAULT_INLINE_LIMIT;
  }

  /** The checkpoint the previous attempt left, when it is one of ours for this very input. */
  async restore(): Promise<Checkpoint<z.output<S>> | undefined> {
    const d = this.ctx.checkpoint;
    if (!d) return undefined;
    let c = d.checkpoint;
    if (!c && d.checkpointRef) {
      let json: unknown;
      try {
        json = JSON.parse((await this.ctx.store.getBuffer(d.checkpointRef)).toString('utf8'));
      } catch (e) {
        this.ctx.log.warn('training checkpoint artifact unreadable; starting over', { error: e as Error });
        return undefined;
      }
      const r = this.spec.checkpoint.safeParse(json);
      if (!r.success) {
        this.ctx.log.warn('stored training checkpoint does not fit this trainer\'s schema; starting over', { uri: d.checkpointRef.uri, issue: r.error.issues[0]?.message });
        return undefined;
      }
      c = r.data as Checkpoint<z.output<S>>;
    }
    if (!c) return undefined;
    if (c.key !== this.key) {
      this.ctx.log.warn('training checkpoint is for other input; starting over', { iteration: c.iteration });
      return undefined;
    }
    // keep it as the current checkpoint until a newer one is taken
    this.last = d.checkpointRef ? { checkpointRef: d.checkpointRef } : { checkpoint: c };
    return c;
  }

  /** Reports an iteration; `snapshot` is called only when a checkpoint is due. */
  async report(progress: { iteration: number; of: number; trainLoss?: number; validationLoss?: number }, snapshot: () => z.output<S>): Promise<void> {
    if (this.ctx.signal.aborted) throw this.ctx.signal.reason ?? new Error('cancelled');
    const now = Date.now();
    const due = progress.iteration % this.every === 0 && now - this.lastAt >= this.minIntervalMs;
    if (due) {
      const checkpoint: Checkpoint<z.output<S>> = { format: this.spec.format, trainer: this.spec.trainer, key: this.key, iteration: progress.iteration, state: snapshot() };
      const json = JSON.stringify(checkpoint);
      if (Buffer.byteLength(json) > this.inlineLimit) {
        this.last = { checkpointRef: await this.ctx.store.putContent(json, { contentType: 'application/json' }) };
      } else {
        // as the next attempt will see it (through JSON), not the live state the trainer goes on changing
        this.last = { checkpoint: JSON.parse(json) as Checkpoint<z.output<S>> };
      }
      this.lastAt = now;
    }
    const hb: TrainingHeartbeat<z.output<S>> = { phase: 'training', trainer: this.spec.trainer, ...progress, ...this.last };
    this.ctx.heartbeat(hb);
    await new Promise<void>((r) => setImmediate(r));
    if (this.ctx.signal.aborted) throw this.ctx.signal.reason ?? new Error('cancelled');
  }
}
