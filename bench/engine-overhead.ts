/**
 * Engine overhead: what Sluice adds on top of Temporal per step. A 20-node chain and a 20-wide
 * fan-out of no-op steps run on real workers (workers/cpu.ts, pipelines from bench/pipelines.ts),
 * next to hand-written workflows of the same shapes (bench/raw-workflow.ts) that call a no-op
 * activity on a plain Worker in this process: the raw cost of a Temporal activity round trip,
 * measured in the same run. Target: under 30 ms of overhead per step. Prints figures; asserts
 * nothing about timings.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { WorkflowHandle } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { RunState } from '../pipelines/dsl/protocol';
import { uniqueId } from '../test/helpers/stack';
import { runStateQuery } from '../pipelines/dsl/messages';
import { CHAIN_LENGTH, FANOUT_WIDTH } from './pipelines';
import type { RawActivities } from './raw-workflow';
import { startCpuWorkerAndRawBundle } from './cpu-worker-and-raw-bundle';
import type { Benchmark, BenchContext } from './run';

const RUNS = 5;
const WARMUP = 1;
const TARGET_MS = 30;
/** Activity slots of the CPU worker: the whole fan-out at once, so the width is not capped at the default 4. */
const CPU_CONCURRENCY = FANOUT_WIDTH;

export const benchmark: Benchmark = {
  name: 'engine-overhead',
  description: `orchestration overhead per step: ${CHAIN_LENGTH}-node chain and ${FANOUT_WIDTH}-wide fan-out of no-op steps vs raw Temporal activities`,
  run,
};

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;

interface Sample {
  e2e: number;
  history: History;
  state?: RunState;
}

async function run(ctx: BenchContext): Promise<void> {
  ctx.log('starting a CPU worker with the bench pipelines, bundling the raw workflows');
  const { workers, rawBundle } = await startCpuWorkerAndRawBundle(ctx, 'pipelines.ts', CPU_CONCURRENCY);

  const connection = await NativeConnection.connect({ address: ctx.temporalAddress });
  ctx.onCleanup(() => connection.close());
  const rawQueue = uniqueId('bench-raw-');
  const rawActivities: RawActivities = { noop: async (v) => v };
  const rawWorker = await Worker.create({ connection, taskQueue: rawQueue, workflowBundle: { code: rawBundle.code }, activities: rawActivities });
  let rawRunning: Promise<unknown> = Promise.resolve();
  // Interrupted (Ctrl-C): the worker lets go of the connection before it is closed.
  ctx.onCleanup(async () => {
    if (rawWorker.getState() === 'RUNNING') rawWorker.shutdown();
    await rawRunning.catch(() => undefined);
  });

  const { client } = ctx;
  const timed = async (start: () => Promise<WorkflowHandle>, withState: boolean): Promise<Sample> => {
    const t0 = performance.now();
    const handle = await start();
    await handle.result();
    const e2e = performance.now() - t0;
    const [history, state] = await Promise.all([handle.fetchHistory(), withState ? handle.query(runStateQuery) : undefined]);
    return { e2e, history, state };
  };
  const pipelineRun = (name: string) => () =>
    timed(() => client.workflow.start(name, { taskQueue: workers.config.queues.workflow, workflowId: uniqueId(`${name}-`), args: [{}] }), true);
  const rawRun = (type: 'rawSequential' | 'rawFanout', n: number) => () =>
    timed(() => client.workflow.start(type, { taskQueue: rawQueue, workflowId: uniqueId(`bench-${type}-`), args: [n] }), false);

  const kinds = {
    rawSeq: rawRun('rawSequential', CHAIN_LENGTH),
    chain: pipelineRun('bench-chain'),
    localChain: pipelineRun('bench-chain-local'),
    rawFan: rawRun('rawFanout', FANOUT_WIDTH),
    fanout: pipelineRun('bench-fanout'),
  };
  const samples: Record<keyof typeof kinds, Sample[]> = { rawSeq: [], chain: [], localChain: [], rawFan: [], fanout: [] };

  await (rawRunning = rawWorker.runUntil(async () => {
    // Interleaved, so drift on a busy machine hits raw and engine figures alike.
    for (let i = 0; i < WARMUP + RUNS; i++) {
      ctx.log(`${i < WARMUP ? 'warm-up' : `run ${i - WARMUP + 1}/${RUNS}`}: raw chain, bench-chain, bench-chain-local, raw fan-out, bench-fanout`);
      for (const k of Object.keys(kinds) as (keyof typeof kinds)[]) {
        const s = await kinds[k]();
        if (i >= WARMUP) samples[k].push(s);
      }
    }
  }));

  report(ctx, samples);
}

// ---------------------------------------------------------------------------------------------
// Figures

function report(ctx: BenchContext, s: Record<'rawSeq' | 'chain' | 'localChain' | 'rawFan' | 'fanout', Sample[]>): void {
  const e2e = (xs: Sample[]) => median(xs.map((x) => x.e2e));
  const rawSeqTotal = e2e(s.rawSeq);
  const rawRoundTrip = rawSeqTotal / CHAIN_LENGTH;
  const chainE2e = e2e(s.chain);
  const chainOverhead = (chainE2e - rawSeqTotal) / CHAIN_LENGTH;

  const fanSteps = FANOUT_WIDTH + 2;
  const rawFanTotal = e2e(s.rawFan);
  const fanE2e = e2e(s.fanout);
  const fanOverhead = (fanE2e - rawFanTotal) / fanSteps;

  // From the `state` query: engine-side time between a node's end and the next node's start,
  // and each node's own duration (schedule → result seen by the workflow).
  const gaps: number[] = [];
  const nodeTimes: number[] = [];
  for (const x of s.chain) {
    const nodes = chainNodes(x.state!);
    nodes.forEach((n, i) => {
      if (n.startedAt !== undefined && n.endedAt !== undefined) nodeTimes.push(n.endedAt - n.startedAt);
      const next = nodes[i + 1];
      if (next?.startedAt !== undefined && n.endedAt !== undefined) gaps.push(next.startedAt - n.endedAt);
    });
  }
  const mapStage = median(s.fanout.map((x) => x.state!.nodes.each!.endedAt! - x.state!.nodes.each!.startedAt!));

  const chainH = breakdown(s.chain, 'bench.noop');
  const rawH = breakdown(s.rawSeq, 'noop');
  const rawFanStage = median(s.rawFan.map((x) => fanStage(x.history, 'noop', 'noop')));
  const fanStageH = median(s.fanout.map((x) => fanStage(x.history, 'bench.noop', 'bench.gather')));

  const f = (ms: number) => `${ms.toFixed(1)} ms`;
  const r = (ms: number) => `${Math.round(ms)} ms`;
  const verdict = (ms: number) => (ms < TARGET_MS ? 'OK' : 'OVER');
  const of = `median of ${RUNS}`;

  ctx.print(`engine-overhead (${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}; 1 CPU worker process, ${CPU_CONCURRENCY} activity slots; raw worker in the bench process)`);
  ctx.print(`  raw activity round trip     ${f(rawRoundTrip)}  (hand-written workflow, ${CHAIN_LENGTH} sequential no-op activities: ${r(rawSeqTotal)}, ${of})`);
  ctx.print(
    `  chain-${CHAIN_LENGTH}:   e2e ${r(chainE2e)} (${of}), overhead/step ${f(chainOverhead)}; raw activity round trip ${f(rawRoundTrip)}; target < ${TARGET_MS} ms: ${verdict(chainOverhead)}`,
  );
  const localE2e = e2e(s.localChain);
  const localStep = localE2e / CHAIN_LENGTH;
  ctx.print(
    `  chain-${CHAIN_LENGTH}, local steps: e2e ${r(localE2e)} (${of}), ${f(localStep)} per step end to end vs the raw activity round trip ${f(rawRoundTrip)}: ` +
      `${localStep < rawRoundTrip ? `${(rawRoundTrip / localStep).toFixed(1)}× faster` : 'not faster'}` +
      ` (why: a local step runs inside the workflow task that schedules it, so there is no task-queue dispatch and no second workflow task to hear of its end)`,
  );
  const fixed = (chainH.setup - rawH.setup + (chainH.teardown - rawH.teardown)) / CHAIN_LENGTH;
  ctx.print(`             of which run start/finish (spec resolution, run rows): ${f(fixed)}/step; the rest, per step: ${f(chainOverhead - fixed)}`);
  ctx.print(
    `             state query (median): gap endedAt → next startedAt ${f(median(gaps))}${median(gaps) === 0 ? ' (next node scheduled in the same workflow task)' : ''}, node duration ${f(median(nodeTimes))}`,
  );
  ctx.print(
    `  fanout-${FANOUT_WIDTH}: e2e ${r(fanE2e)} (${of}; raw same shape ${r(rawFanTotal)}), overhead/step ${f(fanOverhead)} (amortised over ${fanSteps} steps); target < ${TARGET_MS} ms: ${verdict(fanOverhead)}`,
  );
  ctx.print(
    `             ${FANOUT_WIDTH}-wide stage: ${r(fanStageH)} vs raw ${r(rawFanStage)} (history, first item scheduled → fan-in scheduled); map node duration ${r(mapStage)} (state query)`,
  );
  ctx.print(`  where a chain step's time goes (history, median per step, Sluice vs raw):`);
  const row = (label: string, a: number, b: number) => ctx.print(`             ${label.padEnd(48)} ${f(a).padStart(9)} vs ${f(b).padStart(9)}`);
  row('activity wait (scheduled → started)', chainH.wait, rawH.wait);
  row('activity (started → completed)', chainH.exec, rawH.exec);
  row('workflow task wait (completed → task started)', chainH.wftWait, rawH.wftWait);
  row('workflow task run (task started → completed)', chainH.wftRun, rawH.wftRun);
  row('run start → first step scheduled (once)', chainH.setup, rawH.setup);
  row('last step completed → run closed (once)', chainH.teardown, rawH.teardown);
}

function chainNodes(state: RunState) {
  return Array.from({ length: CHAIN_LENGTH }, (_, i) => state.nodes[`n${String(i + 1).padStart(2, '0')}`]!);
}

type Event = NonNullable<History['events']>[number];

const at = (e: Event) => tsToMs(e.eventTime);

/** Per-step phases of the activities of one type, from event times, pooled over runs (medians). */
function breakdown(samples: Sample[], activityType: string) {
  const wait: number[] = [];
  const exec: number[] = [];
  const wftWait: number[] = [];
  const wftRun: number[] = [];
  const setup: number[] = [];
  const teardown: number[] = [];
  for (const { history } of samples) {
    const events = history.events ?? [];
    const scheduled = new Map<string, number>();
    const started = new Map<string, number>();
    let firstScheduled: number | undefined;
    let lastCompleted: number | undefined;
    // After a step completes: the workflow task that reacts to it, until the next step is scheduled.
    let after: { completed: number; wftStarted?: number; wftCompleted?: number } | undefined;
    for (const e of events) {
      if (after && e.workflowTaskStartedEventAttributes && after.wftStarted === undefined) after.wftStarted = at(e);
      if (after && e.workflowTaskCompletedEventAttributes && after.wftStarted !== undefined) after.wftCompleted ??= at(e);
      const sch = e.activityTaskScheduledEventAttributes;
      if (sch) {
        if (sch.activityType?.name !== activityType) continue;
        scheduled.set(String(e.eventId), at(e));
        firstScheduled ??= at(e);
        if (after?.wftStarted !== undefined && after.wftCompleted !== undefined) {
          wftWait.push(after.wftStarted - after.completed);
          wftRun.push(after.wftCompleted - after.wftStarted);
        }
        after = undefined;
      }
      const st = e.activityTaskStartedEventAttributes;
      if (st) {
        const id = String(st.scheduledEventId);
        const t = scheduled.get(id);
        if (t !== undefined) {
          wait.push(at(e) - t);
          started.set(id, at(e));
        }
      }
      const done = e.activityTaskCompletedEventAttributes;
      if (done) {
        const t = started.get(String(done.scheduledEventId));
        if (t !== undefined) {
          exec.push(at(e) - t);
          lastCompleted = at(e);
          after = { completed: at(e) };
        }
      }
    }
    const first = events[0];
    const last = events[events.length - 1];
    if (first && firstScheduled !== undefined) setup.push(firstScheduled - at(first));
    if (last && lastCompleted !== undefined) teardown.push(at(last) - lastCompleted);
  }
  return { wait: median(wait), exec: median(exec), wftWait: median(wftWait), wftRun: median(wftRun), setup: median(setup), teardown: median(teardown) };
}

/** From the first item of the fan-out being scheduled to the fan-in step being scheduled. */
function fanStage(history: History, itemType: string, fanInType: string): number {
  const sched = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes);
  const types = sched.map((e) => e.activityTaskScheduledEventAttributes!.activityType?.name);
  // Raw: noop ×(1 + n + 1); Sluice: items, each ×n, gather (bookkeeping activities have other types).
  const firstItem = itemType === fanInType ? 1 : types.indexOf(itemType);
  const fanIn = itemType === fanInType ? types.lastIndexOf(itemType) : types.indexOf(fanInType);
  return at(sched[fanIn]!) - at(sched[firstItem]!);
}

function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}
