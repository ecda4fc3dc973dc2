import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread running a TypeScript (or JavaScript) module, through thread-boot.mjs,
 * which installs tsx's hooks in the new thread when the module is TypeScript.
 */
export function startThread(entry: URL, workerData: Record<string, unknown> = {}): Worker {
  return new Worker(new URL('./thread-boot.mjs', import.meta.url), { workerData: { ...workerData, sluiceEntry: entry.href } });
}
