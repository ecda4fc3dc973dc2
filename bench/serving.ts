/**
 * Online serving: single-row requests against `sluice serve` and, in the same run, against a bare
 * fastify + onnxruntime handler on the same model (bench/serving-target.ts; each a process of
 * its own, the load from this one with autocannon). Per side: p50/p99 latency and throughput at a
 * fixed rate (500 requests/s, the target: p99 ≤ 10 ms) and at saturation (the target: Sluice ≥
 * 0.7× the bare handler's throughput), and the server's RSS before and after. The model is the
 * demo's: penguins' species, a GBDT, by its champion alias, features inline. Prints figures;
 * asserts nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import autocannon from 'autocannon';
import { openArtifactStore } from '../infra/artifacts/index';
import { migrate } from '../infra/db/migrate';
import { createPool } from '../infra/db/pool';
import { setAlias } from '../infra/db/registry';
import { projectRoot } from '../infra/paths';
import { registerPenguinModels, SERVING_MODEL } from '../test/helpers/serving-models';
import { tempDir } from '../test/helpers/stack';
import type { Benchmark, BenchContext } from './run';

const FIXED_RATE = 500;
const SECONDS = 10;
const SATURATION_CONNECTIONS = 32;

export const benchmark: Benchmark = {
  name: 'serving',
  description: `online serving: single-row requests at ${FIXED_RATE}/s and at saturation, sluice serve vs a bare fastify + onnxruntime handler on the same model`,
  run,
};

interface Target {
  name: string;
  url: string;
  child: ChildProcess;
}

interface Figures {
  p50: number;
  p99: number;
  rps: number;
  failed: number;
}

async function run(ctx: BenchContext): Promise<void> {
  const home = tempDir('bench-serving');
  ctx.onCleanup(() => fs.rmSync(home, { recursive: true, force: true }));
  const db = createPool(ctx.databaseUrl, { max: 2 });
  ctx.onCleanup(() => db.end());
  await migrate(db);
  const root = path.join(home, 'artifacts');
  ctx.log('registering the penguins models (logistic v1, GBDT v2; the GBDT is champion)');
  const models = await registerPenguinModels(db, await openArtifactStore({ kind: 'local', root }), home);
  const version = models.v2.registered!.version;
  await setAlias(db, { name: SERVING_MODEL, alias: 'champion', version, actor: 'bench', reason: 'serving benchmark' });

  const start = async (name: 'sluice' | 'bare'): Promise<Target> => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'bench', 'serving-target.ts'), name, ctx.databaseUrl, root, SERVING_MODEL, String(version)], {
      cwd: projectRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    ctx.onCleanup(() => child.kill('SIGTERM'));
    const line = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`${name} server exited (${code}) before it was ready`)));
    });
    return { name, url: (JSON.parse(line) as { url: string }).url, child };
  };
  const [sluice, bare] = [await start('sluice'), await start('bare')];
  const body = JSON.stringify({ instances: [models.rows[0]] });
  const request = (t: Target) => ({
    url: t.name === 'sluice' ? `${t.url}/v1/models/${SERVING_MODEL}:predict` : `${t.url}/predict`,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    body,
  });
  // Both warm (the model loaded, JIT warmed) before the clock.
  for (const t of [sluice, bare]) await load(request(t), { connections: 4, duration: 2 });

  const rss = new Map<string, number[]>([
    [sluice.name, [rssMiB(sluice.child.pid!)]],
    [bare.name, [rssMiB(bare.child.pid!)]],
  ]);
  const results: Record<string, { fixed: Figures; saturation: Figures }> = {};
  for (const t of [sluice, bare]) {
    ctx.log(`${t.name}: ${FIXED_RATE} requests/s for ${SECONDS} s`);
    const fixed = await load(request(t), { connections: 10, duration: SECONDS, overallRate: FIXED_RATE });
    ctx.log(`${t.name}: saturation (${SATURATION_CONNECTIONS} connections) for ${SECONDS} s`);
    const saturation = await load(request(t), { connections: SATURATION_CONNECTIONS, duration: SECONDS });
    results[t.name] = { fixed, saturation };
    rss.get(t.name)!.push(rssMiB(t.child.pid!));
  }

  const row = (what: string, f: Figures) => `${what.padEnd(34)} p50 ${f.p50.toFixed(2).padStart(6)} ms  p99 ${f.p99.toFixed(2).padStart(6)} ms  ${f.rps.toFixed(0).padStart(6)} req/s  failed ${f.failed}`;
  ctx.print(`serving: single-row requests, penguins GBDT v${version} by its champion alias, features inline`);
  for (const t of [sluice, bare]) {
    const r = results[t.name]!;
    ctx.print(row(`${t.name} at ${FIXED_RATE}/s`, r.fixed));
    ctx.print(row(`${t.name} at saturation`, r.saturation));
    const [before, after] = rss.get(t.name)!;
    ctx.print(`${t.name.padEnd(34)} RSS ${before!.toFixed(0)} → ${after!.toFixed(0)} MiB over the runs`);
  }
  const ratio = results.sluice!.saturation.rps / results.bare!.saturation.rps;
  ctx.print(`sluice / bare saturation throughput: ${ratio.toFixed(2)}× (target ≥ 0.7); sluice p99 at ${FIXED_RATE}/s: ${results.sluice!.fixed.p99.toFixed(2)} ms (target ≤ 10)`);
}

async function load(req: { url: string; method: 'POST'; headers: Record<string, string>; body: string }, o: { connections: number; duration: number; overallRate?: number }): Promise<Figures> {
  const r = await autocannon({ ...req, ...o });
  return { p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.average, failed: r.errors + r.timeouts + r.non2xx };
}

/** Resident memory of a process, MiB (Linux /proc). */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
