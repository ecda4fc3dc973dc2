import { DataType, GraphBuilder, ML, attr } from '../../onnx/builders';
import type { LinearModel } from '../linear-model';
import { classifierHead } from './head';
import { trainedSignature } from './signature';

/**
 * ONNX graph of a linear model (logistic or linear regression):
 *
 *   numeric inputs [N,1] float ─ Concat ─ Imputer (means) ─ Scaler (mean, 1/std) ─┐
 *   categorical input [N,1] string ─ OneHotEncoder (vocab, zeros=1) ─ Flatten ─────┼─ Concat [N,D]
 *   …                                                                              ┘
 *     regression:     LinearRegressor (targets 1) → value [N,1]
 *     classification: LinearRegressor (targets 1 | C) → margins → head (probabilities, label)
 */
export function exportLinearOnnx(model: LinearModel): Uint8Array {
  const g = new GraphBuilder(`sluice_${model.trainer}`);
  for (const f of model.features) g.input(f.input, f.kind === 'numeric' ? DataType.FLOAT : DataType.STRING, ['N', 1]);
  const blocks: string[] = [];
  const pre = model.pre;
  if (pre.numeric.length) {
    const cat = pre.numeric.length === 1 ? pre.numeric[0]!.input : g.op('Concat', pre.numeric.map((c) => c.input), { attrs: { axis: attr.i(1) } });
    const imputed = g.op('Imputer', [cat], {
      domain: ML,
      attrs: { imputed_value_floats: attr.fs(pre.numeric.map((c) => c.impute)), replaced_value_float: attr.f(NaN) },
    });
    blocks.push(
      g.op('Scaler', [imputed], { domain: ML, attrs: { offset: attr.fs(pre.numeric.map((c) => c.offset)), scale: attr.fs(pre.numeric.map((c) => c.scale)) } }),
    );
  }
  for (const c of pre.categorical) {
    if (c.vocab.length === 0) continue;
    const oh = g.op('OneHotEncoder', [c.input], { domain: ML, attrs: { cats_strings: attr.ss(c.vocab), zeros: attr.i(1) } });
    blocks.push(g.op('Flatten', [oh], { attrs: { axis: attr.i(1) } }));
  }
  if (blocks.length === 0) throw new Error('the model has no usable feature');
  const X = blocks.length === 1 ? blocks[0]! : g.op('Concat', blocks, { attrs: { axis: attr.i(1) } });
  const k = model.intercept.length;
  const regressor = { domain: ML, attrs: { coefficients: attr.fs(model.coef), intercepts: attr.fs(model.intercept), targets: attr.i(k) } };
  if (model.task === 'regression') {
    g.op('LinearRegressor', [X], { ...regressor, output: 'value' });
    g.output('value', DataType.FLOAT, ['N', 1]);
  } else {
    classifierHead(g, g.op('LinearRegressor', [X], regressor), model.classes!, model.labelType!);
  }
  return g.encode({
    docString: `Sluice ${model.trainer} model for ${model.target} (${model.task})`,
    metadata: { 'sluice.trainer': model.trainer, 'sluice.signature': JSON.stringify(trainedSignature(model)) },
  });
}
