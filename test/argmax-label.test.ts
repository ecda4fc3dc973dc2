import { test } from 'node:test';
import assert from 'node:assert/strict';
import ort from 'onnxruntime-node';
import { labelIsArgmaxOf } from '../activities/onnx/argmax-label';
import { classifierHead } from '../activities/training/export/head';
import { DataType, GraphBuilder } from '../activities/onnx/builders';

/** A margins-in classifier with Sluice's head: label = classes[ArgMax(probabilities)]. */
function headModel(classes: (string | number)[], labelType: 'string' | 'int64'): Uint8Array {
  const g = new GraphBuilder('head');
  const m = g.input('m', DataType.FLOAT, ['N', classes.length === 2 ? 1 : classes.length]);
  classifierHead(g, m, classes, labelType);
  return g.encode();
}

test('argmax label: the head Sluice exports, with string or int64 classes, in the signature\'s order only', async () => {
  const binary = headModel([0, 1], 'int64');
  assert.equal(labelIsArgmaxOf(binary, 'label', 'probabilities', [0, 1]), true);
  assert.equal(labelIsArgmaxOf(binary, 'label', 'probabilities', [1, 0]), false);
  assert.equal(labelIsArgmaxOf(binary, 'label', 'probabilities', [0, 1, 2]), false);
  const multi = headModel(['a', 'b', 'c'], 'string');
  assert.equal(labelIsArgmaxOf(multi, 'label', 'probabilities', ['a', 'b', 'c']), true);
  assert.equal(labelIsArgmaxOf(multi, 'label', 'probabilities', ['a', 'c', 'b']), false);
  assert.equal(labelIsArgmaxOf(multi, 'label', 'other', ['a', 'b', 'c']), false, 'an ArgMax of another tensor');
  assert.equal(labelIsArgmaxOf(new Uint8Array([1, 2, 3]), 'label', 'probabilities', ['a']), false, 'not a model');

  // What the graph computes, ties included (first maximum), is what the argmax of the probabilities gives.
  const session = await ort.InferenceSession.create(multi);
  try {
    const margins = Float32Array.from([1, 2, 3, 5, 5, 1, 0, 0, 0, -1, 4, 4]);
    const out = await session.run({ m: new ort.Tensor('float32', margins, [4, 3]) });
    const p = out.probabilities!.data as Float32Array;
    const argmax = [0, 1, 2, 3].map((i) => {
      let best = 0;
      for (let k = 1; k < 3; k++) if (p[i * 3 + k]! > p[i * 3 + best]!) best = k;
      return ['a', 'b', 'c'][best];
    });
    assert.deepEqual(Array.from(out.label!.data as string[]), argmax);
    assert.deepEqual(argmax, ['c', 'a', 'a', 'b']);
  } finally {
    await session.release();
  }
});
