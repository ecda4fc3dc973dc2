import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Client, Connection } from '@temporalio/client';
import { startEmbeddedPostgres } from '../../infra/setup/postgres';
import { freePort, startService, waitForPort, type Service } from '../../infra/stack/process';
import { startTemporalDevServer } from '../../infra/stack/temporal-server';
import { projectRoot } from '../../infra/paths';
import { loadConfig, type SluiceConfig } from '../../infra/config';

/**
 * Real services for integration tests. `npm test` (test/run.ts) starts one Temporal dev server,
 * one PostgreSQL and one MinIO for the whole run and passes their addresses in SLUICE_TEST_*;
 * a test file run on its own starts its own. Each test file gets its own database and its own
 * task queues, so files never see each other's rows or steal each other's tasks.
 */

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `sluice-${prefix}-`));
  fs.chmodSync(dir, 0o755); // PostgreSQL runs as another user when we are root
  return dir;
}

export const uniqueId = (prefix = 't') => `${prefix}${randomBytes(4).toString('hex')}`;

export async function useTemporal(): Promise<{ address: string; stop(): Promise<void> }> {
  const existing = process.env.SLUICE_TEST_TEMPORAL_ADDRESS;
  if (existing) return { address: existing, stop: async () => undefined };
  const home = tempDir('temporal');
  const server = await startTemporalDevServer({ dbFile: path.join(home, 'dev.db'), logFile: path.join(home, 'temporal.log'), port: await freePort(), headless: true });
  return { address: server.address, stop: () => server.service.stop() };
}

/** A fresh database on the shared server (or on a server of our own). */
export async function usePostgres(): Promise<{ url: string; stop(): Promise<void> }> {
  let adminUrl = process.env.SLUICE_TEST_DATABASE_URL;
  let stopServer = async () => undefined as void;
  if (!adminUrl) {
    const server = await startEmbeddedPostgres(tempDir('pg'));
    adminUrl = server.url;
    stopServer = server.stop;
  }
  const name = uniqueId('test_');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    stop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await c.end();
      await stopServer();
    },
  };
}

export async function temporalClient(address: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection });
}

export interface TestWorkers {
  env: NodeJS.ProcessEnv;
  config: SluiceConfig;
  home: string;
  cpu?: Service;
  gpu?: Service;
  startWorker(kind: 'cpu' | 'gpu'): Promise<Service>;
  stop(): Promise<void>;
}

/**
 * Real worker processes (workers/cpu.ts, workers/gpu.ts) on queues of their own, so a test can
 * SIGKILL one and start another, exactly as in production.
 */
export async function startTestWorkers(opts: {
  temporalAddress: string;
  databaseUrl: string;
  kinds?: ('cpu' | 'gpu')[];
  env?: NodeJS.ProcessEnv;
}): Promise<TestWorkers> {
  const home = tempDir('home');
  const q = uniqueId('q');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: opts.temporalAddress,
    DATABASE_URL: opts.databaseUrl,
    SLUICE_HOME: home,
    SLUICE_ARTIFACT_URL: `file://${path.join(home, 'artifacts')}`,
    SLUICE_WORKFLOW_QUEUE: q,
    SLUICE_CPU_QUEUE: `${q}-cpu`,
    SLUICE_GPU_QUEUE: `${q}-gpu`,
    SLUICE_CPU_METRICS_PORT: String(await freePort()),
    SLUICE_GPU_METRICS_PORT: String(await freePort()),
    SLUICE_SHUTDOWN_GRACE: '2s',
    SLUICE_LOG_LEVEL: 'warn',
    // File sources read only under the data roots: the project's directory (vega-datasets) and
    // the temporary directory where tests write the files they ingest (tempDir()).
    SLUICE_DATA_ROOTS: [projectRoot, os.tmpdir()].join(':'),
    ...opts.env,
  };
  const config = loadConfig(env);
  const running: Service[] = [];
  const result: TestWorkers = {
    env,
    config,
    home,
    async startWorker(kind) {
      const logFile = path.join(home, `worker-${kind}.log`);
      const svc = startService(`${kind}-worker`, process.execPath, ['--import', 'tsx', path.join(projectRoot, 'workers', `${kind}.ts`)], { env, cwd: projectRoot, logFile });
      running.push(svc);
      const port = kind === 'cpu' ? config.metricsPorts.cpu : config.metricsPorts.gpu;
      await waitForPort(port, { child: svc.child, what: `${kind} worker (log ${logFile}: ${tail(logFile)})`, timeoutMs: 120_000 });
      result[kind] = svc;
      return svc;
    },
    async stop() {
      await Promise.all(running.map((s) => s.stop(5_000)));
    },
  };
  for (const kind of opts.kinds ?? ['cpu', 'gpu']) await result.startWorker(kind);
  return result;
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

export interface TestStack {
  temporal: { address: string; stop(): Promise<void> };
  pg: { url: string; stop(): Promise<void> };
  workers: TestWorkers;
  client: Client;
  db: import('../../infra/db/pool').Db;
  stop(): Promise<void>;
}

/**
 * Everything an integration test file needs: Temporal, a database of its own, real worker
 * processes on queues of their own, a client and a pool. `stop()` undoes it all.
 */
export async function startTestStack(opts: { kinds?: ('cpu' | 'gpu')[]; env?: NodeJS.ProcessEnv } = {}): Promise<TestStack> {
  const { createPool } = await import('../../infra/db/pool');
  const [temporal, pg] = await Promise.all([useTemporal(), usePostgres()]);
  const workers = await startTestWorkers({ temporalAddress: temporal.address, databaseUrl: pg.url, ...opts });
  const client = await temporalClient(temporal.address);
  const db = createPool(pg.url);
  return {
    temporal,
    pg,
    workers,
    client,
    db,
    async stop() {
      await workers.stop();
      await client.connection.close();
      await db.end();
      await pg.stop();
      await temporal.stop();
    },
  };
}
