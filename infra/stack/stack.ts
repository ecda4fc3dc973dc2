import fs from 'node:fs';
import path from 'node:path';
import type { SluiceConfig } from '../config';
import { createPool } from '../db/pool';
import { migrate } from '../db/migrate';
import { projectRoot } from '../paths';
import { startEmbeddedPostgres } from '../setup/postgres';
import { isPortOpen, startService, waitForPort, type Service } from './process';
import { supervise } from './supervise';
import { startTemporalDevServer } from './temporal-server';
import { QUEUES, type Queue } from '../../pipelines/vocab/queue';

export interface StackOptions {
  config: SluiceConfig;
  /** Temporal UI port for the dev server (0: headless). */
  uiPort?: number;
  workers?: Queue[];
  /** Extra environment for the worker processes. */
  workerEnv?: NodeJS.ProcessEnv;
  log?: (msg: string) => void;
}

export interface Stack {
  temporalAddress: string;
  uiUrl: string | undefined;
  databaseUrl: string;
  workers: Map<Queue, Service>;
  /** Environment a process needs to talk to this stack (what `sluice up` hands its workers). */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/**
 * Starts what is not already running: the Temporal dev server (its SQLite file under
 * <home>/temporal, so data survives restarts), PostgreSQL (embedded unless DATABASE_URL is set),
 * migrations, and the workers as child processes. `stop()` undoes exactly what this call started.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const { config } = opts;
  const log = opts.log ?? ((m: string) => process.stderr.write(`[sluice] ${m}\n`));
  const logs = path.join(config.home, 'logs');
  fs.mkdirSync(logs, { recursive: true });
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch((e) => log(`stop failed: ${(e as Error).message}`));
    stops.length = 0;
  };
  try {
    // Temporal
    const [host, portText] = config.temporal.address.split(':') as [string, string];
    const port = Number(portText);
    let uiUrl: string | undefined;
    const local = ['localhost', '127.0.0.1'].includes(host);
    if (await isPortOpen(port, host === 'localhost' ? '127.0.0.1' : host)) {
      log(`Temporal already listening at ${config.temporal.address}: using it`);
    } else if (!local) {
      throw new Error(`Temporal is not reachable at TEMPORAL_ADDRESS=${config.temporal.address}`);
    } else {
      const server = await startTemporalDevServer({
        dbFile: path.join(config.home, 'temporal', 'dev.db'),
        logFile: path.join(logs, 'temporal.log'),
        port,
        ...(opts.uiPort ? { uiPort: opts.uiPort } : { headless: true }),
        namespace: config.temporal.namespace,
      });
      stops.push(() => server.service.stop());
      uiUrl = server.uiUrl;
      log(`Temporal dev server at ${server.address}${uiUrl ? `, UI at ${uiUrl}` : ''}`);
    }

    // PostgreSQL + migrations
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres(config.home);
      if (pg.startedHere) stops.push(() => pg.stop());
      databaseUrl = pg.url;
      log(`PostgreSQL (embedded, ${path.join(config.home, 'postgres')}) at 127.0.0.1:${pg.port}`);
    }
    const db = createPool(databaseUrl, { max: 1, application: 'sluice-up' });
    try {
      const { applied } = await migrate(db);
      if (applied.length) log(`applied migrations ${applied.join(', ')}`);
    } finally {
      await db.end();
    }

    // Workers
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: config.temporal.address,
      TEMPORAL_NAMESPACE: config.temporal.namespace,
      DATABASE_URL: databaseUrl,
      SLUICE_HOME: config.home,
      ...opts.workerEnv,
    };
    const workers = new Map<Queue, Service>();
    for (const kind of opts.workers ?? QUEUES) {
      // Supervised: a worker that dies (a crash, the OOM killer) is restarted with backoff and
      // reported, instead of leaving its queue unserved and runs stalled without a word.
      const logFile = path.join(logs, `worker-${kind}.log`);
      const svc = supervise(() => startWorkerProcess(kind, env, logFile), {
        what: `${kind} worker`,
        logFile,
        log,
        onRestart: (s) => log(`${kind} worker restarted (pid ${s.child.pid})`),
      });
      workers.set(kind, svc);
      stops.push(() => svc.stop(30_000));
    }
    for (const [kind, svc] of workers) {
      const metricsPort = kind === 'cpu' ? Number(env.SLUICE_CPU_METRICS_PORT ?? config.metricsPorts.cpu) : Number(env.SLUICE_GPU_METRICS_PORT ?? config.metricsPorts.gpu);
      await waitForPort(metricsPort, { child: svc.child, what: `${kind} worker (log: ${path.join(logs, `worker-${kind}.log`)})`, timeoutMs: 120_000 });
      log(`${kind} worker started (pid ${svc.child.pid}, metrics on :${metricsPort})`);
    }
    return { temporalAddress: config.temporal.address, uiUrl, databaseUrl, workers, env, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

export function startWorkerProcess(kind: Queue, env: NodeJS.ProcessEnv, logFile: string): Service {
  return startService(`${kind}-worker`, process.execPath, ['--import', 'tsx', path.join(projectRoot, 'workers', `${kind}.ts`)], {
    env,
    cwd: projectRoot,
    logFile,
  });
}
