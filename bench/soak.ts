/**
 * Soak: is the CPU worker's growing RSS a leak? Real worker processes (workers/cpu.ts and
 * workers/gpu.ts) run rounds of real pipeline runs: ingest-validate (Seattle weather), train-model
 * on penguins (one small trial, a new seed each run, so every run trains and registers) and
 * batch-scoring of penguins into a table, a few at a time. After each round the workers are idle,
 * and their memory is read twice: the kernel's RSS (/proc/PID/status VmRSS, what the issue
 * measured) and the process's own figures after a full GC (bench/memory-probe.mjs): the V8 heap
 * JavaScript still holds, and external (ArrayBuffer) memory. A leak shows as figures that keep
 * growing round after round; an allocator's high-water mark (glibc arenas, onnxruntime and polars
 * pools) as RSS that rises over the first rounds and then stays, with the heap flat.
 *
 * Sizes: SLUICE_SOAK_ROUNDS (default 8) rounds of SLUICE_SOAK_RUNS (default 36) runs, about 5
 * minutes on a 2-core machine. Prints figures; asserts nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { envSchema } from '../infra/config';
import { batchScoring } from '../pipelines/batch-scoring';
import { ingestValidate } from '../pipelines/ingest-validate';
import { trainModel } from '../pipelines/train-model';
import { startRun } from '../test/helpers/runs';
import { startTestWorkers, type TestWorkers } from '../test/helpers/stack';
import { failureText } from './failure-text';
import type { Benchmark, BenchContext } from './run';
import { kernelMemory, memoryProbeOptions, mib, probeMemory, type ProbedMemory } from './worker-memory';

/** Runs in flight at once: one of each kind, as a small team's day would have them. */
const CONCURRENCY = 3;

const sizes = () => envSchema.pick({ SLUICE_SOAK_ROUNDS: true, SLUICE_SOAK_RUNS: true }).parse(definedOnly(process.env));

export const benchmark: Benchmark = {
  name: 'soak',
  description: 'worker memory over rounds of real pipeline runs (ingest-validate, train-model, batch-scoring): RSS, heap after GC, per round',
  run,
};

interface Sample {
  round: number;
  runs: number;
  failed: number;
  seconds: number;
  cpu: { rss: number; peak: number; probed: ProbedMemory };
  gpu: { rss: number; probed: ProbedMemory };
}

async function run(ctx: BenchContext): Promise<void> {
  const { SLUICE_SOAK_ROUNDS: rounds, SLUICE_SOAK_RUNS: perRound } = sizes();
  ctx.log('starting a CPU and a GPU worker with the memory probe');
  const workers = await startTestWorkers({
    temporalAddress: ctx.temporalAddress,
    databaseUrl: ctx.databaseUrl,
    env: { SLUICE_WORKFLOW_BUNDLE: ctx.workflowBundle, NODE_OPTIONS: memoryProbeOptions() },
  });
  ctx.onCleanup(async () => {
    await workers.stop();
    fs.rmSync(workers.home, { recursive: true, force: true });
  });
  const stack = { client: ctx.client, workers };

  // A champion for batch-scoring, and the penguins dataset it scores.
  ctx.log('training the first champion');
  await (await startRun(stack, trainModel, { model: 'soak-penguins', search: {}, gbdt: { nEstimators: 10 } })).result().catch((e: unknown) => {
    throw new Error(`the first training run failed: ${failureText(e)}`);
  });
  const before = await sample(workers, 0, 0, 0, 0);

  const samples: Sample[] = [];
  let seq = 0;
  for (let round = 1; round <= rounds; round++) {
    const t0 = performance.now();
    let failed = 0;
    const kinds = Array.from({ length: perRound }, (_, i) => i % 3);
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let k = kinds.shift(); k !== undefined; k = kinds.shift()) {
          const n = ++seq;
          await oneRun(stack, k, n).catch((e: unknown) => {
            failed++;
            ctx.log(`run ${n} failed: ${failureText(e)}`);
          });
        }
      }),
    );
    const s = await sample(workers, round, perRound, failed, (performance.now() - t0) / 1000);
    samples.push(s);
    ctx.log(`round ${round}/${rounds}: ${line(s, samples[0]!)}`);
  }
  report(ctx, before, samples);
}

/** One run of the kind's pipeline: 0 ingest-validate, 1 train-model (a new seed: a new model), 2 batch-scoring. */
async function oneRun(stack: { client: BenchContext['client']; workers: TestWorkers }, kind: number, n: number): Promise<void> {
  if (kind === 0) await (await startRun(stack, ingestValidate, {})).result();
  else if (kind === 1) await (await startRun(stack, trainModel, { model: 'soak-penguins', search: {}, gbdt: { nEstimators: 10 }, seed: n, margin: 1 })).result();
  else await (await startRun(stack, batchScoring, { model: 'soak-penguins@champion', dataset: { name: 'penguins' }, chunkSize: 100, keep: ['Species'], destination: { parquet: true, table: 'soak_predictions' } })).result();
}

async function sample(workers: TestWorkers, round: number, runs: number, failed: number, seconds: number): Promise<Sample> {
  const cpuPid = workers.cpu!.child.pid!;
  const gpuPid = workers.gpu!.child.pid!;
  // The kernel's figure first, as the issue measured it (before the probe's GC changes anything).
  const cpuKernel = kernelMemory(cpuPid);
  const gpuKernel = kernelMemory(gpuPid);
  const [cpuProbed, gpuProbed] = await Promise.all([probeMemory(cpuPid), probeMemory(gpuPid)]);
  return { round, runs, failed, seconds, cpu: { ...cpuKernel, probed: cpuProbed }, gpu: { rss: gpuKernel.rss, probed: gpuProbed } };
}

const m = (b: number) => mib(b).toFixed(0).padStart(5);
const d = (b: number) => `${b >= 0 ? '+' : ''}${mib(b).toFixed(Math.abs(mib(b)) < 10 ? 1 : 0)}`;

function line(s: Sample, base: Sample): string {
  const c = s.cpu;
  const after = c.probed.after;
  return [
    `round ${String(s.round).padStart(2)}`,
    `runs ${String(s.runs).padStart(3)}${s.failed ? ` (${s.failed} failed)` : ''}`,
    `${s.seconds.toFixed(0).padStart(4)} s`,
    `CPU worker RSS ${m(c.rss)} MiB (${d(c.rss - base.cpu.rss)} vs round 1; peak ${m(c.peak)})`,
    `heap ${m(c.probed.before.heapUsed)} → ${m(after.heapUsed)} MiB after GC (${d(after.heapUsed - base.cpu.probed.after.heapUsed)})`,
    `external ${m(after.external)} MiB`,
    `RSS after GC ${m(after.rss)}`,
    `GPU worker RSS ${m(s.gpu.rss)} MiB (${d(s.gpu.rss - base.gpu.rss)}), heap ${m(s.gpu.probed.after.heapUsed)}`,
  ].join(' | ');
}

function report(ctx: BenchContext, before: Sample, samples: Sample[]): void {
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  const total = samples.reduce((a, s) => a + s.runs, 0);
  ctx.print(`soak (${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}; ${samples.length} rounds of ${first.runs} runs, ${CONCURRENCY} at a time: ingest-validate, train-model, batch-scoring in turn; memory read with the workers idle after each round)`);
  ctx.print(`  before the rounds (after one training run): CPU worker RSS ${m(before.cpu.rss)} MiB, heap ${m(before.cpu.probed.after.heapUsed)} MiB after GC; GPU worker RSS ${m(before.gpu.rss)} MiB`);
  for (const s of samples) ctx.print(`  ${line(s, first)}`);
  if (!first.cpu.probed.gcAvailable) ctx.print('  (the workers had no gc(): heap figures are without a forced GC)');

  // Growth per round over the later half (the first rounds pay warm-up), fitted over all of its
  // rounds: one round's RSS swings by the garbage not yet collected.
  const half = samples.slice(Math.floor(samples.length / 2));
  const slope = (pick: (s: Sample) => number) => leastSquaresSlope(half.map((s) => [s.round, pick(s)]));
  const rssSlope = slope((s) => s.cpu.rss);
  const settledSlope = slope((s) => s.cpu.probed.after.rss);
  const heapSlope = slope((s) => s.cpu.probed.after.heapUsed);
  const extSlope = slope((s) => s.cpu.probed.after.external);
  const runsPerRound = first.runs;
  const heap1 = (s: Sample) => mib(s.cpu.probed.after.heapUsed).toFixed(1);
  ctx.print(
    `  CPU worker over ${total} runs: RSS ${m(before.cpu.rss)} → ${m(first.cpu.rss)} (round 1) → ${m(last.cpu.rss)} MiB; peak RSS ${m(first.cpu.peak)} → ${m(last.cpu.peak)} MiB; heap after GC ${heap1(before)} → ${heap1(first)} → ${heap1(last)} MiB`,
  );
  ctx.print(
    `  later rounds (${half[0]!.round}–${last.round}), fitted per round: RSS ${d(rssSlope)} MiB, RSS after GC ${d(settledSlope)} MiB, heap ${d(heapSlope)} MiB, external ${d(extSlope)} MiB; ` +
      `per run: RSS after GC ${(settledSlope / runsPerRound / 1024).toFixed(0)} KiB, heap ${(heapSlope / runsPerRound / 1024).toFixed(1)} KiB`,
  );
  ctx.print(`  verdict: ${verdict(settledSlope, heapSlope, first.cpu.probed.after.rss, first.cpu.probed.after.heapUsed)}`);
}

/**
 * Figures into words: growth per round under 1% of round 1's RSS is a plateau; growth that the
 * heap after GC shares is JavaScript holding on to objects; growth in RSS alone is native memory.
 * RSS is the one after the probe's GC: garbage not yet collected (up to a few hundred MiB right
 * after a round) no longer swings it.
 */
function verdict(rssSlope: number, heapSlope: number, baseRss: number, baseHeap: number): string {
  if (!Number.isFinite(rssSlope)) return 'too few rounds to tell (SLUICE_SOAK_ROUNDS ≥ 4)';
  const share = rssSlope / baseRss;
  // A slow JavaScript leak hides under RSS's swings: the heap after GC has no garbage to swing it.
  const creeping = heapSlope > baseHeap * 0.005 ? `; but the heap after GC still grows ${d(heapSlope)} MiB per round: look for a slow leak with more rounds` : '';
  if (share < 0.01) return `RSS plateaus (${(share * 100).toFixed(1)}% of round 1 per round in the later rounds): a high-water mark, not a leak${creeping}`;
  if (heapSlope > rssSlope / 2) return `RSS keeps growing (${(share * 100).toFixed(1)}%/round) and the heap after GC grows with it: JavaScript holds on to something (a leak)`;
  return `RSS keeps growing (${(share * 100).toFixed(1)}%/round) while the heap after GC does not: native memory (allocator, onnxruntime, polars); run more rounds to see whether it levels off`;
}

/** The slope of the least-squares line through the points; NaN with fewer than two. */
function leastSquaresSlope(points: [number, number][]): number {
  if (points.length < 2) return NaN;
  const mx = points.reduce((a, [x]) => a + x, 0) / points.length;
  const my = points.reduce((a, [, y]) => a + y, 0) / points.length;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return num / den;
}

/** Empty variables mean "use the default", as loadConfig reads them. */
function definedOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''));
}
