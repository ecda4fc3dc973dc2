import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { openArtifactStore } from '../../infra/artifacts';
import { loadConfig, readUiToken, type SluiceConfig } from '../../infra/config';
import { migrate } from '../../infra/db/migrate';
import { createPool } from '../../infra/db/pool';
import { createLogger } from '../../infra/log';
import { resolveDatabaseUrl } from '../../infra/stack/database-url';
import { runStateQuery } from '../../pipelines/dsl/messages';
import { readRunState } from '../../pipelines/dsl/protocol';
import type { ConsoleActions } from '../../console/deps';
import { createConsole, serveConsole } from '../../console/server';
import { defaultActor } from '../actor';
import { connectClient } from '../client';
import { monitorStatus } from '../monitor';
import { listSchedules } from '../schedules';
import { cliCatalogue } from '../pipelines';
import { sendApproval } from './approve';
import { rollbackChampion } from './models';
import { retrainNow } from './monitor';
import { rolloutStatus } from './rollout';
import { startRun } from './run';

/**
 * `sluice ui`: the web console. This is where its actions are wired to the CLI's own code paths:
 * a start is `sluice run`'s startRun (params checked against the pipeline's schema first), an
 * approval is `sluice approve`'s update, a retrain `sluice retrain`'s retrainNow, a rollback
 * `sluice models rollback`'s rollbackChampion. The Temporal client connects on first use, so the read
 * pages work while Temporal is down.
 */

export interface RunningConsole {
  url: string;
  close(): Promise<void>;
}

export function temporalActions(config: SluiceConfig): ConsoleActions & { close(): Promise<void> } {
  let client: Promise<Client> | undefined;
  // After a failed connection, pages do not wait on Temporal again for a while (they show the database's view).
  let down: { until: number; error: Error } | undefined;
  const connect = () => {
    if (down && Date.now() < down.until) return Promise.reject(down.error);
    client ??= connectClient(config).catch((e: Error) => {
      client = undefined; // try again after the pause
      down = { until: Date.now() + 15_000, error: e };
      throw e;
    });
    return client;
  };
  return {
    async startRun(pipeline, params) {
      const r = await startRun(await connect(), config, pipeline, { params: params as never });
      return { workflowId: r.workflowId, runId: r.runId };
    },
    async approve(workflowId, req) {
      return sendApproval(await connect(), workflowId, req);
    },
    async runState(workflowId, runId) {
      // The run's current execution, not its first: a long pipeline continues as new, and the
      // first execution, closed at the hand-over, would answer with its state then. While the run
      // is open no other execution of its workflow id can be.
      const state = await (await connect()).workflow.getHandle(workflowId, undefined, { firstExecutionRunId: runId }).query(runStateQuery);
      return readRunState(state);
    },
    async retrain(model, req) {
      return retrainNow(await connect(), model, req);
    },
    async monitorStatus(model) {
      return monitorStatus(await connect(), model);
    },
    async rolloutStatus(model) {
      return rolloutStatus(await connect(), model);
    },
    async schedules(pipeline) {
      const all = await listSchedules(await connect());
      return all.filter((s) => s.pipeline === pipeline).map((s) => ({ id: s.id, cron: s.cron, paused: s.paused, note: s.note, nextRuns: s.nextRuns }));
    },
    async close() {
      if (client) await (await client.catch(() => undefined))?.connection.close();
    },
  };
}

/** Opens the database (migrated), the artifact store and the catalogue, and serves the console. */
export async function startConsole(config: SluiceConfig, o: { temporalUiUrl?: string | undefined; port?: number } = {}): Promise<RunningConsole> {
  const token = readUiToken(config);
  const db = createPool(await resolveDatabaseUrl(config), { max: 8, application: 'sluice-console' });
  try {
    await migrate(db);
    const [store, catalogue] = await Promise.all([openArtifactStore(config.artifacts), cliCatalogue()]);
    // The rollback is the registry's, on the console's own pool.
    const actions = { ...temporalActions(config), rollbackChampion: (model: string, by: { actor: string; reason: string }) => rollbackChampion(db, model, by) };
    const app = await createConsole({
      db,
      store,
      catalogue,
      actions,
      defaultActor: defaultActor(),
      temporalUi: { url: o.temporalUiUrl ?? config.ui.temporalUiUrl, namespace: config.temporal.namespace },
      token,
    }, { log: createLogger({ component: 'console' }, config.logLevel) });
    const url = await serveConsole(app, { host: config.ui.host, port: o.port ?? config.ui.port, token });
    return {
      url,
      close: async () => {
        await app.close();
        await actions.close();
        await db.end();
      },
    };
  } catch (e) {
    await db.end();
    throw e;
  }
}

export function registerUiCommand(program: Command): void {
  program
    .command('ui')
    .description('the web console: pipelines, runs (live DAG), models, datasets, drift, reports, rollouts (SLUICE_UI_HOST:SLUICE_UI_PORT)')
    .option('--port <port>', 'port (default: SLUICE_UI_PORT, 8234)')
    .action(async (o: { port?: string }) => {
      const config = loadConfig();
      const running = await startConsole(config, { ...(o.port ? { port: Number(o.port) } : {}) });
      console.log(`Sluice console on ${running.url} (Ctrl-C stops it)`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await running.close();
    });
}
