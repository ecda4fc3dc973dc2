import { failure } from '../../pipelines/failures';
import { infrastructureFault, type InfraFault, type InfraTargets } from './infra-faults';

/**
 * Retries a step's whole body, inside its attempt, while the infrastructure it needs is
 * unreachable, with doubling delays (1 s up to 30 s) for up to a budget (SLUICE_INFRA_RETRY,
 * 5 minutes by default).
 *
 * Why inside the attempt rather than as a failure type with a longer retry policy: a step's
 * attempts (3 by default, 1 s apart) are for its own failures. Spending them on a database that
 * restarts for 25 s failed whole runs; a second failure type cannot get a retry policy of its
 * own, because Temporal applies one policy per activity and counts every failed attempt against
 * it. Retrying here keeps the attempt count for the step, and the pulse (keep-alive.ts) keeps
 * heartbeating meanwhile, so the attempt is neither timed out nor mistaken for a dead worker.
 * Every step body is safe to run again (Temporal retries it anyway): outputs are content-
 * addressed and every bookkeeping write is an upsert on a natural key.
 */
export interface InfraRetryOptions {
  targets: InfraTargets;
  /** How long to keep retrying from the first fault of an uninterrupted outage, in ms. */
  budgetMs: number;
  /** Waits; rejects when the activity is cancelled (Context.sleep). */
  sleep(ms: number): Promise<void>;
  onRetry(fault: InfraFault, delayMs: number, retry: number): void;
  initialDelayMs?: number;
  maxDelayMs?: number;
  now?: () => number;
}

export async function retryInfrastructure<T>(fn: () => Promise<T>, o: InfraRetryOptions): Promise<T> {
  const now = o.now ?? Date.now;
  const initial = o.initialDelayMs ?? 1_000;
  const max = o.maxDelayMs ?? 30_000;
  let since: number | undefined;
  for (let retry = 1; ; retry++) {
    try {
      return await fn();
    } catch (e) {
      const fault = infrastructureFault(e, o.targets);
      if (!fault) throw e;
      since ??= now();
      const delay = Math.min(max, initial * 2 ** (retry - 1));
      const spent = now() - since;
      if (spent + delay > o.budgetMs) {
        throw failure('InfrastructureUnavailable', `${fault.what} unreachable (${fault.detail}); gave up after ${Math.round(spent / 1000)} s of retries within this attempt`, fault);
      }
      o.onRetry(fault, delay, retry);
      await o.sleep(delay);
    }
  }
}
