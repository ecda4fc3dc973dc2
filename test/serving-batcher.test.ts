import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { MicroBatcher } from '../serving/batcher';

/** The serving micro-batcher alone (a fake batch runner): how requests group into onnxruntime runs. */

/** A runner that records its batches and answers each row with row * 10, released by hand while `hold` is set. */
function recorder(opts: { hold?: boolean } = {}) {
  const batches: number[][] = [];
  const waiting: (() => void)[] = [];
  const run = (rows: number[]) => {
    batches.push(rows);
    const out = rows.map((r) => r * 10);
    if (!opts.hold) return Promise.resolve(out);
    return new Promise<number[]>((resolve) => waiting.push(() => resolve(out)));
  };
  return { batches, run, release: () => waiting.splice(0).forEach((r) => r()) };
}

test('serving batcher, no wait: requests of one event-loop turn form one batch, which leaves with no timer; later ones form the next', async () => {
  const r = recorder();
  const b = new MicroBatcher(r.run, { maxRows: 64, maxWaitMs: 0, maxInFlight: 1 });
  // Timers frozen: a wait of 0 must not be one (node makes setTimeout(0) 1 ms); the batch leaves right after this turn.
  mock.timers.enable({ apis: ['setTimeout'] });
  try {
    const first = [b.submit([1]), b.submit([2, 3]), b.submit([4])];
    assert.deepEqual(await Promise.all(first), [[10], [20, 30], [40]], 'each request gets its own rows back');
  } finally {
    mock.timers.reset();
  }
  assert.deepEqual(await b.submit([5]), [50]);
  assert.deepEqual(r.batches, [[1, 2, 3, 4], [5]]);
});

test('serving batcher: a batch holds at most maxRows and never splits a request; one larger than maxRows runs alone', async () => {
  const r = recorder();
  const b = new MicroBatcher(r.run, { maxRows: 4, maxWaitMs: 0, maxInFlight: 1 });
  const out = await Promise.all([b.submit([1, 2]), b.submit([3, 4, 5]), b.submit([6, 7, 8, 9, 10]), b.submit([11])]);
  assert.deepEqual(out, [[10, 20], [30, 40, 50], [60, 70, 80, 90, 100], [110]]);
  assert.deepEqual(r.batches, [[1, 2], [3, 4, 5], [6, 7, 8, 9, 10], [11]]);
});

test('serving batcher: what arrives while every thread is busy goes as one batch when one is free; a failed batch fails its requests only', async () => {
  const hold = { hold: true };
  const r = recorder(hold);
  let fail = false;
  const b = new MicroBatcher<number, number>((rows) => (fail ? Promise.reject(new Error('session failed')) : r.run(rows)), { maxRows: 64, maxWaitMs: 5, maxInFlight: 1 });
  const a = b.submit([1]);
  await new Promise((resolve) => setTimeout(resolve, 20)); // the first batch leaves after its wait and holds the thread
  assert.deepEqual(r.batches, [[1]]);
  const queued = [b.submit([2]), b.submit([3])];
  fail = true;
  r.release();
  assert.deepEqual(await a, [10]);
  const settled = await Promise.allSettled(queued);
  assert.ok(settled.every((s) => s.status === 'rejected' && /session failed/.test(String(s.reason))), 'both queued requests ran, together, and failed together');
  fail = false;
  hold.hold = false;
  assert.deepEqual(await b.submit([4]), [40], 'the batcher goes on after a failure');
});
