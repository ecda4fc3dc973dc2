import { execFileSync } from 'node:child_process';
import { projectRoot } from '../../infra/paths';

/**
 * The code version recorded with a model version: `SLUICE_CODE_VERSION` when set (images built
 * without their .git set it at build time), else `git rev-parse HEAD` in the project, else null.
 * Read at each registration (a dev worker's checkout can move while it runs).
 */
export function resolveCodeVersion(env: NodeJS.ProcessEnv = process.env, cwd: string = projectRoot): string | null {
  const fromEnv = env.SLUICE_CODE_VERSION?.trim();
  if (fromEnv) return fromEnv.slice(0, 200);
  try {
    const out = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', timeout: 5_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return /^[0-9a-f]{40,64}$/.test(out) ? out : null;
  } catch {
    return null;
  }
}
