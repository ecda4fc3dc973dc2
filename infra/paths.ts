import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: everything project-local (.sluice/, migrations) hangs off it. */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Project-local state: embedded PostgreSQL cluster, Temporal's SQLite file, local artifacts. */
export function sluiceHome(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.SLUICE_HOME ?? path.join(projectRoot, '.sluice'));
}

/**
 * User-level cache for downloaded or built binaries (Temporal CLI, MinIO).
 * Lives outside the clone so a fresh clone on the same machine (as CI makes) reuses them.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.SLUICE_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'sluice'));
}

export const migrationsDir = path.join(projectRoot, 'infra', 'migrations');
