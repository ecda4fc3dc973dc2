/**
 * The baseline of bench/engine-overhead.ts: hand-written workflows that call a no-op activity
 * directly, with none of Sluice's engine or bookkeeping. Bundled by the benchmark itself and run
 * by a plain Worker in the benchmark process, on a task queue of its own.
 */
import { executeChild, proxyActivities } from '@temporalio/workflow';

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

/**
 * The no-op of the sharded shape, retried like a Sluice step's (a default retry policy): over
 * thousands of activities on a loaded machine an attempt can time out, and one lost attempt
 * must not fail the baseline when it would not fail the pipeline it is compared with.
 */
const { noop: retriedNoop } = proxyActivities<RawActivities>({ startToCloseTimeout: '1m' });

/**
 * The raw shape of a sharded fan-out (bench/fanout.ts): one activity, then `n` no-op activities
 * in child workflows of `shard` items each, `window` children at a time and `parallelism`
 * activities in flight in all, each child returning only its count; then one activity.
 */
export async function rawShardedFanout(n: number, shard: number, window: number, parallelism: number): Promise<number> {
  await retriedNoop(n);
  const shards = Math.ceil(n / shard);
  const per = Math.max(1, Math.floor(parallelism / Math.min(window, shards)));
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < shards) {
      const k = next++;
      const from = k * shard;
      done += await executeChild(rawShard, { args: [from, Math.min(from + shard, n), per] });
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, shards) }, lane));
  return retriedNoop(done);
}

/** Items `[from, to)` as no-op activities, `parallelism` at a time. */
export async function rawShard(from: number, to: number, parallelism: number): Promise<number> {
  let next = from;
  const lane = async () => {
    while (next < to) await retriedNoop(next++);
  };
  await Promise.all(Array.from({ length: Math.min(parallelism, to - from) }, lane));
  return to - from;
}
