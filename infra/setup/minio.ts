import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { cacheDir } from '../paths';
import { freePort, isPortOpen, run, startService, waitForPort, type Service } from '../stack/process';

/**
 * MinIO for the S3 artifact backend, built from source with the Go toolchain and cached per version
 * under `<cacheDir>/minio/<version>/minio` (outside the clone, so every clone on the machine shares it).
 *
 * The pinned release tag comes first. Some Go module proxies refuse MinIO's RELEASE.* tags (they are
 * not semver), so a pinned pseudo-version of the same line is the fallback. The version actually
 * installed is written to `VERSION` beside the binary.
 */

export const MINIO_MODULE = 'github.com/minio/minio';
export const MINIO_RELEASE = 'RELEASE.2025-10-15T17-29-55Z';
export const MINIO_PSEUDO_VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';
/** Tried in this order; the first cached or successfully built one wins. */
export const MINIO_VERSIONS = [MINIO_RELEASE, MINIO_PSEUDO_VERSION] as const;

const LOCK_STALE_MS = 30 * 60 * 1000;

function log(msg: string): void {
  process.stderr.write(`[sluice] ${msg}\n`);
}

export function minioCacheRoot(): string {
  return path.join(cacheDir(), 'minio');
}

export function minioBinaryPath(version: string): string {
  return path.join(minioCacheRoot(), version, 'minio');
}

async function isExecutable(p: string): Promise<boolean> {
  try {
    await fsp.access(p, fs.constants.X_OK);
    return (await fsp.stat(p)).isFile();
  } catch {
    return false;
  }
}

async function cachedBinary(): Promise<string | undefined> {
  for (const v of MINIO_VERSIONS) {
    const p = minioBinaryPath(v);
    if (await isExecutable(p)) return p;
  }
  return undefined;
}

/**
 * Path of a MinIO server binary, building it on first use (a few minutes). Concurrent callers
 * (parallel test files, several clones) share one build through a lock directory.
 */
export async function ensureMinioBinary(): Promise<string> {
  const cached = await cachedBinary();
  if (cached) return cached;

  await fsp.mkdir(minioCacheRoot(), { recursive: true });
  const release = await acquireLock(path.join(minioCacheRoot(), '.build.lock'));
  try {
    // Someone else may have finished a build while we waited for the lock.
    const built = await cachedBinary();
    if (built) return built;
    await requireGo();
    const failures: string[] = [];
    for (const version of MINIO_VERSIONS) {
      try {
        return await buildMinio(version);
      } catch (err) {
        const msg = (err as Error).message;
        failures.push(`${version}: ${msg.split('\n').slice(-6).join('\n')}`);
        log(`building MinIO ${version} failed${version === MINIO_VERSIONS.at(-1) ? '' : ', trying the next pinned version'}`);
      }
    }
    throw new Error(`could not build MinIO with go install:\n${failures.join('\n\n')}`);
  } finally {
    await release();
  }
}

async function requireGo(): Promise<void> {
  try {
    await run('go', ['version']);
  } catch {
    throw new Error(
      'MinIO (for the S3 artifact store) is built from source and needs the Go toolchain, but `go` was not found on PATH. ' +
        'Install Go 1.24 or newer (https://go.dev/dl/, or your package manager, e.g. `apt-get install golang-go`), ' +
        `or put a minio binary at ${minioBinaryPath(MINIO_PSEUDO_VERSION)}.`,
    );
  }
}

async function buildMinio(version: string): Promise<string> {
  const dest = minioBinaryPath(version);
  const destDir = path.dirname(dest);
  // Build into a private directory and rename into place, so a half-built binary is never found.
  const gobin = path.join(minioCacheRoot(), `.build-${randomUUID()}`);
  await fsp.mkdir(gobin, { recursive: true });
  try {
    log(`building MinIO ${version} (takes a few minutes, cached in ${destDir})`);
    const started = Date.now();
    await run('go', ['install', `${MINIO_MODULE}@${version}`], { env: { ...process.env, GOBIN: gobin } });
    await fsp.mkdir(destDir, { recursive: true });
    await fsp.writeFile(path.join(destDir, 'VERSION'), `${MINIO_MODULE}@${version}\n`);
    await fsp.rename(path.join(gobin, 'minio'), dest);
    log(`built MinIO ${version} in ${Math.round((Date.now() - started) / 1000)} s`);
    return dest;
  } finally {
    await fsp.rm(gobin, { recursive: true, force: true });
  }
}

/** A cross-process lock: mkdir is atomic. A lock older than 30 minutes is taken to be abandoned. */
async function acquireLock(dir: string): Promise<() => Promise<void>> {
  let announced = false;
  for (;;) {
    try {
      await fsp.mkdir(dir);
      await fsp.writeFile(path.join(dir, 'pid'), String(process.pid));
      return () => fsp.rm(dir, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const st = await fsp.stat(dir).catch(() => undefined);
    const holder = await fsp.readFile(path.join(dir, 'pid'), 'utf8').catch(() => '');
    if (st && (Date.now() - st.mtimeMs > LOCK_STALE_MS || (holder && !pidAlive(Number(holder))))) {
      await fsp.rm(dir, { recursive: true, force: true });
      continue;
    }
    if (!announced) {
      log(`waiting for another process building MinIO (lock ${dir})`);
      announced = true;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface MinioServer {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  port: number;
  service: Service;
}

export interface StartMinioOptions {
  dataDir: string;
  logFile: string;
  /** Default: a free port. */
  port?: number;
  /** Default: random credentials for this start. */
  accessKey?: string;
  secretKey?: string;
  /** How long to wait for the server to report ready (default 60 s). */
  timeoutMs?: number;
}

/** Starts `minio server` on loopback and resolves once its readiness probe answers 200. */
export async function startMinio(opts: StartMinioOptions): Promise<MinioServer> {
  const bin = await ensureMinioBinary();
  const port = opts.port ?? (await freePort());
  // Otherwise the readiness probe could be answered by whatever already listens there.
  if (await isPortOpen(port)) throw new Error(`cannot start MinIO on port ${port}: something is already listening there`);
  let consolePort = await freePort();
  while (consolePort === port) consolePort = await freePort();
  const accessKey = opts.accessKey ?? `sluice-${randomBytes(6).toString('hex')}`;
  const secretKey = opts.secretKey ?? randomBytes(24).toString('hex');
  const timeoutMs = opts.timeoutMs ?? 60_000;
  await fsp.mkdir(opts.dataDir, { recursive: true });
  await fsp.mkdir(path.dirname(opts.logFile), { recursive: true });

  const service = startService(
    'minio',
    bin,
    ['server', opts.dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`],
    {
      logFile: opts.logFile,
      env: {
        ...process.env,
        MINIO_ROOT_USER: accessKey,
        MINIO_ROOT_PASSWORD: secretKey,
        MINIO_UPDATE: 'off',
      },
    },
  );
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + timeoutMs;
    await waitForPort(port, { child: service.child, timeoutMs, what: 'MinIO' });
    await waitForReady(`${endpoint}/minio/health/ready`, service, deadline);
  } catch (err) {
    await service.stop(2000);
    const tail = await fsp.readFile(opts.logFile, 'utf8').then((s) => s.slice(-2000)).catch(() => '');
    throw new Error(`${(err as Error).message}\n--- ${opts.logFile} (tail) ---\n${tail}`);
  }
  return { endpoint, accessKey, secretKey, port, service };
}

async function waitForReady(url: string, service: Service, deadline: number): Promise<void> {
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null) throw new Error(`MinIO exited with code ${service.child.exitCode} before becoming ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`MinIO at ${url} was not ready in time (last: ${last})`);
}
