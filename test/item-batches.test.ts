import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BATCH_TARGET_MS, BatchSizer, MAX_ITEMS_PER_TASK } from '../pipelines/dsl/item-batches';

test('batch sizes: one item until one is measured, then about a second of work, shared fairly among lanes', () => {
  const s = new BatchSizer(undefined, 4);
  assert.equal(s.next(1000), 1, 'nothing measured yet: one item');
  s.observe(1, 10); // 10 ms an item
  assert.equal(s.next(1000), BATCH_TARGET_MS / 10);
  assert.equal(s.next(40), 10, 'no more than the items left divided among the lanes');
  assert.equal(s.next(3), 1);
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
