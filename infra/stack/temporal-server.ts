import fs from 'node:fs';
import path from 'node:path';
import { ensureTemporalCli } from '../setup/temporal-cli';
import { startService, waitForPort, type Service } from './process';
import { SEARCH_ATTRIBUTES } from './search-attributes';

export interface TemporalDevServer {
  address: string;
  uiUrl: string | undefined;
  service: Service;
}

/**
 * The `temporal server start-dev` server with a SQLite file, so workflow history survives a
 * restart, and Sluice's search attributes registered at start.
 */
export async function startTemporalDevServer(opts: {
  dbFile: string;
  logFile: string;
  port: number;
  uiPort?: number;
  headless?: boolean;
  namespace?: string;
}): Promise<TemporalDevServer> {
  const bin = await ensureTemporalCli();
  fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const args = [
    'server', 'start-dev',
    '--db-filename', opts.dbFile,
    '--ip', '127.0.0.1',
    '--port', String(opts.port),
    '--log-level', 'warn',
  ];
  if (opts.namespace && opts.namespace !== 'default') args.push('--namespace', opts.namespace);
  if (opts.headless) args.push('--headless');
  else if (opts.uiPort) args.push('--ui-port', String(opts.uiPort));
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  const service = startService('temporal', bin, args, { logFile: opts.logFile });
  await waitForPort(opts.port, { child: service.child, what: `Temporal dev server (log: ${opts.logFile})`, timeoutMs: 60_000 });
  if (!opts.headless && opts.uiPort) {
    await waitForPort(opts.uiPort, { child: service.child, what: 'Temporal UI', timeoutMs: 30_000 });
  }
  return {
    address: `127.0.0.1:${opts.port}`,
    uiUrl: opts.headless || !opts.uiPort ? undefined : `http://127.0.0.1:${opts.uiPort}`,
    service,
  };
}
