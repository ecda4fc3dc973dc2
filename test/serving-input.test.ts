import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRows } from '../serving/input';

/** Pure checks of request rows against a model's features (the HTTP paths are in serving.test.ts). */
test('serving input: a boolean for a numeric feature is 1/0 as batch scoring casts it; other types are refused naming the field', () => {
  const features = [
    { name: 'weight', type: 'float' as const },
    { name: 'heavy', type: 'float' as const },
  ];
  const rows = checkRows(features, [{ weight: 3693, heavy: true }, { weight: 2130, heavy: false }], (i) => `instances[${i}]`);
  assert.deepEqual(rows, [
    { weight: 3693, heavy: 1 },
    { weight: 2130, heavy: 0 },
  ]);
  assert.throws(() => checkRows(features, [{ weight: 'heavy', heavy: true }], (i) => `instances[${i}]`), /instances\[0\]\.weight: expected a number, got "heavy"/);
});
