/**
 * The baseline of bench/engine-overhead.ts: hand-written workflows that call a no-op activity
 * directly, with none of Sluice's engine or bookkeeping. Bundled by the benchmark itself and run
 * by a plain Worker in the benchmark process, on a task queue of its own.
 */
import { proxyActivities } from '@temporalio/workflow';

export interface RawActivities {
  noop(value: number): Promise<number>;
}

const { noop } = proxyActivities<RawActivities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 1 } });

/** `n` activities one after the other, each taking the previous one's result: the shape of a chain. */
export async function rawSequential(n: number): Promise<number> {
  let v = 0;
  for (let i = 0; i < n; i++) v = await noop(v);
  return v;
}

/** One activity, then `n` at once, then one: the shape of a fan-out with its fan-in. */
export async function rawFanout(n: number): Promise<number> {
  await noop(n);
  const results = await Promise.all(Array.from({ length: n }, (_, i) => noop(i)));
  return noop(results.length);
}
