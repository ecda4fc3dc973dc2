import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';

/** A free TCP port on loopback, chosen by the kernel. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ port, host });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Waits until something accepts connections on the port, or the child dies, or time runs out. */
export async function waitForPort(port: number, opts: { host?: string; timeoutMs?: number; child?: ChildProcess; what: string }): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (opts.child && opts.child.exitCode !== null) {
      throw new Error(`${opts.what} exited with code ${opts.child.exitCode} before listening on port ${port}`);
    }
    if (await isPortOpen(port, opts.host)) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${opts.what} did not listen on port ${port} within ${opts.timeoutMs ?? 30_000} ms`);
}

const orphans = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of orphans) c.kill('SIGKILL');
});

export interface Service {
  name: string;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after the grace period. Resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts a long-running child process whose output goes to a log file (not our terminal),
 * so `sluice up` stays readable and the log survives for debugging.
 */
export function startService(name: string, cmd: string, args: string[], opts: SpawnOptions & { logFile: string }): Service {
  const log = fs.openSync(opts.logFile, 'a');
  // Own process group: a Ctrl-C in the terminal reaches only us, and we stop services in order
  // (workers drain first, then Temporal, then PostgreSQL). If we die, they die with us.
  const child = spawn(cmd, args, { ...opts, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  orphans.add(child);
  child.once('exit', () => orphans.delete(child));
  return {
    name,
    child,
    stop: (graceMs = 10_000) => stopChild(child, graceMs),
  };
}

export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Runs a command to completion, capturing output; throws with the output on failure. */
export async function run(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} failed with code ${code}:\n${out.slice(-4000)}`));
    });
  });
}
