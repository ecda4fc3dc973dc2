// Entry of every worker thread Sluice starts (see activities/runtime/threads.ts): worker threads do
// not inherit tsx's module hooks from the main thread, so a TypeScript entry registers them first.
import { workerData } from 'node:worker_threads';

const entry = workerData.sluiceEntry;
if (entry.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import(entry);
