import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startThread } from '../activities/runtime/threads';
import type { ModelRef } from '../pipelines/steps/model';
import type { BatchColumns, FromThread, ToThread } from './inference-protocol';

/**
 * The serving process's inference threads. Every loaded model version lives in every thread (a
 * batch may go to any); a batch goes to the thread with the fewest batches in flight. A thread
 * that dies fails its batches (those requests get a 503, the process stays up) and is replaced,
 * with every loaded model loaded into the new one.
 */

export interface BatchOutput {
  labelIndex?: Int32Array;
  probabilities?: Float32Array;
  values?: Float64Array;
}

interface Thread {
  worker: Worker;
  ready: Promise<void>;
  inFlight: number;
  dead?: boolean;
}

interface Pending {
  thread: Thread;
  resolve: (o: BatchOutput) => void;
  reject: (e: Error) => void;
}

export class InferenceUnavailable extends Error {
  override name = 'InferenceUnavailable';
}

export class ServingInference {
  private readonly threads: Thread[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly loads = new Map<string, { waiting: Map<Thread, { resolve: () => void; reject: (e: Error) => void }> }>();
  /** What each thread must hold: the models loaded so far, kept to load them again into a replacement thread. */
  private readonly loaded = new Map<string, { model: ModelRef; bytes: Uint8Array }>();
  private nextId = 1;
  private closed = false;
  private readonly intraOpThreads: number;

  constructor(readonly size: number = 1) {
    this.intraOpThreads = Math.max(1, Math.floor(os.availableParallelism() / size));
    for (let i = 0; i < size; i++) this.start();
  }

  /** Resolves once every thread has loaded its modules. */
  async ready(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.ready));
  }

  /** Loads a model version into every thread; rejects with onnxruntime's complaint when it cannot. */
  async load(key: string, model: ModelRef, bytes: Uint8Array): Promise<void> {
    this.loaded.set(key, { model, bytes });
    try {
      await Promise.all(this.threads.map((t) => this.loadInto(t, key, model, bytes)));
    } catch (e) {
      this.unload(key);
      throw e;
    }
  }

  unload(key: string): void {
    this.loaded.delete(key);
    for (const t of this.threads) t.worker.postMessage({ kind: 'unload', key } satisfies ToThread);
  }

  run(key: string, rows: number, columns: BatchColumns): Promise<BatchOutput> {
    if (this.closed) return Promise.reject(new InferenceUnavailable('the server is stopping'));
    const live = this.threads.filter((t) => !t.dead);
    const t = live.reduce<Thread | undefined>((best, x) => (!best || x.inFlight < best.inFlight ? x : best), undefined);
    if (!t) return Promise.reject(new InferenceUnavailable('no inference thread is running'));
    const id = this.nextId++;
    t.inFlight++;
    return new Promise<BatchOutput>((resolve, reject) => {
      this.pending.set(id, { thread: t, resolve, reject });
      t.worker.postMessage({ kind: 'run', id, key, rows, columns } satisfies ToThread);
    });
  }

  /** Batches in flight over all threads (a busy server forms larger batches). */
  get busy(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = this.threads.splice(0);
    for (const t of all) t.dead = true;
    await Promise.all(all.map((t) => t.worker.terminate()));
  }

  private loadInto(t: Thread, key: string, model: ModelRef, bytes: Uint8Array): Promise<void> {
    let entry = this.loads.get(key);
    if (!entry) this.loads.set(key, (entry = { waiting: new Map() }));
    const waiting = entry.waiting;
    return new Promise<void>((resolve, reject) => {
      waiting.set(t, { resolve, reject });
      // A copy per thread: the bytes stay here for a replacement thread.
      t.worker.postMessage({ kind: 'load', key, model, bytes: bytes.slice(), intraOpThreads: this.intraOpThreads } satisfies ToThread);
    });
  }

  private start(): Thread {
    const worker = startThread(new URL('./inference-thread.ts', import.meta.url));
    let ready!: () => void;
    const t: Thread = { worker, inFlight: 0, ready: new Promise((r) => (ready = r)) };
    worker.on('message', (m: FromThread) => {
      if (m.kind === 'ready') return ready();
      if (m.kind === 'loaded') {
        const w = this.loads.get(m.key)?.waiting.get(t);
        if (!w) return;
        this.loads.get(m.key)!.waiting.delete(t);
        if (m.ok) w.resolve();
        else w.reject(new Error(m.error));
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      t.inFlight--;
      if (m.ok) p.resolve({ ...(m.labelIndex ? { labelIndex: m.labelIndex } : {}), ...(m.probabilities ? { probabilities: m.probabilities } : {}), ...(m.values ? { values: m.values } : {}) });
      else p.reject(new Error(m.error));
    });
    const die = (e: Error) => {
      if (t.dead) return;
      t.dead = true;
      ready();
      const at = this.threads.indexOf(t);
      if (at >= 0) this.threads.splice(at, 1);
      for (const [id, p] of this.pending) {
        if (p.thread !== t) continue;
        this.pending.delete(id);
        p.reject(new InferenceUnavailable(`inference thread stopped: ${e.message}`));
      }
      for (const l of this.loads.values()) {
        l.waiting.get(t)?.reject(new InferenceUnavailable(`inference thread stopped: ${e.message}`));
        l.waiting.delete(t);
      }
      if (this.closed) return;
      const fresh = this.start();
      for (const [key, { model, bytes }] of this.loaded) void this.loadInto(fresh, key, model, bytes).catch(() => undefined);
    };
    worker.on('error', die);
    worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
    worker.unref();
    this.threads.push(t);
    return t;
  }
}
