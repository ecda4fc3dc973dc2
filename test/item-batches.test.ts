import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BATCH_SPLIT_FLOOR_MS, BATCH_TARGET_MS, BatchSizer, MAX_ITEMS_PER_TASK } from '../pipelines/dsl/item-batches';

test('batch sizes: one item until one is measured, then about a second of work, shared fairly among lanes', () => {
  const s = new BatchSizer(undefined, 4);
  assert.equal(s.next(1000), 1, 'nothing measured yet: one item');
  s.observe(1, 10); // 10 ms an item
  assert.equal(s.next(1000), BATCH_TARGET_MS / 10);
  assert.equal(s.next(400), 100, 'no more than the items left divided among the lanes');
  assert.equal(s.next(40), Math.floor(BATCH_SPLIT_FLOOR_MS / 10), 'but no batch split below the floor to share it');
  assert.equal(s.next(3), 3);
  assert.equal(s.next(0), 0);
  s.observe(100, 99_000); // items now average ~1 s: one per activity
  assert.equal(s.next(1000), 1);
});

test('batch sizes: fast items are capped, slow ones stay alone, a fixed size wins', () => {
  const fast = new BatchSizer(undefined, 1);
  fast.observe(50, 0); // cache hits measure nothing: the floor keeps the size finite
  assert.equal(fast.next(100_000), MAX_ITEMS_PER_TASK);
  const slow = new BatchSizer(undefined, 1);
  slow.observe(1, 5_000);
  assert.equal(slow.next(100), 1);
  const fixed = new BatchSizer(7, 8);
  assert.equal(fixed.next(100), 7, 'before any measurement too');
  fixed.observe(7, 70_000);
  assert.equal(fixed.next(100), 7);
  assert.equal(fixed.next(5), 5);
});

test('batch sizes: a leaf of fast items is not cut into many small round trips to share it among lanes; runs recorded before the floor keep their sizes', () => {
  const floor = new BatchSizer(undefined, 64);
  floor.observe(1, 1); // 1 ms an item: 1,000 items are a second of work, not 64 round trips of 16
  assert.equal(floor.next(1000), BATCH_SPLIT_FLOOR_MS);
  const before = new BatchSizer(undefined, 64, false);
  before.observe(1, 1);
  assert.equal(before.next(1000), Math.ceil(1000 / 64));
  // Slow items still share: 100 ms each, 64 lanes, 640 items: ten each.
  const slow = new BatchSizer(undefined, 64);
  slow.observe(1, 100);
  assert.equal(slow.next(640), 10);
});
