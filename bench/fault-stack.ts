import fs from 'node:fs';
import path from 'node:path';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../infra/setup/postgres';
import { freePort } from '../infra/stack/process';
import { startTemporalDevServer, type TemporalDevServer } from '../infra/stack/temporal-server';
import { startTestWorkers, type TestWorkers } from '../test/helpers/stack';

/**
 * The pieces the fault campaign (bench/faults.ts) breaks, all its own (the bench's shared Temporal
 * and PostgreSQL must not be killed under other benchmarks): a Temporal dev server on a SQLite
 * file, an embedded PostgreSQL cluster, and a CPU and a GPU worker process. Each can be killed and
 * brought back as in production: Temporal on the same port and file, PostgreSQL on the same port
 * and data directory, workers restarted after a second, as `sluice up` supervises them. A worker
 * that dies without being killed is restarted too, and counted: that is a finding.
 */
export type WorkerKind = 'cpu' | 'gpu';

export interface FaultStack {
  readonly temporalAddress: string;
  readonly databaseUrl: string;
  readonly workers: TestWorkers;
  /** Worker exits the campaign did not cause (crashes), by kind. */
  readonly crashes: Record<WorkerKind, number>;
  /** SIGKILL the worker's process; it is restarted a second later (or on `release()` when held): see `workersUp()`. */
  killWorker(kind: WorkerKind): Promise<void>;
  /** kill -9 the Temporal server. */
  killTemporal(): Promise<void>;
  startTemporal(): Promise<void>;
  /** pg_ctl stop (fast): connections are cut. */
  stopPostgres(): Promise<void>;
  startPostgres(): Promise<void>;
  /** Restarts of dead workers wait until `release()`: for outages where they could not start (no database, no Temporal). */
  hold(): void;
  release(): void;
  /** Resolves when no worker is down or restarting. */
  workersUp(): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startFaultStack(home: string, workerEnv: NodeJS.ProcessEnv, log: (m: string) => void): Promise<FaultStack> {
  const temporalOpts = { dbFile: path.join(home, 'temporal', 'dev.db'), logFile: path.join(home, 'temporal.log'), port: await freePort(), headless: true };
  fs.mkdirSync(path.join(home, 'pg'), { recursive: true, mode: 0o755 });
  let temporal: TemporalDevServer;
  let pg: EmbeddedPostgres;
  [temporal, pg] = await Promise.all([startTemporalDevServer(temporalOpts), startEmbeddedPostgres(path.join(home, 'pg'))]);
  const pgPort = pg.port;
  const workers = await startTestWorkers({ temporalAddress: temporal.address, databaseUrl: pg.url, env: workerEnv });

  let stopping = false;
  const killed = new Set<number>();
  const crashes: Record<WorkerKind, number> = { cpu: 0, gpu: 0 };
  const restarting = new Map<WorkerKind, Promise<void>>();
  // As `sluice up` supervises (infra/stack/supervise.ts): a worker that keeps dying soon after
  // starting (say, it refuses the database's migrations) is restarted ever more slowly, then given up.
  const fastCrashes: Record<WorkerKind, number> = { cpu: 0, gpu: 0 };
  const startedAt: Record<WorkerKind, number> = { cpu: Date.now(), gpu: Date.now() };
  let held: { promise: Promise<void>; release: () => void } | undefined;

  const restart = async (kind: WorkerKind, delayMs: number) => {
    await sleep(delayMs);
    for (let tries = 1; !stopping; tries++) {
      await held?.promise;
      if (stopping) return;
      try {
        watch(kind, await workers.startWorker(kind));
        startedAt[kind] = Date.now();
        return;
      } catch (e) {
        log(`${kind} worker did not start (try ${tries}): ${(e as Error).message.split('\n')[0]}`);
        await sleep(Math.min(10_000, 1_000 * 2 ** tries));
      }
    }
  };
  const watch = (kind: WorkerKind, svc: { child: import('node:child_process').ChildProcess }) => {
    svc.child.once('exit', (code, signal) => {
      if (stopping) return;
      let delay = 1_000;
      if (!killed.delete(svc.child.pid!)) {
        crashes[kind]++;
        fastCrashes[kind] = Date.now() - startedAt[kind] < 60_000 ? fastCrashes[kind] + 1 : 1;
        const logFile = path.join(workers.home, `worker-${kind}.log`);
        if (fastCrashes[kind] > 5) {
          log(`${kind} worker exited by itself (${code !== null ? `code ${code}` : signal}) ${fastCrashes[kind]} times in a row soon after starting; not restarting it (log: ${logFile})`);
          return;
        }
        delay = Math.min(30_000, 1_000 * 2 ** (fastCrashes[kind] - 1));
        log(`${kind} worker exited by itself (${code !== null ? `code ${code}` : signal}); restarting it in ${delay / 1000} s (log: ${logFile})`);
      }
      const p = restart(kind, delay).finally(() => restarting.delete(kind));
      restarting.set(kind, p);
    });
  };
  for (const kind of ['cpu', 'gpu'] as const) watch(kind, workers[kind]!);

  /** The service's whole process group (its own, see infra/stack/process.ts). */
  const killGroup = async (child: import('node:child_process').ChildProcess) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
    await gone;
  };

  return {
    temporalAddress: temporal.address,
    databaseUrl: pg.url,
    workers,
    crashes,
    async killWorker(kind) {
      const child = workers[kind]!.child;
      killed.add(child.pid!);
      await killGroup(child);
    },
    async killTemporal() {
      await killGroup(temporal.service.child);
    },
    async startTemporal() {
      temporal = await startTemporalDevServer(temporalOpts);
    },
    async stopPostgres() {
      await pg.stop();
    },
    async startPostgres() {
      pg = await startEmbeddedPostgres(path.join(home, 'pg'));
      if (pg.port !== pgPort) throw new Error(`PostgreSQL came back on port ${pg.port}, not ${pgPort}: the workers cannot find it`);
    },
    hold() {
      let release!: () => void;
      const promise = new Promise<void>((r) => (release = r));
      held = { promise, release };
    },
    release() {
      held?.release();
      held = undefined;
    },
    async workersUp() {
      while (restarting.size) await Promise.all(restarting.values());
    },
    async stop() {
      stopping = true;
      held?.release();
      await workers.stop();
      await temporal.service.stop(5_000);
      await pg.stop();
      fs.rmSync(workers.home, { recursive: true, force: true });
    },
  };
}
