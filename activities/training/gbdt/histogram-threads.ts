import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startThread } from '../../runtime/threads';
import type { BinMatrix } from './binning';
import { accumulate, SLOTS, STRIDE } from './histogram';
import { binaryTerms, lossChunkBound } from './binary-loss';
import { joinChunks, partition, partitionChunk } from './partition';

/**
 * Histogram building on several cores, as scikit-learn (OpenMP) and LightGBM do: a node's
 * features are split into one block per thread; the calling thread accumulates its block into
 * the node's histogram while worker threads accumulate theirs into a shared result histogram,
 * which it then copies in. The bins, gradients and row order live in SharedArrayBuffers, so a job
 * is a few integers in a shared control array (Atomics.wait/notify), not a message.
 *
 * Binary tasks' per-row loss terms and gradients are computed in chunks of rows too, and large node partitions are split: each thread partitions a chunk of the node's rows stably
 * (partition.ts), and the calling thread joins the chunks' left and right rows in chunk order.
 *
 * Each feature's slots still add its rows in row order, and a partition keeps rows in order, on
 * whichever thread: the trees are the ones a single thread grows. Nodes under MIN_PARALLEL_ROWS rows are built on the calling thread
 * alone (waking threads costs tens of µs), and data under MIN_PARALLEL_WORK row×features does
 * not start threads at all (starting one costs a few hundred ms of module loading).
 */

export const MIN_PARALLEL_ROWS = 20_000;
export const MIN_PARALLEL_WORK = 1_000_000;
const MAX_THREADS = 8;

/** Indices in the control array. */
export const CTRL = { seq: 0, stop: 1, pending: 2, ready: 3, start: 4, end: 5, k: 6, job: 7, feature: 8, threads: 9, failed: 10, lefts: 16 } as const;
/**
 * Every wait re-checks its condition at least this often (ms): a wake-up that is lost (seen once
 * at full scale: both sides asleep) costs this much, never a hang.
 */
export const WAIT_RECHECK_MS = 20;
/** ctrl[CTRL.job] */
export const JOB = { histogram: 0, partition: 1, binary: 2 } as const;
const CTRL_LENGTH = CTRL.lefts + MAX_THREADS;

/** Chunk t of T of [start, end) (partition jobs): [chunkBound(t), chunkBound(t + 1)). */
export function chunkBound(start: number, end: number, T: number, t: number): number {
  return start + Math.round(((end - start) * t) / T);
}

export interface HistogramThreadData {
  index: number;
  /** Per thread in the jobs array: a feature count, then up to nFeatures feature indices. */
  jobStride: number;
  n: number;
  nFeatures: number;
  featureWidth: number;
  ctrl: SharedArrayBuffer;
  jobs: SharedArrayBuffer;
  bins: SharedArrayBuffer;
  /** K × n gradients and hessians (class k's at k * n). */
  grad: SharedArrayBuffer;
  hess: SharedArrayBuffer;
  rows: SharedArrayBuffer;
  scratch: SharedArrayBuffer;
  columns: SharedArrayBuffer[];
  /** Partition jobs: per bin of the split feature, 1 when its rows go left. */
  goesLeft: SharedArrayBuffer;
  result: SharedArrayBuffer;
  /** Binary tasks: margins, labels (0/1) and per-row log-probabilities (binary-loss.ts). */
  binary?: { margins: SharedArrayBuffer; y: SharedArrayBuffer; logp: SharedArrayBuffer };
}

export interface SharedGrowBuffers {
  grad: Float64Array;
  hess: Float64Array;
  rows: Uint32Array;
  scratch: Uint32Array;
  binary?: { margins: Float64Array; y: Int32Array; logp: Float64Array };
}

/** Threads for a trainer run, or none when the data is too small or there is one core. */
export function histogramThreadCount(data: BinMatrix): number {
  const cores = Math.min(MAX_THREADS, os.availableParallelism());
  if (cores < 2 || data.nFeatures < 2 || data.n * data.nFeatures < MIN_PARALLEL_WORK) return 1;
  return Math.min(cores, data.nFeatures);
}

export class HistogramThreads {
  private readonly ctrl: Int32Array;
  private readonly jobs: Int32Array;
  private readonly result: Float64Array;
  private readonly goesLeft = new Uint8Array(new SharedArrayBuffer(SLOTS));
  private readonly workers: Worker[] = [];
  private readonly featureWidth = SLOTS * STRIDE;
  private readonly jobStride: number;

  private constructor(
    private readonly data: BinMatrix,
    private readonly shared: SharedGrowBuffers,
    private readonly nThreads: number,
  ) {
    this.ctrl = new Int32Array(new SharedArrayBuffer(CTRL_LENGTH * 4));
    this.jobStride = data.nFeatures + 1;
    this.jobs = new Int32Array(new SharedArrayBuffer(nThreads * this.jobStride * 4));
    this.result = new Float64Array(new SharedArrayBuffer(data.nFeatures * this.featureWidth * 8));
    this.ctrl[CTRL.threads] = nThreads;
  }

  /**
   * Starts nThreads - 1 worker threads over shared buffers (bins.buffer, grad, hess and rows must
   * be SharedArrayBuffer-backed; grad and hess hold K × n values). Resolves once they are
   * listening, or undefined if one failed to start (the caller then builds on its own).
   */
  static async start(data: BinMatrix, shared: SharedGrowBuffers, nThreads: number): Promise<HistogramThreads | undefined> {
    const pool = new HistogramThreads(data, shared, nThreads);
    const common = {
      n: data.n,
      nFeatures: data.nFeatures,
      featureWidth: pool.featureWidth,
      jobStride: pool.jobStride,
      ctrl: pool.ctrl.buffer as SharedArrayBuffer,
      jobs: pool.jobs.buffer as SharedArrayBuffer,
      bins: data.bins.buffer as SharedArrayBuffer,
      grad: shared.grad.buffer as SharedArrayBuffer,
      hess: shared.hess.buffer as SharedArrayBuffer,
      rows: shared.rows.buffer as SharedArrayBuffer,
      scratch: shared.scratch.buffer as SharedArrayBuffer,
      columns: data.columns.map((c) => c.buffer as SharedArrayBuffer),
      goesLeft: pool.goesLeft.buffer as SharedArrayBuffer,
      result: pool.result.buffer as SharedArrayBuffer,
      ...(shared.binary
        ? { binary: { margins: shared.binary.margins.buffer as SharedArrayBuffer, y: shared.binary.y.buffer as SharedArrayBuffer, logp: shared.binary.logp.buffer as SharedArrayBuffer } }
        : {}),
    };
    try {
      await Promise.all(
        Array.from({ length: nThreads - 1 }, (_, w) => {
          const worker = startThread(new URL('./histogram-worker.ts', import.meta.url), { ...common, index: w } satisfies HistogramThreadData);
          pool.workers.push(worker);
          return new Promise<void>((resolve, reject) => {
            worker.once('error', reject);
            worker.once('exit', (code) => reject(new Error(`histogram thread exited (${code}) before it started`)));
            const poll = () => (Atomics.load(pool.ctrl, CTRL.ready) > w ? resolve() : setTimeout(poll, 5));
            poll();
          });
        }),
      );
      for (const w of pool.workers) w.removeAllListeners('exit').removeAllListeners('error').on('error', () => undefined);
      return pool;
    } catch {
      await pool.close();
      return undefined;
    }
  }

  /**
   * Adds rows[start, end) of class k's gradients to hist (zeroed) for the given features: the
   * calling thread takes the first block, each worker one of the others.
   */
  build(hist: Float64Array, start: number, end: number, k: number, features: Int32Array): void {
    const { data, shared } = this;
    const gradK = shared.grad.subarray(k * data.n, (k + 1) * data.n);
    const hessK = shared.hess.subarray(k * data.n, (k + 1) * data.n);
    const nf = features.length;
    const T = Math.min(this.nThreads, nf);
    if (T < 2 || end - start < MIN_PARALLEL_ROWS) {
      accumulate(hist, data, shared.rows, start, end, gradK, hessK, features);
      return;
    }
    // contiguous blocks of near-equal size; block 0 is the caller's
    const bound = (t: number) => Math.round((t * nf) / T);
    for (let w = 0; w < this.nThreads - 1; w++) {
      const at = w * this.jobStride;
      const t = w + 1;
      const from = t < T ? bound(t) : 0;
      const to = t < T ? bound(t + 1) : 0;
      this.jobs[at] = to - from;
      for (let j = from; j < to; j++) this.jobs[at + 1 + j - from] = features[j]!;
    }
    this.ctrl[CTRL.k] = k;
    this.post(JOB.histogram, start, end);
    accumulate(hist, data, shared.rows, start, end, gradK, hessK, features.subarray(0, bound(1)));
    this.wait();
    const W = this.featureWidth;
    for (let j = bound(1); j < nf; j++) {
      const o = features[j]! * W;
      hist.set(this.result.subarray(o, o + W), o);
    }
  }

  /** Stable partition of rows[start, end) by feature f's bins (see partition.ts); returns the first right row's position. */
  partition(start: number, end: number, f: number, goesLeft: Uint8Array): number {
    const { rows, scratch } = this.shared;
    const column = this.data.columns[f]!;
    const T = this.nThreads;
    if (end - start < 2 * MIN_PARALLEL_ROWS) return partition(rows, scratch, start, end, column, goesLeft);
    this.goesLeft.set(goesLeft);
    this.ctrl[CTRL.feature] = f;
    this.post(JOB.partition, start, end);
    this.ctrl[CTRL.lefts] = partitionChunk(rows, scratch, start, chunkBound(start, end, T, 1), column, goesLeft);
    this.wait();
    const bounds = Array.from({ length: T + 1 }, (_, t) => chunkBound(start, end, T, t));
    return joinChunks(rows, scratch, bounds, this.ctrl.subarray(CTRL.lefts, CTRL.lefts + T), T);
  }

  /** Binary tasks: binary-loss.ts's per-row terms for every row, in chunks over the threads (on loss-group boundaries). */
  binaryTerms(): void {
    const b = this.shared.binary!;
    const n = this.data.n;
    this.post(JOB.binary, 0, n);
    binaryTerms(b.margins, b.y, this.shared.grad, this.shared.hess, b.logp, 0, lossChunkBound(n, this.nThreads, 1));
    this.wait();
  }

  private post(job: number, start: number, end: number): void {
    this.ctrl[CTRL.job] = job;
    this.ctrl[CTRL.start] = start;
    this.ctrl[CTRL.end] = end;
    Atomics.store(this.ctrl, CTRL.pending, this.nThreads - 1);
    Atomics.add(this.ctrl, CTRL.seq, 1);
    Atomics.notify(this.ctrl, CTRL.seq);
  }

  private wait(): void {
    for (let p = Atomics.load(this.ctrl, CTRL.pending); p !== 0; p = Atomics.load(this.ctrl, CTRL.pending)) Atomics.wait(this.ctrl, CTRL.pending, p, WAIT_RECHECK_MS);
    if (Atomics.load(this.ctrl, CTRL.failed) !== 0) throw new Error('a histogram thread failed (see its error on stderr)');
  }

  async close(): Promise<void> {
    Atomics.store(this.ctrl, CTRL.stop, 1);
    Atomics.add(this.ctrl, CTRL.seq, 1);
    Atomics.notify(this.ctrl, CTRL.seq);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
