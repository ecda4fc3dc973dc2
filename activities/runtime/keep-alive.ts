import type { Context } from '@temporalio/activity';

/**
 * Heartbeats a running step every few seconds (a third of its heartbeat timeout at most),
 * repeating the step's last details. Steps that run longer than seconds declare a heartbeat
 * timeout of seconds, so an attempt whose worker died, or took the task and never ran it, is
 * retried after that timeout instead of after the whole start-to-close timeout; the pulse keeps
 * a step that reports only between phases from timing out in between (a step that blocks the
 * event loop longer than the timeout still does). The last details are repeated, never dropped,
 * so a checkpoint (the previous attempt's at first) is not replaced by nothing.
 */
export interface Pulse {
  /**
   * Heartbeats with these details now and repeats them from then on. The SDK sends at most one
   * heartbeat per SLUICE_HEARTBEAT_THROTTLE (the workers set it; 2 s), the latest details winning,
   * so a new phase reaches `temporal workflow describe` within that.
   */
  beat(details?: unknown): void;
  stop(): void;
}

export const PULSE_MS = 5_000;

export function keepAlive(ctx: Context, everyMs = PULSE_MS): Pulse {
  let last: unknown = ctx.info.heartbeatDetails;
  const timeout = ctx.info.heartbeatTimeoutMs;
  const timer = timeout ? setInterval(() => ctx.heartbeat(last), Math.max(200, Math.min(everyMs, Math.floor(timeout / 3)))) : undefined;
  timer?.unref();
  return {
    beat(details) {
      last = details;
      ctx.heartbeat(details);
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
