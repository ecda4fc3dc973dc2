import fs from 'node:fs';
import path from 'node:path';
import type { SluiceConfig } from '../config';
import { isPortOpen } from './process';

/**
 * DATABASE_URL when set; otherwise the embedded cluster under .sluice/ if it is running
 * (started by `sluice up`). A worker started on its own thus finds the local database.
 */
export async function resolveDatabaseUrl(config: SluiceConfig): Promise<string> {
  if (config.databaseUrl) return config.databaseUrl;
  const portFile = path.join(config.home, 'postgres', 'port');
  if (fs.existsSync(portFile)) {
    const port = Number(fs.readFileSync(portFile, 'utf8'));
    if (port && (await isPortOpen(port))) return `postgres://sluice@127.0.0.1:${port}/sluice`;
  }
  throw new Error(
    `DATABASE_URL is not set and the embedded PostgreSQL under ${config.home} is not running: ` +
      'start the stack with `sluice up` (or `npm run dev`), or set DATABASE_URL.',
  );
}
