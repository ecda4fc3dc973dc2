import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gbdtParams } from '../pipelines/steps/training';
import { projectRoot } from '../infra/paths';
import { rocAuc } from '../activities/evaluation/metrics/classification';
import { extractRaw, extractTarget, resolveFeatures } from '../activities/training/data/design-matrix';
import { trainGbdt } from '../activities/training/gbdt/boost';
import { predictGbdt } from '../activities/training/gbdt/model';
import { benchParams, birdstrikes, flights, type BenchDataset } from './gbdt-data';
import type { Benchmark } from './run';

/**
 * `npm run bench -- gbdt`: Sluice's GBDT against scikit-learn's HistGradientBoostingClassifier on
 * two real datasets with high-cardinality categoricals (bench/gbdt-data.ts), same rounds,
 * learning rate, leaves, L2, min leaf and bins, categoricals declared on both sides; prints
 * the test AUC and fit time of each and the ratios. Goal: AUC within 0.005 of scikit-learn's,
 * fit time within 1.5×.
 *
 * scikit-learn runs from a virtual environment under ~/.cache/sluice/pyenv, made (pip install
 * scikit-learn pandas pyarrow from PyPI) on first use; npm test never needs it. Both fits use
 * the machine's cores as they will: scikit-learn its OpenMP threads, Sluice its histogram threads
 * (gbdt/histogram-threads.ts). Each fit's CPU seconds (all threads) are printed too: on a shared
 * machine the wall times also count waiting for a core (OpenMP's spinning threads suffer most).
 *
 * `npm run bench -- gbdt threads` fits Sluice alone on half of flights with one histogram thread,
 * then two, and prints each thread's CPU seconds (Linux: /proc/self/task), the figure to watch on
 * a shared machine: the trainer's thread bounds the wall time on quiet cores.
 */

const PYENV = path.join(os.homedir(), '.cache', 'sluice', 'pyenv');
const PYTHON = path.join(PYENV, 'bin', 'python');
const SCRIPT = path.join(projectRoot, 'bench', 'python', 'gbdt_sklearn.py');

function ensurePython(log: (m: string) => void): void {
  const ok = () => fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import sklearn, pandas, pyarrow'], { stdio: 'ignore' }).status === 0;
  if (ok()) return;
  log(`installing scikit-learn into ${PYENV} (once)`);
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
  };
  fs.mkdirSync(path.dirname(PYENV), { recursive: true });
  if (!fs.existsSync(PYTHON)) run('python3', ['-m', 'venv', PYENV]);
  run(PYTHON, ['-m', 'pip', 'install', '--quiet', 'scikit-learn', 'pandas', 'pyarrow']);
  if (!ok()) throw new Error('scikit-learn is still not importable');
}

export interface SideResult {
  auc: number;
  fitSeconds: number;
  /** CPU seconds of the fit, all threads: on a shared machine, wall time also counts waiting for a core. */
  cpuSeconds: number;
}

/** Sluice's trainer in this process: binning included in the fit time, as in scikit-learn's. */
export async function fitSluice(d: BenchDataset, train: typeof trainGbdt = trainGbdt, predict: typeof predictGbdt = predictGbdt): Promise<SideResult> {
  const features = resolveFeatures(d.train, { target: d.target, features: [...d.numeric, ...d.categorical], categorical: d.categorical });
  const raw = extractRaw(d.train, features);
  const y = extractTarget(d.train, d.target, 'binary');
  const params = gbdtParams.parse({ ...benchParams, earlyStoppingRounds: 0, validationFraction: 0 });
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const { model } = await train({ target: d.target, task: 'binary', features, train: { raw, y } }, params);
  const cpu = process.cpuUsage(c0);
  const fitSeconds = (performance.now() - t0) / 1000;
  const test = extractRaw(d.test, features);
  const yt = extractTarget(d.test, d.target, 'binary', y.kind === 'class' ? { classes: y.classes, labelType: y.labelType } : undefined);
  const pred = predict(model, test);
  if (pred.kind !== 'class') throw new Error('binary model predicted values');
  const p1 = new Float64Array(pred.n);
  for (let i = 0; i < pred.n; i++) p1[i] = pred.probabilities[2 * i + 1]!;
  return { auc: rocAuc(Uint8Array.from(yt.y), p1)!, fitSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

export function fitSklearn(d: BenchDataset, dir: string): SideResult & { threads: number } {
  const train = path.join(dir, 'train.parquet');
  const test = path.join(dir, 'test.parquet');
  d.train.writeParquet(train);
  d.test.writeParquet(test);
  const spec = { train, test, target: d.target, numeric: d.numeric, categorical: d.categorical, max_categories: benchParams.maxCategories, params: benchParams };
  const r = spawnSync(PYTHON, [SCRIPT, JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`scikit-learn run failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { auc: number; fit_s: number; cpu_s: number; threads: number };
  return { auc: out.auc, fitSeconds: out.fit_s, cpuSeconds: out.cpu_s, threads: out.threads };
}

/** CPU seconds so far of each thread of this process, by thread id (Linux; empty elsewhere). */
function threadCpuSeconds(): Map<string, number> {
  const out = new Map<string, number>();
  if (!fs.existsSync('/proc/self/task')) return out;
  for (const t of fs.readdirSync('/proc/self/task')) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(t, (Number(fields[11]) + Number(fields[12])) / 100); // utime + stime, in USER_HZ (100) ticks
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** `gbdt threads`: Sluice on half of flights with 1 and 2 histogram threads, CPU per thread. */
async function threadsRun(ctx: Parameters<Benchmark['run']>[0]): Promise<void> {
  const d = flights();
  d.train = d.train.slice(0, Math.round(d.train.height / 2));
  ctx.print('| threads | fit wall | fit CPU s | CPU s per busy thread (> 0.5 s; the trainer\'s first) | AUC | load |');
  ctx.print('|---|---|---|---|---|---|');
  for (const threads of [1, 2]) {
    const load0 = os.loadavg()[0]!;
    const before = threadCpuSeconds();
    let after = before;
    // read at the last round, before the threads are closed
    const r = await fitSluice(d, (data, params) =>
      trainGbdt(data, params, { threads, onIteration: (s) => void (s.iteration === params.nEstimators && (after = threadCpuSeconds())) }),
    );
    const busy = [...after].map(([t, cpu]) => cpu - (before.get(t) ?? 0)).filter((cpu) => cpu > 0.5);
    ctx.print(
      `| ${threads} | ${r.fitSeconds.toFixed(1)} s | ${r.cpuSeconds.toFixed(1)} | ${busy.map((c) => c.toFixed(1)).join(' / ')} | ${r.auc.toFixed(4)} | ${load0.toFixed(1)} → ${os.loadavg()[0]!.toFixed(1)} |`,
    );
  }
}

export const benchmark: Benchmark = {
  name: 'gbdt',
  description: "Sluice GBDT vs scikit-learn's HistGradientBoostingClassifier: AUC and fit time on two real datasets with high-cardinality categoricals",
  async run(ctx) {
    if (process.argv.slice(2).includes('threads')) return threadsRun(ctx);
    ensurePython((m) => ctx.log(m));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-gbdt-bench-'));
    ctx.onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
    ctx.print(`params: ${JSON.stringify(benchParams)}; ${os.cpus().length} cores`);
    ctx.print(`load average before: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    // fit times on a shared machine mean little without the load they ran under (1-minute average, before and after the pair)
    ctx.print('| dataset | train / test rows | Sluice AUC | scikit-learn AUC | ΔAUC | Sluice fit | scikit-learn fit (threads) | time ratio | Sluice / scikit-learn fit CPU s | load |');
    ctx.print('|---|---|---|---|---|---|---|---|---|---|');
    for (const make of [flights, birdstrikes]) {
      const d = make();
      ctx.log(`${d.name}: ${d.train.height} train rows, ${d.test.height} test rows`);
      const load0 = os.loadavg()[0]!;
      const sk = fitSklearn(d, dir);
      const sl = await fitSluice(d);
      const load1 = os.loadavg()[0]!;
      ctx.print(
        `| ${d.name} | ${d.train.height} / ${d.test.height} | ${sl.auc.toFixed(4)} | ${sk.auc.toFixed(4)} | ${(sl.auc - sk.auc >= 0 ? '+' : '') + (sl.auc - sk.auc).toFixed(4)} | ${sl.fitSeconds.toFixed(1)} s | ${sk.fitSeconds.toFixed(1)} s (${sk.threads}) | ${(sl.fitSeconds / sk.fitSeconds).toFixed(2)}× | ${sl.cpuSeconds.toFixed(1)} / ${sk.cpuSeconds.toFixed(1)} | ${load0.toFixed(1)} → ${load1.toFixed(1)} |`,
      );
    }
  },
};
