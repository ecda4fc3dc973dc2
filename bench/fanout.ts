/**
 * Wide fan-outs: 1,000 and 10,000 no-op items (100,000 with `npm run bench -- fanout 100k`) through
 * `b.map`, sharded by the engine (SLUICE_MAP_SHARD_SIZE, default 1,000 items per child workflow),
 * next to a hand-written Temporal workflow of the same shape measured in the same run: child
 * workflows of 1,000 no-op activities, the same window of children and the same activities in
 * flight, on a plain Worker in this process (bench/raw-workflow.ts `rawShardedFanout`). Prints
 * items/s, the ratio, the CPU worker's peak RSS and the longest history of any execution of each
 * run (children found through their parents' histories). Asserts nothing about timings.
 *
 * Sluice runs items in batches by default (pipelines/dsl/item-batches.ts); the 1,000-item width
 * (every width with `peritem`) also runs with one activity per item, like the raw workflow, so
 * the engine's own overhead is seen next to what batching gains. Each width also runs the
 * fan-out with the cache on, then reruns it with the same params (`nocache` skips both).
 *
 * With `scale` among the arguments, each width runs on one CPU worker process and then on two
 * (activities per worker counted from the shards' histories), Sluice only.
 *
 * Also compiles the generated pipelines of 2,000 nodes (a chain, a DAG 50 wide), and with `nodes`
 * among the arguments runs them instead of the fan-outs: time per node, executions of the run
 * (it continues as new at SLUICE_RUN_HISTORY_BUDGET events) and the longest history of any.
 */
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { loadConfig } from '../infra/config';
import { compile } from '../pipelines/dsl/compile';
import { startPipeline } from '../pipelines/dsl/start';
import { eachHistory, longestHistory, type HistoryEvents } from '../test/helpers/histories';
import { startTestWorkers, uniqueId } from '../test/helpers/stack';
import { FANOUT_PARALLELISM, LONG_NODES, WIDE_WIDTH, fanoutBench, fanoutBenchCached, fanoutBenchPerItem, longChain, wideDag } from './fanout-pipelines';
import type { RawActivities } from './raw-workflow';
import { startCpuWorkerAndRawBundle } from './cpu-worker-and-raw-bundle';
import type { Benchmark, BenchContext } from './run';

/**
 * Widths: 1,000 and 10,000; `100k` among the bench arguments adds 100,000 (about 10× the 10,000
 * one's time); numbers among them (`npm run bench -- fanout 2000`) run those widths instead.
 */
const ARGS = process.argv.slice(2);
const NUMBERS = ARGS.filter((a) => /^\d+$/.test(a)).map(Number);
const NODES = ARGS.includes('nodes');
/** `scale`: each width on one CPU worker process, then on two (items per worker counted from the histories). */
const SCALE = ARGS.includes('scale');
/** `noraw`: Sluice's side only (a 100,000-item raw run doubles the bench's time; its ratio is the 10,000 one's). */
const NO_RAW = ARGS.includes('noraw');
/** `nocache`: skip the cached run and rerun. */
const NO_CACHE = ARGS.includes('nocache');
/** Widths also run with one activity per item (`peritem` runs it at every width; it is the slow one). */
const PER_ITEM = (n: number) => n <= 1_000 || ARGS.includes('peritem');
const WIDTHS = NODES ? [] : NUMBERS.length ? NUMBERS : ARGS.includes('100k') ? [1_000, 10_000, 100_000] : [1_000, 10_000];
const CPU_CONCURRENCY = FANOUT_PARALLELISM;

export const benchmark: Benchmark = {
  name: 'fanout',
  description: NODES
    ? `pipelines of ${LONG_NODES} nodes (a chain, a DAG ${WIDE_WIDTH} wide): compile time, run time, executions and histories`
    : `sharded b.map of ${WIDTHS.join(' / ')} no-op items vs a hand-written sharded Temporal workflow; compile time of ${LONG_NODES}-node pipelines`,
  run,
};

async function run(ctx: BenchContext): Promise<void> {
  const limits = loadConfig({}).engine;
  const compiled = compileTimes();
  ctx.log('starting a CPU worker with the fan-out pipeline, bundling the raw workflows');
  const { workers, rawBundle } = await startCpuWorkerAndRawBundle(ctx, 'fanout-pipelines.ts', CPU_CONCURRENCY);
  const workerPid = workers.cpu!.child.pid!;
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssOf(workerPid))), 250);
  ctx.onCleanup(() => clearInterval(sampler));

  if (SCALE) return scaleRuns(ctx, workers, () => peakRss);

  const connection = await NativeConnection.connect({ address: ctx.temporalAddress });
  ctx.onCleanup(() => connection.close());
  const rawQueue = uniqueId('bench-raw-');
  const rawActivities: RawActivities = { noop: async (v) => v };
  const rawWorker = await Worker.create({
    connection,
    taskQueue: rawQueue,
    workflowBundle: { code: rawBundle.code },
    activities: rawActivities,
    maxConcurrentActivityTaskExecutions: CPU_CONCURRENCY,
  });
  let rawRunning: Promise<unknown> = Promise.resolve();
  ctx.onCleanup(async () => {
    if (rawWorker.getState() === 'RUNNING') rawWorker.shutdown();
    await rawRunning.catch(() => undefined);
  });

  const { client } = ctx;
  const rows: string[] = [];
  const phases: string[] = [];
  await (rawRunning = rawWorker.runUntil(async () => {
    for (const n of WIDTHS) {
      let t0 = performance.now();
      let rawS = NaN;
      let rawHistory = { max: NaN, executions: NaN, runs: NaN };
      if (!NO_RAW) {
        ctx.log(`${n} items: raw workflow`);
        const rawId = uniqueId('raw-fanout-');
        await client.workflow.execute('rawShardedFanout', { taskQueue: rawQueue, workflowId: rawId, args: [n, limits.shardSize, limits.shardWindow, FANOUT_PARALLELISM] });
        rawS = (performance.now() - t0) / 1000;
        rawHistory = await longestHistory(client, rawId);
      }

      /** One Sluice run of the fan-out: seconds, and the longest history of any of its executions. */
      const timed = async <P extends typeof fanoutBench | typeof fanoutBenchPerItem | typeof fanoutBenchCached>(what: string, p: P, params: Parameters<typeof startPipeline<P>>[2]) => {
        ctx.log(`${n} items: Sluice, ${what}`);
        const id = uniqueId('bench-fanout-');
        const start = performance.now();
        const handle = await startPipeline(client, p, params, { taskQueue: workers.config.queues.workflow, workflowId: id });
        const { outputs } = await handle.result();
        const seconds = (performance.now() - start) / 1000;
        if (outputs.count !== n || outputs.sum !== (n * (n - 1)) / 2) throw new Error(`fan-in of ${n} items came back as ${outputs.count} items summing to ${outputs.sum}`);
        const history = await longestHistory(client, id, handle.firstExecutionRunId);
        // The issue's bound on every execution, checked on every one of the run's (not a timing).
        if (history.max > 10_000) throw new Error(`${what}: an execution of the ${n}-item run holds ${history.max} history events (bound: 10,000)`);
        return { seconds, history, id, runId: handle.firstExecutionRunId };
      };
      peakRss = rssOf(workerPid);
      const batched = await timed('items in batches', fanoutBench, { n });
      const sluiceS = batched.seconds;
      const history = batched.history;
      const perItem = PER_ITEM(n) ? await timed('one activity per item', fanoutBenchPerItem, { n }) : undefined;
      const salt = uniqueId('salt-');
      const first = NO_CACHE ? undefined : await timed('cache on, first run', fanoutBenchCached, { n, salt });
      const rerun = NO_CACHE ? undefined : await timed('cache on, rerun', fanoutBenchCached, { n, salt });
      if (rerun) phases.push(`  ${String(n).padStart(7)}  ${await shardPhases(client, rerun.id, rerun.runId)}`);
      const rate = (s: number | undefined) => (s === undefined || Number.isNaN(s) ? '—' : `${(n / s).toFixed(0)}/s`);
      const ratio = (raw: number, s: number | undefined) => (s === undefined || Number.isNaN(raw) ? '—' : `${(raw / s).toFixed(2)}×`);
      rows.push(
        `  ${String(n).padStart(7)}  ${rate(sluiceS).padStart(8)}  ${rate(perItem?.seconds).padStart(8)}  ${rate(rawS).padStart(8)}  ${ratio(rawS, sluiceS).padStart(6)}  ${ratio(rawS, perItem?.seconds).padStart(6)}` +
          `  ${(first && rerun ? `${first.seconds.toFixed(1)} → ${rerun.seconds.toFixed(1)} s (${(rerun.seconds / first.seconds).toFixed(2)})` : '—').padStart(24)}` +
          `  ${mib(peakRss).padStart(8)}  ${`${history.max} (${history.executions} exec.)`.padStart(18)}  ${(NO_RAW ? '—' : `${rawHistory.max} (${rawHistory.executions} exec.)`).padStart(18)}`,
      );
      ctx.log(rows[rows.length - 1]!.trim());
    }
  }));

  const long: string[] = [];
  for (const [p, expected] of NODES ? ([[longChain, LONG_NODES], [wideDag, wideDagLast(WIDE_WIDTH, LONG_NODES / WIDE_WIDTH)]] as const) : []) {
    ctx.log(`${p.name}: running`);
    const t0 = performance.now();
    const handle = await startPipeline(client, p, {}, { taskQueue: workers.config.queues.workflow, workflowId: uniqueId(`${p.name}-`) });
    const { outputs } = await handle.result();
    const s = (performance.now() - t0) / 1000;
    const got = 'v' in outputs ? outputs.v : outputs.last;
    if (got !== expected) throw new Error(`${p.name}: output ${got}, expected ${expected}`);
    const history = await longestHistory(client, handle.workflowId, handle.firstExecutionRunId);
    long.push(`  ${p.name.padEnd(16)}  ${s.toFixed(1).padStart(7)} s  ${((s * 1000) / LONG_NODES).toFixed(0).padStart(5)} ms/node  ${String(history.runs).padStart(4)} executions  longest history ${history.max} events`);
    ctx.log(long.at(-1)!.trim());
  }

  ctx.print(`compile (${LONG_NODES} nodes, in this process, best of 3): ${compiled.map((c) => `${c.name} ${c.ms.toFixed(0)} ms (spec ${(c.bytes / 1024).toFixed(0)} KiB)`).join('; ')}`);
  if (NODES) {
    ctx.print(`runs (history budget ${limits.historyBudget} events per execution; 1 CPU worker process, ${CPU_CONCURRENCY} activity slots):`);
    for (const r of long) ctx.print(r);
    return;
  }
  ctx.print(
    `fanout (${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}; 1 CPU worker process, ${CPU_CONCURRENCY} activity slots, parallelism ${FANOUT_PARALLELISM}; ` +
      `shards of ${limits.shardSize}, ${limits.shardWindow} in flight; raw worker in the bench process)`,
  );
  ctx.print(`    items    Sluice  per item       raw  ratio  ratio/item     cached: first → rerun  peak RSS  longest history (Sluice)  longest history (raw)`);
  for (const r of rows) ctx.print(r);
  ctx.print(
    '  Sluice: items in batches (the default); per item: itemsPerTask 1, one activity per item like the raw workflow; ratio: Sluice items/s ÷ raw items/s (target ≥ 0.7);\n' +
      '  cached: the fan-out with the cache on, run then rerun with the same params (target: the rerun under a tenth); peak RSS: the CPU worker (workflows and activities) during the Sluice runs',
  );
  if (phases.length) {
    ctx.print("  where a cached rerun's time goes (from its executions' histories; medians):");
    for (const p of phases) ctx.print(p);
  }
}

/**
 * Horizontal scale: the same fan-out on one CPU worker process, then with a second one polling the
 * same queues (its own process, metrics port and pid), each run uncached. Which worker ran each
 * item is read from the leaf shards' histories (ActivityTaskStarted's identity, pid@host).
 */
async function scaleRuns(ctx: BenchContext, first: Awaited<ReturnType<typeof startCpuWorkerAndRawBundle>>['workers'], peak: () => number): Promise<void> {
  const { client } = ctx;
  const queues = { SLUICE_WORKFLOW_QUEUE: first.env.SLUICE_WORKFLOW_QUEUE!, SLUICE_CPU_QUEUE: first.env.SLUICE_CPU_QUEUE!, SLUICE_GPU_QUEUE: first.env.SLUICE_GPU_QUEUE! };
  const rows: string[] = [];
  const measure = async (n: number, label: string) => {
    ctx.log(`${n} items on ${label}`);
    const t0 = performance.now();
    const handle = await startPipeline(client, fanoutBench, { n }, { taskQueue: first.config.queues.workflow, workflowId: uniqueId('bench-scale-') });
    const { outputs } = await handle.result();
    const s = (performance.now() - t0) / 1000;
    if (outputs.count !== n) throw new Error(`fan-in of ${n} items came back as ${outputs.count}`);
    const perWorker = await itemsPerWorker(client, handle.workflowId, handle.firstExecutionRunId);
    rows.push(`  ${String(n).padStart(7)}  ${label.padEnd(9)}  ${s.toFixed(1).padStart(7)} s  ${(n / s).toFixed(0).padStart(6)}/s  items (activities) per worker: ${[...perWorker.values()].sort((a, b) => b.items - a.items).map((w) => `${w.items} (${w.activities})`).join(' / ')}`);
    ctx.log(rows.at(-1)!.trim());
  };
  for (const n of WIDTHS) await measure(n, '1 worker');
  ctx.log('starting a second CPU worker process on the same queues');
  const second = await startTestWorkers({ temporalAddress: ctx.temporalAddress, databaseUrl: ctx.databaseUrl, kinds: ['cpu'], env: { ...pick(first.env, SHARED_ENV), ...queues } });
  ctx.onCleanup(() => second.stop());
  for (const n of WIDTHS) await measure(n, '2 workers');
  ctx.print(`fanout scale (${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}; ${CPU_CONCURRENCY} activity slots per worker, parallelism ${FANOUT_PARALLELISM}; shards of ${loadConfig({}).engine.shardSize}; first worker's peak RSS ${mib(peak())})`);
  ctx.print('    items  workers        time   items/s');
  for (const r of rows) ctx.print(r);
}

/** What the second worker shares with the first: its pipelines, bundle, slots and artifact store (claims are read across workers). */
const SHARED_ENV = ['SLUICE_EXTRA_PIPELINES', 'SLUICE_WORKFLOW_BUNDLE', 'SLUICE_CPU_CONCURRENCY', 'SLUICE_ARTIFACT_URL'];
const pick = (env: NodeJS.ProcessEnv, keys: string[]) => Object.fromEntries(keys.filter((k) => env[k] !== undefined).map((k) => [k, env[k]]));

/**
 * Items and activities of the fan-out per worker identity, from the leaf shards' histories: each
 * activity that started (its identity) ran the items its scheduled input lists (a batch), or one.
 */
async function itemsPerWorker(client: Client, workflowId: string, runId?: string): Promise<Map<string, { items: number; activities: number }>> {
  const out = new Map<string, { items: number; activities: number }>();
  await eachHistory(client, workflowId, runId, (events) => {
    const itemsOf = new Map<string, number>();
    for (const e of events) {
      const a = e.activityTaskScheduledEventAttributes;
      if (!a?.activityType?.name?.includes('fanout-noop')) continue;
      const call = JSON.parse(Buffer.from(a.input?.payloads?.[0]?.data ?? new Uint8Array()).toString('utf8') || '{}') as { batch?: { indices: number[] } };
      itemsOf.set(String(e.eventId), call.batch?.indices.length ?? 1);
    }
    for (const e of events) {
      const st = e.activityTaskStartedEventAttributes;
      const items = st ? itemsOf.get(String(st.scheduledEventId)) : undefined;
      if (!st?.identity || items === undefined) continue;
      const w = out.get(st.identity) ?? { items: 0, activities: 0 };
      w.items += items;
      w.activities++;
      out.set(st.identity, w);
    }
  });
  return out;
}

/** Median per leaf shard of a run: its whole span, and each kind of activity's wait (scheduled → started) and run (started → completed). */
async function shardPhases(client: Client, workflowId: string, runId?: string): Promise<string> {
  const at = (e: HistoryEvents[number]) => Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);
  const spans: number[] = [];
  const phase = new Map<string, { wait: number[]; run: number[] }>();
  await eachHistory(client, workflowId, runId, (events) => {
    const type = new Map<string, string>();
    const scheduled = new Map<string, number>();
    const started = new Map<string, number>();
    for (const e of events) {
      const sch = e.activityTaskScheduledEventAttributes;
      if (sch) {
        type.set(String(e.eventId), sch.activityType?.name?.includes('fanout-noop') ? 'probe/batch' : (sch.activityType?.name ?? '?'));
        scheduled.set(String(e.eventId), at(e));
      }
      const st = e.activityTaskStartedEventAttributes;
      if (st) started.set(String(st.scheduledEventId), at(e));
      const done = e.activityTaskCompletedEventAttributes;
      if (done) {
        const id = String(done.scheduledEventId);
        const p = phase.get(type.get(id)!) ?? { wait: [], run: [] };
        p.wait.push(started.get(id)! - scheduled.get(id)!);
        p.run.push(at(e) - started.get(id)!);
        phase.set(type.get(id)!, p);
      }
    }
    if (!events.some((e) => e.startChildWorkflowExecutionInitiatedEventAttributes) && events.length) spans.push(at(events.at(-1)!) - at(events[0]!));
  });
  const med = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);
  return [`span of an execution that starts no child ${med(spans)} ms`, ...[...phase].map(([k, p]) => `${k}: wait ${med(p.wait)} ms, run ${med(p.run)} ms (×${p.run.length})`)].join('; ');
}

/**
 * The longest history among an execution, the executions it continued as new into, and all their
 * descendants (children found in each history); `runs`: the executions of the run itself.
 */
/** compile() of each generated 2,000-node pipeline: the best of 3, and the spec's JSON size. */
function compileTimes(): { name: string; ms: number; bytes: number }[] {
  return [longChain, wideDag].map((p) => {
    let ms = Infinity;
    let bytes = 0;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      const spec = compile(p);
      ms = Math.min(ms, performance.now() - t0);
      bytes = JSON.stringify(spec).length;
    }
    return { name: p.name, ms, bytes };
  });
}

/** The wide DAG's last output for start 0, computed as its steps do (generated-pipelines.ts). */
function wideDagLast(width: number, depth: number): number {
  let layer = Array.from({ length: width }, (_, j) => j + 1);
  for (let d = 1; d < depth; d++) layer = layer.map((v, j) => v + layer[(j + 1) % width]! + 1);
  return layer[width - 1]!;
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;
