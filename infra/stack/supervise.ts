import type { ChildProcess } from 'node:child_process';
import { stopChild, type Service } from './process';

/**
 * Keeps a long-running child process (a worker under `sluice up`) alive: when it exits on its
 * own it is started again after a delay that doubles with each crash in a row (capped), and every
 * exit is said out loud, so a dead worker never stalls runs silently. A process that keeps dying
 * soon after starting (a bad configuration, a broken build) is given up on after a few tries,
 * with a message saying so and where its log is, instead of restarting forever.
 */
export interface SuperviseOptions {
  /** What the messages call the service ("cpu worker"). Default: its name. */
  what?: string;
  /** Writes one line for people (`sluice up`'s terminal). */
  log: (msg: string) => void;
  /** Where the service's own output goes, named when giving up. */
  logFile?: string;
  /** Delay before the first restart; doubles with every fast crash in a row. Default 1 s. */
  initialDelayMs?: number;
  /** The most a restart waits. Default 30 s. */
  maxDelayMs?: number;
  /** A run shorter than this is a fast crash; a longer one resets the backoff. Default 60 s. */
  stableAfterMs?: number;
  /** Fast crashes in a row after which supervision gives up. Default 5. */
  maxFastCrashes?: number;
  /** Called after each restart with the new process (tests, readiness waits). */
  onRestart?: (svc: Service) => void;
}

export interface SupervisedService extends Service {
  /** How many times the service was started again. */
  readonly restarts: number;
  /** True once supervision gave up after too many fast crashes. */
  readonly gaveUp: boolean;
}

export function supervise(start: () => Service, opts: SuperviseOptions): SupervisedService {
  const initial = opts.initialDelayMs ?? 1_000;
  const max = opts.maxDelayMs ?? 30_000;
  const stableAfter = opts.stableAfterMs ?? 60_000;
  const maxFast = opts.maxFastCrashes ?? 5;
  let current = start();
  let startedAt = Date.now();
  let fastCrashes = 0;
  let restarts = 0;
  let gaveUp = false;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  const what = () => opts.what ?? current.name;

  const watch = (child: ChildProcess) => {
    child.once('exit', (code, signal) => {
      if (stopping) return;
      const ran = Date.now() - startedAt;
      fastCrashes = ran < stableAfter ? fastCrashes + 1 : 1;
      const how = code !== null ? `with code ${code}` : `on signal ${signal}`;
      if (fastCrashes > maxFast) {
        gaveUp = true;
        opts.log(`${what()} exited ${how}; it crashed ${fastCrashes} times in a row within ${seconds(stableAfter)} of starting, so it is not restarted again${opts.logFile ? ` (log: ${opts.logFile})` : ''}`);
        return;
      }
      const delay = Math.min(max, initial * 2 ** (fastCrashes - 1));
      opts.log(`${what()} exited ${how}; restarting in ${seconds(delay)}`);
      timer = setTimeout(() => {
        timer = undefined;
        if (stopping) return;
        current = start();
        startedAt = Date.now();
        restarts++;
        watch(current.child);
        opts.onRestart?.(current);
      }, delay);
    });
  };
  watch(current.child);

  return {
    get name() {
      return current.name;
    },
    get child() {
      return current.child;
    },
    get restarts() {
      return restarts;
    },
    get gaveUp() {
      return gaveUp;
    },
    async stop(graceMs?: number) {
      stopping = true;
      if (timer) clearTimeout(timer);
      await stopChild(current.child, graceMs);
    },
  };
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))}s`;
}
