import { ensureChromium } from '../../infra/setup/chromium';
import { ensureMinioBinary } from '../../infra/setup/minio';
import { ensurePgBinaries } from '../../infra/setup/postgres';
import { ensureTemporalCli } from '../../infra/setup/temporal-cli';

export interface SetupOptions {
  minio: boolean;
  postgres: boolean;
  chromium?: boolean;
}

/** Idempotent: each piece is found in the cache (or on the system) before anything is fetched. */
export async function setup(opts: SetupOptions): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  found.temporal = await ensureTemporalCli();
  if (opts.postgres) found.postgres = await ensurePgBinaries();
  if (opts.minio) found.minio = await ensureMinioBinary();
  if (opts.chromium) found.chromium = await ensureChromium();
  return found;
}
