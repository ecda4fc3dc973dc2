import { workerData } from 'node:worker_threads';
import { accumulate } from './histogram';
import { chunkBound, CTRL, JOB, WAIT_RECHECK_MS, type HistogramThreadData } from './histogram-threads';
import { partitionChunk } from './partition';
import { binaryTerms, lossChunkBound } from './binary-loss';

/**
 * A histogram thread (see histogram-threads.ts): waits on the shared control word for a job,
 * accumulates its share of the features into the shared result histogram (or partitions its
 * chunk of a node's rows, or computes a chunk of binary loss terms), counts itself done.
 * Everything it reads (bins, gradients, row order) is shared memory the trainer writes between
 * jobs, so a job is a few integers.
 */

const d = workerData as HistogramThreadData;
const ctrl = new Int32Array(d.ctrl);
const jobs = new Int32Array(d.jobs);
const data = { n: d.n, nFeatures: d.nFeatures, bins: new Uint8Array(d.bins), columns: [] };
const gradAll = new Float64Array(d.grad);
const hessAll = new Float64Array(d.hess);
const rows = new Uint32Array(d.rows);
const scratch = new Uint32Array(d.scratch);
const columns = d.columns.map((c) => new Uint8Array(c));
const goesLeft = new Uint8Array(d.goesLeft);
const margins = d.binary && new Float64Array(d.binary.margins);
const y = d.binary && new Int32Array(d.binary.y);
const logp = d.binary && new Float64Array(d.binary.logp);
const result = new Float64Array(d.result);
const at = d.index * d.jobStride;

Atomics.add(ctrl, CTRL.ready, 1);
Atomics.notify(ctrl, CTRL.ready);
let seen = 0;
for (;;) {
  // re-checked every WAIT_RECHECK_MS: a lost wake-up must not leave the trainer waiting forever
  while (Atomics.load(ctrl, CTRL.seq) === seen) Atomics.wait(ctrl, CTRL.seq, seen, WAIT_RECHECK_MS);
  seen = Atomics.load(ctrl, CTRL.seq);
  if (Atomics.load(ctrl, CTRL.stop) === 1) break;
  try {
    runJob();
  } catch (e) {
    // counted done all the same, so that the trainer wakes and reports it
    Atomics.store(ctrl, CTRL.failed, 1);
    console.error('histogram thread:', e);
  }
  if (Atomics.sub(ctrl, CTRL.pending, 1) === 1) Atomics.notify(ctrl, CTRL.pending);
}

function runJob(): void {
  const start = ctrl[CTRL.start]!;
  const end = ctrl[CTRL.end]!;
  const T = ctrl[CTRL.threads]!;
  const t = d.index + 1; // chunk index (chunk 0 is the caller's)
  if (ctrl[CTRL.job] === JOB.binary) {
    // (a binary job covers every row: [0, end))
    binaryTerms(margins!, y!, gradAll, hessAll, logp!, lossChunkBound(end, T, t), lossChunkBound(end, T, t + 1));
  } else if (ctrl[CTRL.job] === JOB.partition) {
    ctrl[CTRL.lefts + t] = partitionChunk(rows, scratch, chunkBound(start, end, T, t), chunkBound(start, end, T, t + 1), columns[ctrl[CTRL.feature]!]!, goesLeft);
  } else {
    const k = ctrl[CTRL.k]!;
    const nf = jobs[at]!;
    if (nf === 0) return;
    const features = jobs.subarray(at + 1, at + 1 + nf);
    for (const f of features) result.fill(0, f * d.featureWidth, (f + 1) * d.featureWidth);
    accumulate(result, data, rows, start, end, gradAll.subarray(k * d.n, (k + 1) * d.n), hessAll.subarray(k * d.n, (k + 1) * d.n), features);
  }
}
