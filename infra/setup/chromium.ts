import fs from 'node:fs';
import { run } from '../stack/process';

/**
 * Chromium for the browser tests (driven by playwright-core, which never downloads a browser of its
 * own here): Debian's `chromium` package at /usr/bin/chromium, or CHROMIUM_PATH. When it is missing
 * and we are root, apt installs it; otherwise the error says what to do.
 */

export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

const log = (msg: string) => process.stderr.write(`[setup] ${msg}\n`);

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The browser, if it is there: CHROMIUM_PATH when set, else Debian's. */
export function findChromium(): string | undefined {
  const explicit = process.env.CHROMIUM_PATH;
  if (explicit) return isExecutable(explicit) ? explicit : undefined;
  return isExecutable(DEFAULT_CHROMIUM_PATH) ? DEFAULT_CHROMIUM_PATH : undefined;
}

export async function ensureChromium(): Promise<string> {
  const found = findChromium();
  if (found) return found;
  if (process.env.CHROMIUM_PATH) {
    throw new Error(`CHROMIUM_PATH=${process.env.CHROMIUM_PATH} is not an executable file; point it at a Chromium binary or unset it to use ${DEFAULT_CHROMIUM_PATH}`);
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    throw new Error(
      `Chromium not found at ${DEFAULT_CHROMIUM_PATH}. Install Debian's package (sudo apt-get install -y chromium) ` +
        `or set CHROMIUM_PATH to a Chromium binary; the browser tests need it.`,
    );
  }
  log('installing Chromium from Debian packages (apt-get install -y chromium)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['update'], { env });
    await run('apt-get', ['install', '-y', 'chromium'], { env });
  } catch (e) {
    throw new Error(`could not install Chromium with apt-get: ${(e as Error).message.split('\n').slice(0, 5).join(' ')}`);
  }
  const installed = findChromium();
  if (!installed) throw new Error(`apt-get installed chromium but ${DEFAULT_CHROMIUM_PATH} is still missing`);
  return installed;
}
