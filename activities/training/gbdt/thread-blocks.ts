import { accumulate, accumulateAll } from './histogram';
import { binaryTerms, lossChunkBound } from './binary-loss';
import { placeChunk, splitChunk } from './partition';
import { addLeafValues, type LeafRows } from './leaf-margins';

/**
 * The jobs histogram threads share (see histogram-threads.ts), cut into blocks that whichever
 * thread is free claims: the trainer's thread claims blocks too, and once none is left it waits
 * only for blocks another thread is already running. On a busy machine a woken thread can wait
 * milliseconds for a core; when every job waited for it (one job per thread, as before), two
 * threads took longer than one. Now a late thread finds its blocks done and goes back to sleep.
 *
 * The claim word (a BigInt64, compare-and-swap) holds the job's generation, its block count and
 * the next block: a thread that read a finished job's word can never claim a block of the next
 * one, and the next job's parameters are written only once every block of the last is done.
 *
 * A block's result does not depend on the thread that runs it (a row block's partial histogram,
 * a chunk's stable partition, a chunk of loss terms on loss-group boundaries), so the trees are
 * the same on any number of threads.
 *
 * Waiting spins for SPIN_MS before it sleeps (as OpenMP's threads do): the gaps between a tree's
 * jobs (a split search, a histogram subtraction) are tens of µs, and a sleeping thread takes
 * about as long to wake, through the kernel (on a VM, an interrupt to an idle virtual CPU), while
 * the trainer's notify pays a system call. Spinning threads see the next job at once, and a
 * notify is made only when a thread sleeps (a count of sleepers per word: a sleeper counts itself
 * before it sleeps, and its Atomics.wait returns at once if the word changed in between).
 */

/** Indices in the control array. */
export const CTRL = { seq: 0, stop: 1, done: 2, ready: 3, start: 4, end: 5, k: 6, job: 7, feature: 8, threads: 9, failed: 10, stride: 11, leaves: 12, blockRows: 13, seqSleepers: 14, doneSleepers: 15, allRows: 16, groups: 17, lefts: 18 } as const;
export const MAX_THREADS = 8;
/**
 * Row-chunked jobs (partitions, loss terms, margin updates) get a chunk per CHUNK_ROWS rows, at
 * least one per thread and at most MAX_CHUNKS: a thread that is late (slow to wake, or sharing
 * its core) leaves chunks to the others rather than a half of the job that everyone waits for.
 */
export const CHUNK_ROWS = 32_768;
export const MAX_CHUNKS = 32;
export const CTRL_LENGTH = CTRL.lefts + MAX_CHUNKS;

/** Chunks of a row-chunked job over `rows` rows on nThreads threads. */
export function chunkCount(rows: number, nThreads: number): number {
  return Math.min(MAX_CHUNKS, Math.max(nThreads, Math.ceil(rows / CHUNK_ROWS)));
}
/** ctrl[CTRL.job] */
export const JOB = { histogram: 0, partition: 1, binary: 2, margins: 3, join: 4, binaryRoot: 5 } as const;
/** Leaves a margins job can carry (the schema's largest maxLeaves). */
export const MAX_LEAVES = 4096;
/**
 * Every wait re-checks its condition at least this often (ms): a wake-up that is lost (seen once
 * at full scale: both sides asleep) costs this much, never a hang.
 */
export const WAIT_RECHECK_MS = 20;
/**
 * How long a wait spins before it sleeps (ms). 2 ms rather than 0.25: some gaps between jobs (a
 * large node's partials added up, two children's categorical split searches, a tree's end) are
 * longer than 0.25 ms, and each sleep cost a wake-up; flights, six pairs at load 1.5: 9.1-12.4 s
 * (median 9.7) against 9.9-12.2 s (median 10.4), with less CPU.
 */
export const SPIN_MS = 2;
/** Most blocks a job can have (the claim word's fields are 16 bits). */
export const MAX_BLOCKS = 0xffff;

/**
 * Waits until ctrl[index] is no longer `value`: spins for SPIN_MS, then sleeps in Atomics.wait
 * (counted in ctrl[sleepers], see wake), re-checking every WAIT_RECHECK_MS. Returns the new value.
 */
export function waitWhile(ctrl: Int32Array, index: number, value: number, sleepers: number): number {
  let v = Atomics.load(ctrl, index);
  if (v !== value) return v;
  const t0 = performance.now();
  for (let i = 1; ; i++) {
    v = Atomics.load(ctrl, index);
    if (v !== value) return v;
    if ((i & 63) === 0 && performance.now() - t0 > SPIN_MS) break;
  }
  Atomics.add(ctrl, sleepers, 1);
  try {
    for (;;) {
      Atomics.wait(ctrl, index, value, WAIT_RECHECK_MS);
      v = Atomics.load(ctrl, index);
      if (v !== value) return v;
    }
  } finally {
    Atomics.sub(ctrl, sleepers, 1);
  }
}

/** Wakes the threads sleeping on ctrl[index] (after a change to it), if waitWhile counted any in ctrl[sleepers]. */
export function wake(ctrl: Int32Array, index: number, sleepers: number): void {
  if (Atomics.load(ctrl, sleepers) > 0) Atomics.notify(ctrl, index);
}

/** Chunk t of T of [start, end) (partition jobs): [chunkBound(t), chunkBound(t + 1)). */
export function chunkBound(start: number, end: number, T: number, t: number): number {
  return start + Math.round(((end - start) * t) / T);
}

/** What every thread sees: the same SharedArrayBuffers, so a job is a few integers. */
export interface HistogramThreadData {
  n: number;
  nFeatures: number;
  featureWidth: number;
  ctrl: SharedArrayBuffer;
  /** One BigInt64: generation × 2^32 + block count × 2^16 + next block. */
  claim: SharedArrayBuffer;
  /** A histogram job's features: a count, then the feature indices. */
  jobs: SharedArrayBuffer;
  bins: SharedArrayBuffer;
  /** n × K training margins (row i's class k at i * K + k). */
  margins: SharedArrayBuffer;
  /** Margins jobs: the grown tree's leaves (leaf-margins.ts), MAX_LEAVES + 1 bounds, MAX_LEAVES values and (binary) their exp(-value) factors. */
  leafBounds: SharedArrayBuffer;
  leafValues: SharedArrayBuffer;
  leafFactors: SharedArrayBuffer;
  /** K × n gradients and hessians (class k's at k * n). */
  grad: SharedArrayBuffer;
  hess: SharedArrayBuffer;
  rows: SharedArrayBuffer;
  scratch: SharedArrayBuffer;
  /** Partition jobs: each chunk's left rows (its right rows go to scratch), from the chunk's start. */
  leftRows: SharedArrayBuffer;
  columns: SharedArrayBuffer[];
  /** Partition jobs: per bin of the split feature, 1 when its rows go left. */
  goesLeft: SharedArrayBuffer;
  /** Histogram jobs' output: block b's partial histogram (nFeatures × featureWidth) at b × nFeatures × featureWidth. */
  partials: SharedArrayBuffer;
  /** Binary tasks: labels (0/1), loss-group logs and exp(-F) per row (binary-loss.ts). */
  binary?: { y: SharedArrayBuffer; logp: SharedArrayBuffer; expNeg: SharedArrayBuffer };
}

/** Typed views of HistogramThreadData, and the block protocol over them (one per thread). */
export class ThreadBlocks {
  readonly ctrl: Int32Array;
  private readonly claimWord: BigInt64Array;
  private readonly jobs: Int32Array;
  private readonly data: { n: number; nFeatures: number; bins: Uint8Array; columns: Uint8Array[] };
  private readonly gradAll: Float64Array;
  private readonly hessAll: Float64Array;
  private readonly rows: Uint32Array;
  private readonly scratch: Uint32Array;
  private readonly leftRows: Uint32Array;
  private readonly columns: Uint8Array[];
  private readonly goesLeft: Uint8Array;
  readonly partials: Float64Array;
  private readonly margins: Float64Array;
  /** The margins job's leaves (count in ctrl). */
  readonly leaves: { bounds: Int32Array; values: Float64Array; factors: Float64Array };
  private readonly binary: { y: Int32Array; logp: Float64Array; expNeg: Float64Array } | undefined;

  constructor(private readonly d: HistogramThreadData) {
    this.ctrl = new Int32Array(d.ctrl);
    this.claimWord = new BigInt64Array(d.claim);
    this.jobs = new Int32Array(d.jobs);
    this.data = { n: d.n, nFeatures: d.nFeatures, bins: new Uint8Array(d.bins), columns: [] };
    this.gradAll = new Float64Array(d.grad);
    this.hessAll = new Float64Array(d.hess);
    this.rows = new Uint32Array(d.rows);
    this.scratch = new Uint32Array(d.scratch);
    this.leftRows = new Uint32Array(d.leftRows);
    this.columns = d.columns.map((c) => new Uint8Array(c));
    this.goesLeft = new Uint8Array(d.goesLeft);
    this.partials = new Float64Array(d.partials);
    this.margins = new Float64Array(d.margins);
    this.leaves = { bounds: new Int32Array(d.leafBounds), values: new Float64Array(d.leafValues), factors: new Float64Array(d.leafFactors) };
    this.binary = d.binary && { y: new Int32Array(d.binary.y), logp: new Float64Array(d.binary.logp), expNeg: new Float64Array(d.binary.expNeg) };
  }

  /** Trainer: opens a job of nBlocks blocks (its parameters already in ctrl and jobs) and wakes the threads. */
  open(nBlocks: number): void {
    if (nBlocks > MAX_BLOCKS) throw new Error(`a job of ${nBlocks} blocks (at most ${MAX_BLOCKS})`);
    const gen = (Atomics.load(this.claimWord, 0) >> 32n) + 1n;
    Atomics.store(this.ctrl, CTRL.done, 0);
    Atomics.store(this.claimWord, 0, (gen << 32n) | (BigInt(nBlocks) << 16n));
    Atomics.add(this.ctrl, CTRL.seq, 1);
    wake(this.ctrl, CTRL.seq, CTRL.seqSleepers);
  }

  /** Runs blocks of the open job until none is left to claim; returns how many it ran. */
  work(): number {
    let ran = 0;
    for (;;) {
      const w = Atomics.load(this.claimWord, 0);
      const next = Number(w & 0xffffn);
      const nBlocks = Number((w >> 16n) & 0xffffn);
      if (next >= nBlocks) return ran;
      if (Atomics.compareExchange(this.claimWord, 0, w, w + 1n) !== w) continue;
      try {
        this.run(next, nBlocks);
      } catch (e) {
        // counted done all the same, so that the trainer wakes and reports it
        Atomics.store(this.ctrl, CTRL.failed, 1);
        console.error('histogram thread:', e);
      }
      ran++;
      if (Atomics.add(this.ctrl, CTRL.done, 1) + 1 === nBlocks) wake(this.ctrl, CTRL.done, CTRL.doneSleepers);
    }
  }

  /** Trainer: runs blocks, then waits for the ones other threads claimed. */
  finish(nBlocks: number): void {
    this.work();
    for (let done = Atomics.load(this.ctrl, CTRL.done); done !== nBlocks; ) done = waitWhile(this.ctrl, CTRL.done, done, CTRL.doneSleepers);
    if (Atomics.load(this.ctrl, CTRL.failed) !== 0) throw new Error('a histogram thread failed (see its error on stderr)');
  }

  private run(block: number, nBlocks: number): void {
    const { ctrl } = this;
    const start = ctrl[CTRL.start]!;
    const end = ctrl[CTRL.end]!;
    const job = ctrl[CTRL.job]!;
    if (job === JOB.binary) {
      const b = this.binary!;
      // a binary job covers every row: [0, end)
      binaryTerms(this.margins, b.expNeg, b.y, this.gradAll, this.hessAll, b.logp, lossChunkBound(end, nBlocks, block), lossChunkBound(end, nBlocks, block + 1));
    } else if (job === JOB.binaryRoot) {
      // a row block's loss terms and gradients, then (while they are in cache) its partial of the
      // next tree's root histogram, as a histogram job over every row would build it
      const b = this.binary!;
      const from = block * ctrl[CTRL.blockRows]!;
      binaryTerms(this.margins, b.expNeg, b.y, this.gradAll, this.hessAll, b.logp, from, Math.min(end, from + ctrl[CTRL.blockRows]!));
      this.histogramBlock(block);
    } else if (job === JOB.margins) {
      const leaves: LeafRows = { count: ctrl[CTRL.leaves]!, bounds: this.leaves.bounds, values: this.leaves.values };
      // binary: the rows' exp(-F) products too (the trainer wrote the leaves' factors)
      const expNeg = this.binary && { values: this.binary.expNeg, factors: this.leaves.factors };
      addLeafValues(this.margins, ctrl[CTRL.stride]!, ctrl[CTRL.k]!, this.rows, leaves, chunkBound(start, end, nBlocks, block), chunkBound(start, end, nBlocks, block + 1), expNeg);
    } else if (job === JOB.partition) {
      const from = chunkBound(start, end, nBlocks, block);
      ctrl[CTRL.lefts + block] = splitChunk(this.rows, this.leftRows, this.scratch, from, chunkBound(start, end, nBlocks, block + 1), this.columns[ctrl[CTRL.feature]!]!, this.goesLeft);
    } else if (job === JOB.join) {
      // the partition job's chunks (as many as this job's blocks) to their places in rows
      const lefts = ctrl.subarray(CTRL.lefts, CTRL.lefts + nBlocks);
      placeChunk(this.rows, this.leftRows, this.scratch, (u) => chunkBound(start, end, nBlocks, u), lefts, nBlocks, block);
    } else this.histogramBlock(block);
  }

  /**
   * Job block `block` of a histogram job: row block floor(block / groups) of the job's [start, end),
   * for feature group block % groups (the job's features cut into `groups` runs), into the row
   * block's partial histogram (each group writes its own features' slots).
   */
  private histogramBlock(block: number): void {
    const { ctrl } = this;
    const start = ctrl[CTRL.start]!;
    const end = ctrl[CTRL.end]!;
    const n = this.d.n;
    const k = ctrl[CTRL.k]!;
    const groups = Math.max(1, ctrl[CTRL.groups]!); // (0: a job opened without groups)
    const group = block % groups;
    const rowBlock = (block - group) / groups;
    const nf = this.jobs[0]!;
    const features = this.jobs.subarray(1 + Math.floor((group * nf) / groups), 1 + Math.floor(((group + 1) * nf) / groups));
    const W = this.d.featureWidth;
    const width = this.d.nFeatures * W;
    const partial = this.partials.subarray(rowBlock * width, (rowBlock + 1) * width);
    for (const f of features) partial.fill(0, f * W, (f + 1) * W);
    const from = start + rowBlock * ctrl[CTRL.blockRows]!;
    const to = Math.min(end, from + ctrl[CTRL.blockRows]!);
    const grad = this.gradAll.subarray(k * n, (k + 1) * n);
    const hess = this.hessAll.subarray(k * n, (k + 1) * n);
    // a node of every row in order: no row index, no counts (the trainer fills them, histogram.ts)
    if (ctrl[CTRL.allRows] === 1) accumulateAll(partial, this.data, from, to, grad, hess, features);
    else accumulate(partial, this.data, this.rows, from, to, grad, hess, features);
  }
}
