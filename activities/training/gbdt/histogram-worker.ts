import { workerData } from 'node:worker_threads';
import { CTRL, ThreadBlocks, waitWhile, type HistogramThreadData } from './thread-blocks';

/**
 * A histogram thread (see histogram-threads.ts): sleeps on the shared control word until a job
 * is opened, then claims and runs the job's blocks as the trainer's thread does
 * (thread-blocks.ts) until none is left. Everything it reads (bins, gradients, row order) is
 * shared memory the trainer writes between jobs, so a job is a few integers.
 */

const blocks = new ThreadBlocks(workerData as HistogramThreadData);
const { ctrl } = blocks;

Atomics.add(ctrl, CTRL.ready, 1);
Atomics.notify(ctrl, CTRL.ready);
let seen = 0;
for (;;) {
  // spins a little, then sleeps re-checking every WAIT_RECHECK_MS: a lost wake-up must not leave a job to the trainer alone for long
  seen = waitWhile(ctrl, CTRL.seq, seen, CTRL.seqSleepers);
  if (Atomics.load(ctrl, CTRL.stop) === 1) break;
  blocks.work();
}
