import os from 'node:os';

/**
 * Who the CLI acts as when a command records a person (approvals, retrain requests, registry
 * changes) and no --by is given: $SLUICE_USER, else $USER / $LOGNAME, else the OS account (cron,
 * containers and CI often run without USER), else 'unknown'. Never empty, so a decision is
 * never refused for want of a name the user was not asked for.
 */
export function defaultActor(env: NodeJS.ProcessEnv = process.env, userInfo: () => { username: string } = () => os.userInfo()): string {
  for (const v of [env.SLUICE_USER, env.USER, env.LOGNAME]) if (v?.trim()) return v.trim();
  try {
    return userInfo().username.trim() || 'unknown';
  } catch {
    return 'unknown'; // a uid with no passwd entry
  }
}

/** The --by help text of every command that records who acted. */
export const BY_HELP = 'who acts (default: $SLUICE_USER, else $USER, else the OS user)';
