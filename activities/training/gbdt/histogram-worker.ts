import { workerData } from 'node:worker_threads';
import { accumulate } from './histogram';
import { CTRL, type HistogramThreadData } from './histogram-threads';

/**
 * A histogram thread (see histogram-threads.ts): waits on the shared control word for a job,
 * accumulates its share of the features into the shared result histogram, counts itself done.
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
const result = new Float64Array(d.result);
const at = d.index * d.jobStride;

Atomics.add(ctrl, CTRL.ready, 1);
Atomics.notify(ctrl, CTRL.ready);
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, CTRL.seq, seen);
  seen = Atomics.load(ctrl, CTRL.seq);
  if (Atomics.load(ctrl, CTRL.stop) === 1) break;
  const k = ctrl[CTRL.k]!;
  const nf = jobs[at]!;
  if (nf > 0) {
    const features = jobs.subarray(at + 1, at + 1 + nf);
    for (const f of features) result.fill(0, f * d.featureWidth, (f + 1) * d.featureWidth);
    accumulate(result, data, rows, ctrl[CTRL.start]!, ctrl[CTRL.end]!, gradAll.subarray(k * d.n, (k + 1) * d.n), hessAll.subarray(k * d.n, (k + 1) * d.n), features);
  }
  if (Atomics.sub(ctrl, CTRL.pending, 1) === 1) Atomics.notify(ctrl, CTRL.pending);
}
