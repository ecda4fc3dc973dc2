import { DataType, GraphBuilder, ML, attr } from '../../onnx/builders';
import type { GbdtModel } from '../gbdt/model';
import { classifierHead } from './head';
import { trainedSignature } from './signature';

/**
 * ONNX graph of a gradient-boosted ensemble:
 *
 *   numeric input [N,1] float ───────────────────────────────────────────────┐
 *   categorical input [N,1] string ─ LabelEncoder (category → code, default NaN) ┼─ Concat [N,F]
 *   …  (feature order)                                                       ┘
 *     ─ TreeEnsembleRegressor (BRANCH_LEQ on float32 thresholds, missing_value_tracks_true =
 *       learned missing direction, SUM, base_values, n_targets 1 | C)
 *     regression: → value [N,1]; classification: → margins → head (probabilities, label)
 *
 * The ensemble regressor gives raw margins and the shared head turns them into probabilities,
 * so binary and multiclass models compute exactly what the trainer computes (the classifier op's
 * binary special cases never come into play).
 */
export function exportGbdtOnnx(model: GbdtModel): Uint8Array {
  const g = new GraphBuilder('sluice_gbdt');
  const columns: string[] = [];
  for (const f of model.features) {
    if (f.kind === 'numeric') {
      columns.push(g.input(f.input, DataType.FLOAT, ['N', 1]));
    } else {
      g.input(f.input, DataType.STRING, ['N', 1]);
      const cats = f.categories ?? [];
      // missing and unknown categories become NaN and take the learned missing direction
      columns.push(
        g.op('LabelEncoder', [f.input], {
          domain: ML,
          attrs: {
            keys_strings: attr.ss(cats.length ? cats : ['']),
            values_floats: attr.fs(cats.length ? cats.map((_, i) => i) : [NaN]),
            default_float: attr.f(NaN),
          },
        }),
      );
    }
  }
  const X = columns.length === 1 ? columns[0]! : g.op('Concat', columns, { attrs: { axis: attr.i(1) } });

  const K = model.perIteration;
  const nodes = { tree: [] as number[], id: [] as number[], feature: [] as number[], value: [] as number[], mode: [] as string[], t: [] as number[], f: [] as number[], miss: [] as number[] };
  const targets = { tree: [] as number[], node: [] as number[], id: [] as number[], weight: [] as number[] };
  model.trees.forEach((tree, t) => {
    for (let j = 0; j < tree.feature.length; j++) {
      const leaf = tree.feature[j]! < 0;
      nodes.tree.push(t);
      nodes.id.push(j);
      nodes.feature.push(leaf ? 0 : tree.feature[j]!);
      nodes.value.push(leaf ? 0 : tree.threshold[j]!);
      nodes.mode.push(leaf ? 'LEAF' : 'BRANCH_LEQ');
      nodes.t.push(leaf ? 0 : tree.left[j]!);
      nodes.f.push(leaf ? 0 : tree.right[j]!);
      nodes.miss.push(!leaf && tree.missingLeft[j] ? 1 : 0);
      if (leaf) {
        targets.tree.push(t);
        targets.node.push(j);
        targets.id.push(t % K);
        targets.weight.push(tree.value[j]!);
      }
    }
  });
  if (model.trees.length === 0) {
    // no round kept: one single-leaf tree of weight 0 so the op is well-formed
    nodes.tree.push(0), nodes.id.push(0), nodes.feature.push(0), nodes.value.push(0), nodes.mode.push('LEAF'), nodes.t.push(0), nodes.f.push(0), nodes.miss.push(0);
    for (let k = 0; k < K; k++) targets.tree.push(0), targets.node.push(0), targets.id.push(k), targets.weight.push(0);
  }
  const ensemble = {
    domain: ML,
    attrs: {
      n_targets: attr.i(K),
      aggregate_function: attr.s('SUM'),
      post_transform: attr.s('NONE'),
      base_values: attr.fs(model.base),
      nodes_treeids: attr.is(nodes.tree),
      nodes_nodeids: attr.is(nodes.id),
      nodes_featureids: attr.is(nodes.feature),
      nodes_values: attr.fs(nodes.value),
      nodes_modes: attr.ss(nodes.mode),
      nodes_truenodeids: attr.is(nodes.t),
      nodes_falsenodeids: attr.is(nodes.f),
      nodes_missing_value_tracks_true: attr.is(nodes.miss),
      target_treeids: attr.is(targets.tree),
      target_nodeids: attr.is(targets.node),
      target_ids: attr.is(targets.id),
      target_weights: attr.fs(targets.weight),
    },
  };
  if (model.task === 'regression') {
    g.op('TreeEnsembleRegressor', [X], { ...ensemble, output: 'value' });
    g.output('value', DataType.FLOAT, ['N', 1]);
  } else {
    classifierHead(g, g.op('TreeEnsembleRegressor', [X], ensemble), model.classes!, model.labelType!);
  }
  return g.encode({
    docString: `Sluice gradient-boosted trees for ${model.target} (${model.task}), ${model.trees.length / K} rounds`,
    metadata: { 'sluice.trainer': 'gbdt', 'sluice.signature': JSON.stringify(trainedSignature(model)) },
  });
}
