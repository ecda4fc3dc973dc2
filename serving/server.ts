import type { FastifyInstance } from 'fastify';
import { openArtifactStore } from '../infra/artifacts';
import { parseDuration, readServeToken, type SluiceConfig } from '../infra/config';
import { migrate } from '../infra/db/migrate';
import { createPool, type Db } from '../infra/db/pool';
import { createLogger, type Logger } from '../infra/log';
import { buildServingApp } from './app';
import { ServingInference } from './inference';
import { listenForRoutes } from './listener';
import { servingMetrics } from './metrics';
import { ModelVersions } from './models';
import { Predictor } from './predict';
import { DEFAULT_LOG_OPTIONS, PredictionLog, type PredictionLogOptions } from './prediction-log';
import { Router } from './router';

/**
 * The serving process, composed: database pool, artifact store, inference threads, model
 * versions, router (with its LISTEN connection), prediction log and the HTTP app. `sluice serve`
 * and `sluice up` start it; tests start several on one database.
 */

export interface ServeOptions {
  databaseUrl: string;
  artifacts: SluiceConfig['artifacts'];
  host: string;
  /** 0: any free port. */
  port: number;
  token?: string | undefined;
  rateLimit: number;
  batchRows: number;
  batchWaitMs: number;
  /** Inference threads (default 1: on a small machine the event loop needs the other core). */
  threads?: number;
  predictionLog?: Partial<PredictionLogOptions>;
  /** Apply pending migrations at start (default true, as workers do). */
  migrate?: boolean;
  log?: Logger;
}

export interface ServingServer {
  url: string;
  app: FastifyInstance;
  db: Db;
  router: Router;
  predictor: Predictor;
  predictionLog: PredictionLog;
  close(): Promise<void>;
}

/** The serving options from Sluice's configuration (SLUICE_SERVE_*; the token from the variable SLUICE_SERVE_TOKEN_ENV names). */
export function serveOptions(config: SluiceConfig, databaseUrl: string): ServeOptions {
  return {
    databaseUrl,
    artifacts: config.artifacts,
    host: config.serve.host,
    port: config.serve.port,
    token: readServeToken(config),
    rateLimit: config.serve.rateLimit,
    batchRows: config.serve.batchRows,
    batchWaitMs: parseDuration(config.serve.batchWait),
  };
}

export async function startServing(o: ServeOptions): Promise<ServingServer> {
  const log = o.log ?? createLogger({ component: 'serve' });
  const db = createPool(o.databaseUrl, { max: 4, application: 'sluice-serve', log });
  const closers: (() => Promise<unknown>)[] = [() => db.end()];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) await c().catch((e: Error) => log.warn('while stopping', { error: e.message }));
  };
  try {
    if (o.migrate ?? true) await migrate(db);
    const store = await openArtifactStore(o.artifacts);
    const metrics = servingMetrics();
    const inference = new ServingInference(o.threads ?? 1);
    closers.push(() => inference.close());
    const versions = new ModelVersions({
      db,
      store,
      inference,
      batching: { maxRows: o.batchRows, maxWaitMs: o.batchWaitMs, onBatch: (n) => metrics.batchRows.observe(n) },
      onLookup: (n) => metrics.lookupKeys.observe(n),
    });
    const router = new Router(db, versions, log);
    closers.push(async () => router.close());
    const listener = listenForRoutes(o.databaseUrl, { change: (m) => void router.reload(m), resync: () => void router.reloadAll() }, log);
    closers.push(() => listener.close());
    const predictionLog = new PredictionLog(db, log, { ...DEFAULT_LOG_OPTIONS, ...o.predictionLog, onDropped: (n) => metrics.logDropped.inc(n) });
    closers.push(() => predictionLog.close());
    let ready = false;
    const predictor = new Predictor(router, predictionLog, metrics, log);
    const app = await buildServingApp({ db, router, predictor, metrics, log, token: o.token, rateLimit: o.rateLimit, ready: () => ready });
    closers.push(() => app.close());
    await Promise.all([inference.ready(), listener.ready]);
    ready = true;
    const address = await app.listen({ host: o.host, port: o.port });
    log.info('serving', { url: address, auth: o.token ? 'bearer token' : 'none', rateLimit: o.rateLimit || 'off' });
    return { url: address, app, db, router, predictor, predictionLog, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
