/**
 * Preloaded into worker processes by the soak benchmark (bench/soak.ts), through
 * NODE_OPTIONS="--expose-gc --import <this file>": on SIGUSR2 the worker collects its garbage and
 * writes its memory figures, before and after, to <tmpdir>/sluice-memprobe-<pid>.json. The figures
 * separate what JavaScript holds (V8 heap, external/ArrayBuffer memory that V8 accounts for) from
 * what only the process's RSS shows (native allocations: onnxruntime, polars, glibc arenas), which
 * is what tells a leak from an allocator's high-water mark. Plain JavaScript so that it loads
 * before tsx; inert in worker threads and in any process that is not a Sluice worker.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { isMainThread } from 'node:worker_threads';

const isWorker = isMainThread && /workers[/\\](cpu|gpu)\.ts$/.test(process.argv[1] ?? '');

if (isWorker) {
  const file = path.join(os.tmpdir(), `sluice-memprobe-${process.pid}.json`);
  const snapshot = () => {
    const m = process.memoryUsage();
    return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
  };
  process.on('SIGUSR2', () => {
    const before = snapshot();
    // Two passes: the first can leave weakly held objects (finalizers) for the second.
    globalThis.gc?.();
    globalThis.gc?.();
    const after = snapshot();
    const heap = v8.getHeapStatistics();
    const body = JSON.stringify({ at: Date.now(), gcAvailable: typeof globalThis.gc === 'function', before, after, mallocedMemory: heap.malloced_memory, nativeContexts: heap.number_of_native_contexts });
    // Written aside and renamed, so the reader never sees half a file.
    fs.writeFileSync(`${file}.tmp`, body);
    fs.renameSync(`${file}.tmp`, file);
  });
}
