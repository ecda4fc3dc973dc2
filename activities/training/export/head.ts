import { DataType, attr, type GraphBuilder } from '../../onnx/builders';

/**
 * The classifier head every exported model shares (standard operators only), the ONNX twin of
 * head.ts: margins → `probabilities` float [N, C] (binary: Sigmoid, then [1 - p, p];
 * multiclass: Softmax over axis 1) → `label` = classes[ArgMax(probabilities)] ([N], string or
 * int64; ties go to the first class, as in the trainer).
 */
export function classifierHead(g: GraphBuilder, margins: string, classes: readonly (string | number)[], labelType: 'string' | 'int64'): void {
  const C = classes.length;
  if (C === 2) {
    const p = g.op('Sigmoid', [margins]);
    const q = g.op('Sub', [g.constFloat([1], [1], 'one'), p]);
    g.op('Concat', [q, p], { attrs: { axis: attr.i(1) }, output: 'probabilities' });
  } else {
    g.op('Softmax', [margins], { attrs: { axis: attr.i(1) }, output: 'probabilities' });
  }
  const idx = g.op('ArgMax', ['probabilities'], { attrs: { axis: attr.i(1), keepdims: attr.i(0) } });
  const labels = labelType === 'string' ? g.constString(classes.map(String), [C], 'classes') : g.constInt64(classes.map(Number), [C], 'classes');
  g.op('Gather', [labels, idx], { attrs: { axis: attr.i(0) }, output: 'label' });
  g.output('label', labelType === 'string' ? DataType.STRING : DataType.INT64, ['N']);
  g.output('probabilities', DataType.FLOAT, ['N', C]);
}
