/**
 * `npm run bench [-- name…]`: runs every benchmark in bench/ (a module exporting `benchmark`) and
 * prints its figures on stdout; progress goes to stderr. Starts its own Temporal dev server
 * (headless, free port) and PostgreSQL through the test helpers (or uses the SLUICE_TEST_* ones),
 * bundles the workflows once for the worker processes, and stops everything it started, also on
 * Ctrl-C. Benchmarks print figures; they never assert timings.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { setup } from '../cli/commands/setup';
import { projectRoot } from '../infra/paths';
import { temporalClient, tempDir, usePostgres, useTemporal } from '../test/helpers/stack';

export interface BenchContext {
  temporalAddress: string;
  /** A database of its own on the bench PostgreSQL (workers migrate it at start). */
  databaseUrl: string;
  /** Path of the prebuilt bundle of workflows/index.ts, for worker processes (SLUICE_WORKFLOW_BUNDLE). */
  workflowBundle: string;
  client: Client;
  /** Keeps bundleWorkflowCode quiet except for warnings. */
  bundlerLogger: typeof quietLogger;
  /** Progress, on stderr. */
  log(msg: string): void;
  /** Figures, on stdout. */
  print(line: string): void;
  /** Runs when the benchmark ends (last registered first), or on Ctrl-C. */
  onCleanup(fn: () => Promise<unknown> | unknown): void;
}

export interface Benchmark {
  name: string;
  description: string;
  run(ctx: BenchContext): Promise<void>;
}

const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => log(m),
  error: (m: string) => log(m),
};

/** Cleanups still to run, last first: the benchmark's own, then the shared services. */
const cleanups: { what: string; fn: () => Promise<unknown> | unknown }[] = [];

async function runCleanups(): Promise<void> {
  while (cleanups.length) {
    const c = cleanups.pop()!;
    try {
      await c.fn();
    } catch (e) {
      log(`cleanup (${c.what}): ${(e as Error).message}`);
    }
  }
}

/** Files in bench/ that export a `benchmark`, optionally filtered by name. */
async function discover(filter: string[]): Promise<Benchmark[]> {
  const dir = path.join(projectRoot, 'bench');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'run.ts')
    .filter((f) => /^export const benchmark\b/m.test(fs.readFileSync(path.join(dir, f), 'utf8')))
    .sort();
  const out: Benchmark[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as { benchmark?: Benchmark };
    if (!mod.benchmark) throw new Error(`bench/${f}: \`benchmark\` is not exported`);
    if (!filter.length || filter.some((x) => mod.benchmark!.name.includes(x) || f.includes(x))) out.push(mod.benchmark);
  }
  return out;
}

/**
 * Calls `fn` with os.tmpdir() pointing into `dir` while its synchronous part runs: the helpers make
 * their temporary directories (SQLite file, PostgreSQL cluster) first thing, so they land in our
 * own directory and go with it. Restored before any child process inherits the environment.
 */
function insideTmp<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  // Before any worker connection: quiet Temporal's own logs, and leave signals to us.
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });

  const benchmarks = await discover(process.argv.slice(2));
  if (!benchmarks.length) throw new Error(`no benchmark matches ${process.argv.slice(2).join(' ')}`);
  await setup({ minio: false, postgres: true });

  const home = tempDir('bench');
  cleanups.push({ what: 'temp dir', fn: () => fs.rmSync(home, { recursive: true, force: true }) });
  log('starting Temporal and PostgreSQL, bundling the workflows');
  const bundlePath = path.join(home, 'workflow-bundle.js');
  const [temporal, pg, bundled] = await Promise.allSettled([
    insideTmp(home, useTemporal),
    insideTmp(home, usePostgres),
    bundleWorkflowCode({ workflowsPath: path.join(projectRoot, 'workflows', 'index.ts'), logger: quietLogger }).then(({ code }) => fs.writeFileSync(bundlePath, code)),
  ]);
  // Whatever did start is stopped, even when something else failed.
  if (temporal.status === 'fulfilled') cleanups.push({ what: 'Temporal', fn: () => temporal.value.stop() });
  if (pg.status === 'fulfilled') cleanups.push({ what: 'PostgreSQL', fn: () => pg.value.stop() });
  for (const r of [temporal, pg, bundled]) if (r.status === 'rejected') throw r.reason;
  if (temporal.status !== 'fulfilled' || pg.status !== 'fulfilled') throw new Error('unreachable');
  process.env.SLUICE_WORKFLOW_BUNDLE = bundlePath;

  const client = await temporalClient(temporal.value.address);
  cleanups.push({ what: 'Temporal client', fn: () => client.connection.close() });

  let failed = 0;
  for (const b of benchmarks) {
    if (stopping) break;
    log(`${b.name}: ${b.description}`);
    const mark = cleanups.length;
    const ctx: BenchContext = {
      temporalAddress: temporal.value.address,
      databaseUrl: pg.value.url,
      workflowBundle: bundlePath,
      client,
      bundlerLogger: quietLogger,
      log: (m) => log(`${b.name}: ${m}`),
      print: (line) => process.stdout.write(`${line}\n`),
      onCleanup: (fn) => void cleanups.push({ what: b.name, fn }),
    };
    const t0 = Date.now();
    try {
      await b.run(ctx);
    } catch (e) {
      failed++;
      if (!stopping) log(`${b.name} failed: ${(e as Error).stack ?? e}`);
    } finally {
      // The benchmark's own cleanups only; the shared services stay for the next one.
      const own = cleanups.splice(mark);
      while (own.length) {
        const c = own.pop()!;
        await Promise.resolve()
          .then(c.fn)
          .catch((e) => log(`cleanup (${c.what}): ${(e as Error).message}`));
      }
    }
    if (!stopping) log(`${b.name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
  await cleanUpOnce();
  log(`all done in ${((Date.now() - started) / 1000).toFixed(1)} s (${os.cpus().length} cores, node ${process.version})`);
  return failed ? 1 : 0;
}

let stopping = false;
let cleaning: Promise<void> | undefined;
const cleanUpOnce = () => (cleaning ??= runCleanups());

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping what was started`);
    // What is still running fails once its services go: that is expected now, not news.
    process.on('unhandledRejection', () => undefined);
    process.on('uncaughtException', () => undefined);
    // Services run in their own process groups; process.exit also SIGKILLs any left (infra/stack/process).
    void cleanUpOnce().finally(() => process.exit(130));
  });
}

main().then(
  (code) => cleanUpOnce().then(() => process.exit(stopping ? 130 : code)),
  (e) => {
    if (!stopping) process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
    void cleanUpOnce().finally(() => process.exit(stopping ? 130 : 1));
  },
);
