import type { StepContext } from '../runtime/step-context';

/**
 * Heartbeats while long work runs: the latest details (progress and the resumable checkpoint) go
 * out at once when they change and again every few seconds, so that polars calls that run for a
 * while off the event loop do not let the heartbeat timeout lapse.
 */
export interface Progress {
  set(details: Record<string, unknown>): void;
  /** Throws the cancellation reason once the step has been cancelled. */
  check(): void;
  stop(): void;
}

export function startProgress(ctx: Pick<StepContext, 'heartbeat' | 'signal'>, everyMs = 5_000): Progress {
  let details: Record<string, unknown> = {};
  const timer = setInterval(() => ctx.heartbeat(details), everyMs);
  timer.unref();
  return {
    set(d) {
      details = { ...details, ...d };
      ctx.heartbeat(details);
    },
    check() {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('cancelled');
    },
    stop() {
      clearInterval(timer);
    },
  };
}
