import { DataType, GraphBuilder, ML, OPSET_ML5, attr } from '../../onnx/builders';
import type { GbdtModel } from '../gbdt/model';
import { classifierHead } from './head';
import { trainedSignature } from './signature';

/**
 * ONNX graph of a gradient-boosted ensemble:
 *
 *   numeric input [N,1] float ───────────────────────────────────────────────┐
 *   categorical input [N,1] string ─ LabelEncoder (category → code, default NaN) ┼─ Concat [N,F]
 *   …  (feature order)                                                       ┘
 *     ─ TreeEnsemble (ai.onnx.ml 5: BRANCH_LEQ on float32 thresholds, BRANCH_MEMBER on the
 *       codes a categorical split sends left, missing_value_tracks_true = learned missing
 *       direction, SUM, n_targets 1 | C) ─ Add base scores
 *     regression: → value [N,1]; classification: → margins → head (probabilities, label)
 *
 * TreeEnsemble (opset 5) is the standard tree operator with set-membership splits; onnxruntime
 * runs it (small sets as a bitmask, large ones as a sorted set). It has no base_values, hence
 * the Add. Its nodes come in two lists, internal nodes (nodes_*) and leaves (leaf_*); a child
 * is either, as nodes_trueleafs / nodes_falseleafs say.
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
  const ensemble = g.op('TreeEnsemble', [X], { domain: ML, attrs: ensembleAttributes(model, K) });
  const margins = g.op('Add', [ensemble, g.constFloat(model.base, [1, K], 'base')], model.task === 'regression' ? { output: 'value' } : {});
  if (model.task === 'regression') g.output('value', DataType.FLOAT, ['N', 1]);
  else classifierHead(g, margins, model.classes!, model.labelType!);
  return g.encode({
    docString: `Sluice gradient-boosted trees for ${model.target} (${model.task}), ${model.trees.length / K} rounds`,
    metadata: { 'sluice.trainer': 'gbdt', 'sluice.signature': JSON.stringify(trainedSignature(model)) },
    mlOpset: OPSET_ML5,
  });
}

/** Node modes of TreeEnsemble (ai.onnx.ml 5). */
const BRANCH_LEQ = 0;
const BRANCH_MEMBER = 6;

/** TreeEnsemble attributes: the trees' internal nodes and leaves, renumbered into the op's two lists. */
function ensembleAttributes(model: GbdtModel, K: number) {
  const n = { feature: [] as number[], split: [] as number[], mode: [] as number[], t: [] as number[], tLeaf: [] as number[], f: [] as number[], fLeaf: [] as number[], miss: [] as number[] };
  const leaf = { target: [] as number[], weight: [] as number[] };
  const roots: number[] = [];
  /** Membership sets of the BRANCH_MEMBER nodes in node order, each closed by NaN. */
  const members: number[] = [];
  const addLeaf = (target: number, weight: number) => {
    leaf.weight.push(weight);
    return leaf.target.push(target) - 1;
  };
  /** A tree that is one leaf: a root whose two children are that leaf. */
  const singleLeaf = (target: number, weight: number) => {
    const at = addLeaf(target, weight);
    roots.push(n.feature.length);
    n.feature.push(0), n.split.push(0), n.mode.push(BRANCH_LEQ), n.t.push(at), n.tLeaf.push(1), n.f.push(at), n.fLeaf.push(1), n.miss.push(0);
  };
  model.trees.forEach((tree, ti) => {
    const k = ti % K;
    if (tree.feature[0]! < 0) return singleLeaf(k, tree.value[0]!);
    // every node gets its index in its list first, so children can be referred to
    const at = new Int32Array(tree.feature.length);
    const internal: number[] = [];
    for (let j = 0; j < tree.feature.length; j++) {
      if (tree.feature[j]! >= 0) {
        at[j] = n.feature.length + internal.length;
        internal.push(j);
      } else at[j] = addLeaf(k, tree.value[j]!);
    }
    roots.push(at[0]!);
    const isLeaf = (j: number) => (tree.feature[j]! < 0 ? 1 : 0);
    for (const j of internal) {
      const cats = tree.cats[j];
      const l = tree.left[j]!;
      const r = tree.right[j]!;
      n.feature.push(tree.feature[j]!);
      n.split.push(cats ? 0 : tree.threshold[j]!);
      n.mode.push(cats ? BRANCH_MEMBER : BRANCH_LEQ);
      n.t.push(at[l]!), n.tLeaf.push(isLeaf(l)), n.f.push(at[r]!), n.fLeaf.push(isLeaf(r));
      n.miss.push(tree.missingLeft[j] ? 1 : 0);
      if (cats) {
        for (let c = 0; c < cats.length; c++) if (cats[c] === 1) members.push(c);
        members.push(NaN);
      }
    }
  });
  // no round kept: one single-leaf tree of weight 0 per output so the op is well-formed
  if (model.trees.length === 0) for (let k = 0; k < K; k++) singleLeaf(k, 0);
  const floats = (values: number[]) => attr.t({ dims: [values.length], data: { kind: 'float', values } });
  return {
    n_targets: attr.i(K),
    aggregate_function: attr.i(1), // SUM
    post_transform: attr.i(0), // NONE
    tree_roots: attr.is(roots),
    nodes_featureids: attr.is(n.feature),
    nodes_splits: floats(n.split),
    nodes_modes: attr.t({ dims: [n.mode.length], data: { kind: 'uint8', values: n.mode } }),
    nodes_truenodeids: attr.is(n.t),
    nodes_trueleafs: attr.is(n.tLeaf),
    nodes_falsenodeids: attr.is(n.f),
    nodes_falseleafs: attr.is(n.fLeaf),
    nodes_missing_value_tracks_true: attr.is(n.miss),
    ...(members.length ? { membership_values: floats(members) } : {}),
    leaf_targetids: attr.is(leaf.target),
    leaf_weights: floats(leaf.weight),
  };
}
