import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { failure, isFailureType } from '../../pipelines/failures';
import type { ModelRef } from '../../pipelines/steps/model';
import { startThread } from '../runtime/threads';
import type { InferenceJob, InferenceReply, InferenceTimings, SerializedError, ThreadControl, ThreadEvent } from './inference-protocol';

/**
 * The process's inference threads, shared by every scoring chunk running in it (one pool per
 * worker, made by workers/deps.ts and reached through StepContext.inference): each job goes to
 * an idle thread, preferably one that already holds a session for the job's model (its bytes are
 * sent only to a thread that does not). Threads are started on demand, up to
 * SLUICE_INFERENCE_THREADS (default: one per core, at most 8), each session with
 * cores / threads onnxruntime threads. Threads stay once started (starting one costs a few hundred
 * ms of module loading), without keeping the process alive while idle; after a minute without
 * work they free their sessions.
 */

const IDLE_RELEASE_MS = 60_000;

export interface ScoreBatchRequest {
  model: ModelRef;
  /** The model's ONNX bytes, hash verified; called only for a thread that has no session for it. */
  fetchModel: () => Promise<Uint8Array>;
  source: InferenceJob['source'];
  keep: string[];
  meta: InferenceJob['meta'];
  outFile: string;
  compression: InferenceJob['compression'];
  executionProviders?: string[];
}

export interface ScoreBatchResult {
  rows: number;
  timings: InferenceTimings;
}

interface Thread {
  worker: Worker;
  loaded: Set<string>;
  /** Resolves once the thread has loaded its modules (polars, onnxruntime: a few hundred ms). */
  ready: Promise<void>;
  /** Stopped (crashed, or closed): takes no more jobs. */
  dead?: boolean;
  job?: { id: number; resolve: (r: ScoreBatchResult) => void; reject: (e: Error) => void };
}

interface Waiter {
  model: string;
  take: (t: Thread) => void;
}

export class InferencePool {
  private readonly threads: Thread[] = [];
  private readonly waiting: Waiter[] = [];
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly intraOpThreads: number;

  constructor(readonly size: number) {
    this.intraOpThreads = Math.max(1, Math.floor(os.availableParallelism() / size));
  }

  async score(req: ScoreBatchRequest): Promise<ScoreBatchResult> {
    const thread = await this.acquire(req.model.sha256);
    try {
      const modelBytes = thread.loaded.has(req.model.sha256) ? undefined : await req.fetchModel();
      const job: InferenceJob = {
        id: this.nextId++,
        model: req.model,
        ...(modelBytes ? { modelBytes } : {}),
        intraOpThreads: this.intraOpThreads,
        ...(req.executionProviders ? { executionProviders: req.executionProviders } : {}),
        source: req.source,
        keep: req.keep,
        meta: req.meta,
        outFile: req.outFile,
        compression: req.compression,
      };
      // The thread may have stopped while the model was fetched: nothing would ever answer.
      if (thread.dead) throw new Error('inference thread stopped before the job was sent'); // retryable
      return await new Promise<ScoreBatchResult>((resolve, reject) => {
        thread.job = { id: job.id, resolve, reject };
        thread.worker.postMessage(job);
      });
    } finally {
      this.release(thread);
    }
  }

  /**
   * Starts every thread now and waits until they can take work, so the first batches do not wait
   * for threads to load their modules.
   */
  async warm(): Promise<void> {
    while (this.threads.length < this.size) this.start();
    const threads = [...this.threads];
    for (const t of threads) t.worker.ref(); // until they are ready, they are what this waits on
    try {
      await Promise.all(threads.map((t) => t.ready));
    } finally {
      for (const t of threads) if (!t.job) t.worker.unref();
    }
  }

  /** Stops every thread (a job in flight fails). */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const all = this.threads.splice(0);
    for (const t of all) t.dead = true;
    await Promise.all(all.map((t) => t.worker.terminate()));
  }

  private acquire(model: string): Promise<Thread> {
    clearTimeout(this.idleTimer);
    const idle = this.threads.filter((t) => !t.job);
    const pick = idle.find((t) => t.loaded.has(model)) ?? (this.threads.length < this.size ? this.start() : idle[0]);
    if (pick) return Promise.resolve(this.take(pick));
    return new Promise((resolve) => this.waiting.push({ model, take: (t) => resolve(this.take(t)) }));
  }

  private take(t: Thread): Thread {
    t.job = { id: 0, resolve: () => undefined, reject: () => undefined }; // reserved until the job is posted
    t.worker.ref();
    return t;
  }

  private release(t: Thread): void {
    t.job = undefined;
    if (!this.threads.includes(t)) return; // it died
    // A waiter for a model this thread holds goes first, then the oldest.
    const i = this.waiting.findIndex((w) => t.loaded.has(w.model));
    const w = this.waiting.splice(i >= 0 ? i : 0, 1)[0];
    if (w) return w.take(t);
    t.worker.unref();
    if (this.threads.every((x) => !x.job)) {
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => this.releaseSessions(), IDLE_RELEASE_MS);
      this.idleTimer.unref();
    }
  }

  /** Idle: the threads stay (ready for the next run), their sessions (the models' memory) go. */
  private releaseSessions(): void {
    for (const t of this.threads) {
      if (t.job) continue;
      t.loaded = new Set();
      t.worker.postMessage({ kind: 'release-sessions' } satisfies ThreadControl);
    }
  }

  private start(): Thread {
    const worker = startThread(new URL('./inference-thread.ts', import.meta.url));
    let ready!: () => void;
    const t: Thread = { worker, loaded: new Set(), ready: new Promise((r) => (ready = r)) };
    worker.on('message', (r: InferenceReply | ThreadEvent) => {
      if ('kind' in r) return ready();
      t.loaded = new Set(r.loaded);
      const job = t.job;
      if (!job || job.id !== r.id) return;
      if (r.ok) job.resolve({ rows: r.rows, timings: r.timings });
      else job.reject(deserialize(r.error));
    });
    const die = (e: Error) => {
      t.dead = true;
      const at = this.threads.indexOf(t);
      if (at >= 0) this.threads.splice(at, 1);
      t.job?.reject(new Error(`inference thread stopped: ${e.message}`)); // retryable: the chunk resumes from its checkpoint
      ready();
      // A waiter whose thread died gets a fresh one.
      const w = this.waiting.shift();
      if (w && this.threads.length < this.size) w.take(this.start());
      else if (w) this.waiting.unshift(w);
    };
    worker.on('error', die);
    worker.on('exit', (code) => die(new Error(`exit code ${code}`)));
    this.threads.push(t);
    return t;
  }
}

function deserialize(e: SerializedError): Error {
  if (isFailureType(e.type)) {
    const f = failure(e.type, e.message);
    if (e.stack) f.stack = e.stack;
    return f;
  }
  const err = new Error(e.message);
  err.name = e.name;
  if (e.stack) err.stack = e.stack;
  return err;
}

/** The configured count (SLUICE_INFERENCE_THREADS, infra/config.ts), else one per core (at most 8). */
export function inferenceThreads(configured: number | undefined): number {
  return configured ?? Math.min(8, os.availableParallelism());
}
