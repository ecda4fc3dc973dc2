import os from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startThread } from '../../runtime/threads';
import type { BinMatrix } from './binning';
import { accumulateBlocks, blockCount, histogramBlockRows, MISSING_SLOT, newHistogram, SLOTS, STRIDE } from './histogram';
import { partition } from './partition';
import { addLeafValues, expFactors, type LeafRows } from './leaf-margins';
import { LOSS_GROUP } from './binary-loss';
import { chunkCount, CTRL, CTRL_LENGTH, JOB, MAX_LEAVES, MAX_THREADS, ThreadBlocks, type HistogramThreadData } from './thread-blocks';

/**
 * Histogram building on several cores, as LightGBM's row-wise histograms: a node's rows are cut
 * into fixed blocks (histogram.ts BLOCK_ROWS), each block's partial histogram is built into a
 * shared buffer by whichever thread claims it, and the trainer's thread adds the partials up in
 * block order. The bins, gradients and row order live in SharedArrayBuffers, so a job is a few
 * integers in a shared control array (Atomics.wait/notify), not a message.
 *
 * Binary tasks' per-row loss terms and gradients are computed in chunks of rows too, and large
 * node partitions are split: each chunk of the node's rows is partitioned stably (partition.ts)
 * into two buffers, then a second job copies each chunk's left and right rows to their places.
 *
 * The row blocks and chunks are blocks that any thread claims, the trainer's included
 * (thread-blocks.ts): a thread that is slow to wake on a busy machine costs nothing but its
 * share of the speed-up.
 *
 * Blocks depend on the data, not on the thread count, a single thread adds the same partials in
 * the same order (accumulateBlocks), and a partition keeps rows in order, on whichever thread:
 * the trees are the ones a single thread grows. Histograms of nodes under MIN_PARALLEL_HISTOGRAM_ROWS
 * rows and partitions under MIN_PARALLEL_PARTITION_ROWS are made on the calling thread alone
 * (a sleeping thread takes tens of µs to wake), and data under MIN_PARALLEL_WORK row×features does
 * not start threads at all (starting one costs a few hundred ms of module loading).
 */

export const MIN_PARALLEL_ROWS = 20_000;
/**
 * Histograms and partitions of smaller nodes than MIN_PARALLEL_ROWS are shared too (down to
 * these sizes): the other threads spin between a tree's jobs, so a job costs a few µs, and the
 * small nodes the trainer's thread built alone were about a third of its serial work.
 */
export const MIN_PARALLEL_HISTOGRAM_ROWS = 4096;
export const MIN_PARALLEL_PARTITION_ROWS = 16_384;
export const MIN_PARALLEL_WORK = 1_000_000;

export interface SharedGrowBuffers {
  /** n × K training margins. */
  margins: Float64Array;
  grad: Float64Array;
  hess: Float64Array;
  rows: Uint32Array;
  scratch: Uint32Array;
  /** Binary tasks: labels, loss-group logs and exp(-F) per row (binary-loss.ts). */
  binary?: { y: Int32Array; logp: Float64Array; expNeg: Float64Array };
}

/** Threads for a trainer run, or none when the data is too small or there is one core. */
export function histogramThreadCount(data: Pick<BinMatrix, 'n' | 'nFeatures'>): number {
  const cores = Math.min(MAX_THREADS, os.availableParallelism());
  if (cores < 2 || data.nFeatures < 2 || data.n * data.nFeatures < MIN_PARALLEL_WORK) return 1;
  return Math.min(cores, data.nFeatures);
}

export class HistogramThreads {
  private readonly ctrl: Int32Array;
  private readonly jobs: Int32Array;
  private readonly partials: Float64Array;
  /** Rows per histogram block (histogramBlockRows), and the calling thread's partial for nodes it builds alone. */
  private readonly blockRows: number;
  private readonly partial: Float64Array;
  private readonly goesLeft = new Uint8Array(new SharedArrayBuffer(SLOTS));
  private readonly workers: Worker[] = [];
  private readonly featureWidth = SLOTS * STRIDE;
  private readonly shape: HistogramThreadData;
  /** The trainer thread's side of the block protocol. */
  private readonly blocks: ThreadBlocks;
  /** Set by binaryTerms when the partials hold the next root's histogram blocks, for these features. */
  private rootPartials: Int32Array | undefined;
  private slotEndsByFeature: Int32Array | undefined;

  private constructor(
    private readonly data: BinMatrix,
    private readonly shared: SharedGrowBuffers,
    private readonly nThreads: number,
  ) {
    this.ctrl = new Int32Array(new SharedArrayBuffer(CTRL_LENGTH * 4));
    this.jobs = new Int32Array(new SharedArrayBuffer((data.nFeatures + 1) * 4));
    this.blockRows = histogramBlockRows(data.n, data.nFeatures);
    this.partial = newHistogram(data.nFeatures);
    this.partials = new Float64Array(new SharedArrayBuffer(blockCount(data.n, this.blockRows) * data.nFeatures * this.featureWidth * 8));
    this.ctrl[CTRL.threads] = nThreads;
    this.shape = {
      n: data.n,
      nFeatures: data.nFeatures,
      featureWidth: this.featureWidth,
      ctrl: this.ctrl.buffer as SharedArrayBuffer,
      margins: shared.margins.buffer as SharedArrayBuffer,
      leafBounds: new SharedArrayBuffer((MAX_LEAVES + 1) * 4),
      leafValues: new SharedArrayBuffer(MAX_LEAVES * 8),
      leafFactors: new SharedArrayBuffer(MAX_LEAVES * 8),
      claim: new SharedArrayBuffer(8),
      jobs: this.jobs.buffer as SharedArrayBuffer,
      bins: data.bins.buffer as SharedArrayBuffer,
      grad: shared.grad.buffer as SharedArrayBuffer,
      hess: shared.hess.buffer as SharedArrayBuffer,
      rows: shared.rows.buffer as SharedArrayBuffer,
      scratch: shared.scratch.buffer as SharedArrayBuffer,
      leftRows: new SharedArrayBuffer(4 * data.n),
      columns: data.columns.map((c) => c.buffer as SharedArrayBuffer),
      goesLeft: this.goesLeft.buffer as SharedArrayBuffer,
      partials: this.partials.buffer as SharedArrayBuffer,
      ...(shared.binary
        ? { binary: { y: shared.binary.y.buffer as SharedArrayBuffer, logp: shared.binary.logp.buffer as SharedArrayBuffer, expNeg: shared.binary.expNeg.buffer as SharedArrayBuffer } }
        : {}),
    };
    this.blocks = new ThreadBlocks(this.shape);
  }

  /**
   * Starts nThreads - 1 worker threads over shared buffers (bins.buffer, grad, hess and rows must
   * be SharedArrayBuffer-backed; grad and hess hold K × n values). Resolves once they are
   * listening, or undefined if one failed to start (the caller then builds on its own).
   */
  static async start(data: BinMatrix, shared: SharedGrowBuffers, nThreads: number): Promise<HistogramThreads | undefined> {
    const pool = new HistogramThreads(data, shared, nThreads);
    try {
      await Promise.all(
        Array.from({ length: nThreads - 1 }, (_, w) => {
          const worker = startThread(new URL('./histogram-worker.ts', import.meta.url), { ...pool.shape });
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
   * Adds rows[start, end) of class k's gradients to hist (zeroed) for the given features, one row
   * block a job block. allRows: rows[start, end) are start..end-1, and the count slots are left
   * to the caller (histogram.ts accumulateAll).
   */
  build(hist: Float64Array, start: number, end: number, k: number, features: Int32Array, allRows = false): void {
    const { data, shared, blockRows } = this;
    const nBlocks = blockCount(end - start, blockRows);
    // the root's partials, built with the gradients (binaryTerms)
    const ready = this.rootPartials;
    this.rootPartials = undefined;
    if (ready && allRows && k === 0 && start === 0 && end === data.n && ready.length === features.length && ready.every((f, j) => f === features[j])) {
      this.addPartials(hist, features, nBlocks);
      return;
    }
    // a node of one row block is cut by features (three or more a group), so that the threads share
    // it: a slot's sum does not depend on which features share its pass. Only then: each pass
    // re-reads the rows' indices and gradients (for a scattered node, the cache misses), so a node
    // of several blocks is cut by rows alone
    const groups = nBlocks > 1 ? 1 : Math.max(1, Math.min(this.nThreads, Math.floor(features.length / 3)));
    if (nBlocks * groups < 2 || end - start < MIN_PARALLEL_HISTOGRAM_ROWS) {
      const grad = shared.grad.subarray(k * data.n, (k + 1) * data.n);
      accumulateBlocks(hist, data, shared.rows, start, end, grad, shared.hess.subarray(k * data.n, (k + 1) * data.n), features, blockRows, this.partial, allRows);
      return;
    }
    this.jobs[0] = features.length;
    this.jobs.set(features, 1);
    this.ctrl[CTRL.k] = k;
    this.ctrl[CTRL.blockRows] = blockRows;
    this.ctrl[CTRL.allRows] = allRows ? 1 : 0;
    this.ctrl[CTRL.groups] = groups;
    this.run(JOB.histogram, start, end, nBlocks * groups);
    this.addPartials(hist, features, nBlocks);
  }

  /** hist = the sum of the job's nBlocks partials over the features: block 0's, then the others' added in block order (as accumulateBlocks). */
  private addPartials(hist: Float64Array, features: Int32Array, nBlocks: number): void {
    const W = this.featureWidth;
    const width = this.data.nFeatures * W;
    // (on the trainer's thread alone: only the slots a row can be in, its bins and the missing slot)
    const ends = this.slotEnds();
    const missing = STRIDE * MISSING_SLOT;
    for (let j = 0; j < features.length; j++) {
      const o = features[j]! * W;
      hist.set(this.partials.subarray(o, o + ends[features[j]!]!), o);
      hist.set(this.partials.subarray(o + missing, o + W), o + missing);
    }
    const { partials } = this;
    for (let b = 1; b < nBlocks; b++) {
      for (let j = 0; j < features.length; j++) {
        const o = features[j]! * W;
        const p = b * width + o;
        const end = ends[features[j]!]!;
        for (let s = 0; s < end; s++) hist[o + s] = hist[o + s]! + partials[p + s]!;
        for (let s = missing; s < W; s++) hist[o + s] = hist[o + s]! + partials[p + s]!;
      }
    }
  }

  /**
   * Per feature, the end (in histogram values) of the slots its bins can fill: no row has a bin
   * above the highest one in the data, so the slots past it (and before the missing slot) stay 0
   * in every partial and every histogram. Read from the bins at the first build (they are filled
   * after the threads start).
   */
  private slotEnds(): Int32Array {
    if (this.slotEndsByFeature) return this.slotEndsByFeature;
    const { bins, n, nFeatures: F } = this.data;
    const top = new Int32Array(F).fill(-1);
    for (let i = 0, p = 0; i < n; i++)
      for (let f = 0; f < F; f++, p++) {
        const b = bins[p]!;
        if (b !== MISSING_SLOT && b > top[f]!) top[f] = b;
      }
    this.slotEndsByFeature = top.map((t) => STRIDE * (t + 1));
    return this.slotEndsByFeature;
  }

  /** Stable partition of rows[start, end) by feature f's bins (see partition.ts); returns the first right row's position. */
  partition(start: number, end: number, f: number, goesLeft: Uint8Array): number {
    const { rows, scratch } = this.shared;
    const T = chunkCount(end - start, this.nThreads);
    if (end - start < MIN_PARALLEL_PARTITION_ROWS) return partition(rows, scratch, start, end, this.data.columns[f]!, goesLeft);
    this.goesLeft.set(goesLeft);
    this.ctrl[CTRL.feature] = f;
    this.run(JOB.partition, start, end, T);
    this.run(JOB.join, start, end, T);
    let mid = start;
    for (let t = 0; t < T; t++) mid += this.ctrl[CTRL.lefts + t]!;
    return mid;
  }

  /**
   * Adds a grown tree's leaf values to its rows' class-k margins (leaf-margins.ts), in chunks of
   * row positions; binary tasks' exp(-F) products too (K = 1).
   */
  addLeafValues(leaves: LeafRows, K: number, k: number): void {
    const n = leaves.bounds[leaves.count]!;
    const binary = this.shared.binary;
    if (leaves.count > MAX_LEAVES || n < 2 * MIN_PARALLEL_ROWS) {
      addLeafValues(this.shared.margins, K, k, this.shared.rows, leaves, 0, n, binary && { values: binary.expNeg, factors: expFactors(leaves.values, leaves.count) });
      return;
    }
    this.blocks.leaves.bounds.set(leaves.bounds.subarray(0, leaves.count + 1));
    this.blocks.leaves.values.set(leaves.values.subarray(0, leaves.count));
    if (binary) expFactors(leaves.values, leaves.count, this.blocks.leaves.factors);
    this.ctrl[CTRL.leaves] = leaves.count;
    this.ctrl[CTRL.stride] = K;
    this.ctrl[CTRL.k] = k;
    this.run(JOB.margins, 0, n, chunkCount(n, this.nThreads));
  }

  /**
   * Binary tasks: binary-loss.ts's per-row terms for every row, in chunks (on loss-group
   * boundaries). rootFeatures: the next tree's root holds every row and splits on these features,
   * so each histogram block's partial of the root is built right after its rows' gradients (in
   * cache, with no second pass over them); the next build of the root adds them up.
   */
  binaryTerms(rootFeatures?: Int32Array): void {
    const { n } = this.data;
    const nBlocks = blockCount(n, this.blockRows);
    this.rootPartials = undefined;
    if (!rootFeatures || nBlocks < 2 || n < MIN_PARALLEL_ROWS || this.blockRows % LOSS_GROUP !== 0) {
      this.run(JOB.binary, 0, n, chunkCount(n, this.nThreads));
      return;
    }
    this.jobs[0] = rootFeatures.length;
    this.jobs.set(rootFeatures, 1);
    this.ctrl[CTRL.k] = 0;
    this.ctrl[CTRL.blockRows] = this.blockRows;
    this.ctrl[CTRL.allRows] = 1;
    this.ctrl[CTRL.groups] = 1;
    this.run(JOB.binaryRoot, 0, n, nBlocks);
    this.rootPartials = rootFeatures.slice();
  }

  /** Opens a job of nBlocks blocks, runs blocks until none is left and waits for the others' (thread-blocks.ts). */
  private run(job: number, start: number, end: number, nBlocks: number): void {
    this.ctrl[CTRL.job] = job;
    this.ctrl[CTRL.start] = start;
    this.ctrl[CTRL.end] = end;
    this.blocks.open(nBlocks);
    this.blocks.finish(nBlocks);
  }

  async close(): Promise<void> {
    Atomics.store(this.ctrl, CTRL.stop, 1);
    Atomics.add(this.ctrl, CTRL.seq, 1);
    Atomics.notify(this.ctrl, CTRL.seq);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
