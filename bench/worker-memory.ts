import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../infra/paths';

/**
 * Memory of a worker process, read from outside: the kernel's figures (/proc/PID/status) and, for
 * a worker started with `memoryProbeOptions()`, the process's own after a full GC
 * (bench/memory-probe.mjs). Used by the soak benchmark to tell a leak from a high-water mark.
 */

/** NODE_OPTIONS for a worker that answers SIGUSR2 with its memory figures (see memory-probe.mjs). */
export const memoryProbeOptions = () => `--expose-gc --import ${path.join(projectRoot, 'bench', 'memory-probe.mjs')}`;

export interface KernelMemory {
  /** Resident set size now (VmRSS), bytes. */
  rss: number;
  /** The highest RSS so far (VmHWM), bytes. */
  peak: number;
}

export function kernelMemory(pid: number): KernelMemory {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

interface ProcessMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

export interface ProbedMemory {
  gcAvailable: boolean;
  before: ProcessMemory;
  /** After two full GCs: what JavaScript still holds. */
  after: ProcessMemory;
  /** V8's own malloc'd memory (compiler zones, not the heap). */
  mallocedMemory: number;
  /** V8 contexts alive: each cached workflow run is one. */
  nativeContexts: number;
}

/** Asks the worker (started with memoryProbeOptions()) for its figures after a full GC. */
export async function probeMemory(pid: number, timeoutMs = 10_000): Promise<ProbedMemory> {
  const file = path.join(os.tmpdir(), `sluice-memprobe-${pid}.json`);
  fs.rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (fs.existsSync(file)) {
      const probed = JSON.parse(fs.readFileSync(file, 'utf8')) as ProbedMemory;
      fs.rmSync(file, { force: true });
      return probed;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`worker ${pid} did not answer the memory probe within ${timeoutMs} ms (was it started with memoryProbeOptions()?)`);
}

export const mib = (bytes: number) => bytes / 1024 ** 2;
