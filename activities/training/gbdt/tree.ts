import { MISSING_BIN, type BinMatrix, type BinnedFeature } from './binning';
import { bestCategoricalSplit, type CategoricalParams } from './categorical';
import { partition } from './partition';
import type { LeafRows } from './leaf-margins';
import { accumulateBlocks, binCounts, fillCounts, histogramBlockRows, MISSING_SLOT, newHistogram, SLOTS, STRIDE, subtractInto } from './histogram';
/**
 * One regression tree on gradient statistics, grown leaf-wise (best gain first, as LightGBM)
 * from histograms, with the histogram-subtraction trick (the larger child's histogram is the
 * parent's minus the smaller child's).
 *
 * Split gain (XGBoost/LightGBM second-order): GL²/(HL+λ) + GR²/(HR+λ) − G²/(H+λ); leaf value
 * −G/(H+λ) · learning rate, rounded to float32 (the value the ONNX file stores).
 *
 * Missing values: each candidate threshold is scored with the missing rows sent left and sent
 * right, and the better direction is kept (XGBoost's sparsity-aware split); "all present values
 * vs missing" is a candidate of its own (threshold +∞). When a node saw no missing value, unseen
 * missing values follow the child with more rows.
 *
 * Categorical features are split per node, as LightGBM and scikit-learn do: the node's
 * categories (its histogram bins) are sorted by G/(H + catSmooth) and the sorted order is
 * scanned from both ends for the best prefix to send left (at most maxCatThreshold categories,
 * candidates every minDataPerGroup rows, children scored with l2 + catL2). A global ordering,
 * fixed before training, cannot find a set whose gradients only line up inside a subtree (an
 * interaction); this can. Categories too rare at the node to be ordered (hessian below
 * catSmooth) or absent from it go with the missing values: "unknown here" is one group, whose
 * direction is learned like a numeric split's missing direction. See categorical.ts.
 *
 * Ties are broken by order (feature, then bin, then missing-right first): deterministic.
 */

export interface TreeParams extends CategoricalParams {
  maxLeaves: number;
  /** 0: unlimited. */
  maxDepth: number;
  minDataInLeaf: number;
  minSumHessian: number;
  l2: number;
  minGainToSplit: number;
  learningRate: number;
}

/** Node arrays; a leaf has feature -1. Node 0 is the root. */
export interface Tree {
  feature: number[];
  /** Split bin: left when bin <= bin[node] (numeric splits). */
  bin: number[];
  /** Categorical splits: per code (bin) 1 when it goes left; null for numeric splits and leaves. */
  cats: (Uint8Array | null)[];
  /** float32 threshold: left when x <= threshold (Infinity: every present value). */
  threshold: number[];
  left: number[];
  right: number[];
  missingLeft: boolean[];
  /** Leaf value (float32). */
  value: number[];
}

export interface GrowInput {
  data: BinMatrix;
  features: readonly BinnedFeature[];
  grad: Float64Array;
  hess: Float64Array;
  /** Rows this tree learns from (the iteration's sample). */
  rows: Uint32Array;
  /** rows is every row of data in order (0..n-1): the root's histogram takes histogram.ts's accumulateAll. */
  allRows?: boolean;
  /** Features it may split on. */
  allowed: readonly number[];
  /** Called once the tree is grown with its leaves in the workspace's row order (spares the caller routing rows again: leaf-margins.ts). */
  onLeaves?: (leaves: LeafRows) => void;
  /**
   * Adds the workspace's rows[start, end) to a zeroed histogram for the given features (default:
   * on this thread; histogram-threads.ts spreads it over cores). allRows: rows[start, end) are
   * start..end-1 and the count slots are left alone (histogram.ts accumulateAll).
   */
  histograms?: (hist: Float64Array, start: number, end: number, features: Int32Array, allRows: boolean) => void;
  /** Stable partition of the workspace's rows[start, end) by feature f's bins (default: partition.ts on this thread); returns the first right row. */
  partition?: (start: number, end: number, feature: number, goesLeft: Uint8Array) => number;
}

/** Buffers a tree's growth reuses (one per trainer run, sized for its largest sample). */
export interface GrowWorkspace {
  rows: Uint32Array;
  scratch: Uint32Array;
  /**
   * Histograms of the last tree's leaves, for the next tree's nodes: a fresh one per node cost an
   * allocation of nFeatures × 6 KiB outside V8's heap, and the garbage collections it set off.
   */
  spareHistograms: Float64Array[];
  /** The bin counts over every row (histogram.ts binCounts) of the data they were counted on: the root's counts when a tree sees every row. */
  allRowCounts?: { data: BinMatrix; counts: Float64Array };
}

/** shared: in SharedArrayBuffers, for histogram threads. */
export function growWorkspace(n: number, shared = false): GrowWorkspace {
  const buffer = () => (shared ? new SharedArrayBuffer(4 * n) : new ArrayBuffer(4 * n));
  return { rows: new Uint32Array(buffer()), scratch: new Uint32Array(buffer()), spareHistograms: [] };
}

export interface Split {
  gain: number;
  feature: number;
  bin: number;
  missingLeft: boolean;
  /** Categorical: the codes sent left (1), per bin. */
  cats?: Uint8Array;
}

interface Leaf {
  node: number;
  start: number;
  end: number;
  depth: number;
  g: number;
  h: number;
  /** undefined: a leaf that can never be split (see growTree's final splits), which needs none. */
  hist: Float64Array | undefined;
  split: Split | undefined;
}

export function growTree(inp: GrowInput, p: TreeParams, ws: GrowWorkspace = growWorkspace(inp.rows.length)): Tree {
  const { grad, hess, data } = inp;
  const nFeatures = data.nFeatures;
  const n = inp.rows.length;
  const rows = ws.rows.subarray(0, n);
  rows.set(inp.rows);
  const scratch = ws.scratch;
  const allowed = Int32Array.from(inp.allowed);

  const tree: Tree = { feature: [], bin: [], cats: [], threshold: [], left: [], right: [], missingLeft: [], value: [] };
  const newNode = () => {
    tree.feature.push(-1);
    tree.bin.push(0);
    tree.cats.push(null);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.missingLeft.push(false);
    tree.value.push(0);
    return tree.feature.length - 1;
  };

  // on this thread: row blocks as histogram threads cut them, so that the sums are theirs
  const blockRows = histogramBlockRows(data.n, nFeatures);
  const partial = inp.histograms ? undefined : newHistogram(nFeatures);
  const W = SLOTS * STRIDE;
  const spares = ws.spareHistograms;
  const build = (start: number, end: number, allRows = false): Float64Array => {
    // a spare one has other sums in the allowed features' slots (the only ones read)
    let hist = spares.pop();
    if (hist && hist.length === nFeatures * W) for (const f of allowed) hist.fill(0, f * W, (f + 1) * W);
    else hist = newHistogram(nFeatures);
    if (inp.histograms) inp.histograms(hist, start, end, allowed, allRows);
    else accumulateBlocks(hist, data, rows, start, end, grad, hess, allowed, blockRows, partial!, allRows);
    if (allRows) {
      if (ws.allRowCounts?.data !== data) ws.allRowCounts = { data, counts: binCounts(data) };
      fillCounts(hist, ws.allRowCounts.counts, allowed);
    }
    return hist;
  };

  const score = (g: number, h: number) => (g * g) / (h + p.l2);

  const findSplit = (leaf: Leaf): Split | undefined => {
    const C = leaf.end - leaf.start;
    if (C < 2 * p.minDataInLeaf) return undefined;
    if (p.maxDepth > 0 && leaf.depth >= p.maxDepth) return undefined;
    const { g: G, h: H } = leaf;
    const hist = leaf.hist!;
    const parent = score(G, H);
    let best: Split | undefined;
    const ok = (cl: number, hl: number, cr: number, hr: number) =>
      cl >= p.minDataInLeaf && cr >= p.minDataInLeaf && hl >= p.minSumHessian && hr >= p.minSumHessian;
    const consider = (gain: number, feature: number, bin: number, missingLeft: boolean, cats?: Uint8Array) => {
      if (gain > p.minGainToSplit && gain > 1e-12 && (!best || gain > best.gain)) best = cats ? { gain, feature, bin, missingLeft, cats } : { gain, feature, bin, missingLeft };
    };
    for (const f of inp.allowed) {
      const nb = inp.features[f]!.nBins;
      const off = f * SLOTS;
      if (inp.features[f]!.kind === 'categorical') {
        const c = bestCategoricalSplit(hist, off, nb, { G, H, C }, p, off + MISSING_SLOT);
        if (c) consider(c.gain, f, 0, c.missingLeft, c.cats);
        continue;
      }
      const ms = STRIDE * (off + MISSING_SLOT);
      const gm = hist[ms]!;
      const hm = hist[ms + 1]!;
      const cm = hist[ms + 2]!;
      let gl = 0;
      let hl = 0;
      let cl = 0;
      for (let b = 0; b < nb - 1; b++) {
        const s = STRIDE * (off + b);
        gl += hist[s]!;
        hl += hist[s + 1]!;
        cl += hist[s + 2]!;
        if (cl === 0) continue;
        // missing right
        {
          const gr = G - gl;
          const hr = H - hl;
          const cr = C - cl;
          // (with missing rows, a right side of missing rows only is the +∞ candidate below)
          if (cr - cm > 0 && ok(cl, hl, cr, hr)) consider(score(gl, hl) + score(gr, hr) - parent, f, b, cm === 0 ? cl >= cr : false);
        }
        // missing left
        if (cm > 0) {
          const gl2 = gl + gm;
          const hl2 = hl + hm;
          const cl2 = cl + cm;
          const cr = C - cl2;
          if (cr > 0 && ok(cl2, hl2, cr, H - hl2)) consider(score(gl2, hl2) + score(G - gl2, H - hl2) - parent, f, b, true);
        }
      }
      // every present value left, missing right
      if (cm > 0 && C - cm > 0) {
        const gl2 = G - gm;
        const hl2 = H - hm;
        if (ok(C - cm, hl2, cm, hm)) consider(score(gl2, hl2) + score(gm, hm) - parent, f, nb - 1, false);
      }
    }
    return best;
  };

  const leafValue = (g: number, h: number) => Math.fround((-g / (h + p.l2)) * p.learningRate);

  // per feature, the bins the split search and the totals read (besides the missing slot)
  const binsRead = Int32Array.from(inp.features, (f) => Math.min(f.nBins, MISSING_SLOT));

  // a node's gradient and hessian sums, from its histogram: every row is in one slot of each feature
  const totals = (hist: Float64Array, f: number): { g: number; h: number } => {
    const off = f * SLOTS;
    const nb = inp.features[f]!.nBins;
    let g = 0;
    let h = 0;
    for (let b = 0; b <= nb; b++) {
      const s = STRIDE * (off + (b === nb ? MISSING_SLOT : b));
      g += hist[s]!;
      h += hist[s + 1]!;
    }
    return { g, h };
  };

  // root (its sums from its histogram, not another pass over the rows)
  const root = newNode();
  const leaves: Leaf[] = [];
  const rootHist = build(0, n, inp.allRows === true && n === data.n);
  let { g: g0, h: h0 } = allowed.length ? totals(rootHist, allowed[0]!) : { g: 0, h: 0 };
  if (!allowed.length) for (let r = 0; r < n; r++) (g0 += grad[rows[r]!]!), (h0 += hess[rows[r]!]!); // (no feature: no histogram)
  const first: Leaf = { node: root, start: 0, end: n, depth: 0, g: g0, h: h0, hist: rootHist, split: undefined };
  first.split = findSplit(first);
  leaves.push(first);

  // per bin of the split feature: 1 when its rows go left (the missing bin included)
  const goesLeft = new Uint8Array(SLOTS);
  while (leaves.length < p.maxLeaves) {
    let bi = -1;
    for (let i = 0; i < leaves.length; i++) {
      const s = leaves[i]!.split;
      if (s && (bi < 0 || s.gain > leaves[bi]!.split!.gain)) bi = i;
    }
    if (bi < 0) break;
    const leaf = leaves[bi]!;
    const sp = leaf.split!;
    const f = sp.feature;
    const cats = sp.cats;
    for (let b = 0; b < SLOTS; b++) goesLeft[b] = b === MISSING_BIN ? (sp.missingLeft ? 1 : 0) : cats ? (cats[b] ?? 0) : b <= sp.bin ? 1 : 0;
    const mid = inp.partition ? inp.partition(leaf.start, leaf.end, f, goesLeft) : partition(rows, scratch, leaf.start, leaf.end, data.columns[f]!, goesLeft);
    const nl = mid - leaf.start;
    const nr = leaf.end - mid;

    const ln = newNode();
    const rn = newNode();
    const node = leaf.node;
    tree.feature[node] = f;
    tree.bin[node] = sp.bin;
    tree.cats[node] = cats ?? null;
    const t = inp.features[f]!.thresholds;
    tree.threshold[node] = cats ? 0 : sp.bin < t.length ? t[sp.bin]! : Infinity;
    tree.left[node] = ln;
    tree.right[node] = rn;
    tree.missingLeft[node] = sp.missingLeft;

    // children that can never be split (the last split of a full tree, or both too small or too
    // deep) need no histogram: their sums come from the parent's, over the bins that go left
    const childDepth = leaf.depth + 1;
    if (leaves.length + 1 >= p.maxLeaves || Math.max(nl, nr) < 2 * p.minDataInLeaf || (p.maxDepth > 0 && childDepth >= p.maxDepth)) {
      const hist = leaf.hist!;
      const off = f * SLOTS;
      let gL = 0;
      let hL = 0;
      for (let b = 0; b < SLOTS; b++) {
        if (goesLeft[b] === 0) continue;
        gL += hist[STRIDE * (off + b)]!;
        hL += hist[STRIDE * (off + b) + 1]!;
      }
      spares.push(hist);
      const L: Leaf = { node: ln, start: leaf.start, end: mid, depth: childDepth, g: gL, h: hL, hist: undefined, split: undefined };
      const R: Leaf = { node: rn, start: mid, end: leaf.end, depth: childDepth, g: leaf.g - gL, h: leaf.h - hL, hist: undefined, split: undefined };
      leaves.splice(bi, 1, L, R);
      continue;
    }
    const leftSmaller = nl <= nr;
    const small = leftSmaller ? build(leaf.start, mid) : build(mid, leaf.end);
    const large = leaf.hist!; // reuse: parent − small
    subtractInto(large, small, allowed, binsRead);
    // totals of the smaller child, from its split feature's histogram
    const { g: gs, h: hs } = totals(small, f);
    const gL = leftSmaller ? gs : leaf.g - gs;
    const hL = leftSmaller ? hs : leaf.h - hs;
    const L: Leaf = { node: ln, start: leaf.start, end: mid, depth: childDepth, g: gL, h: hL, hist: leftSmaller ? small : large, split: undefined };
    const R: Leaf = { node: rn, start: mid, end: leaf.end, depth: childDepth, g: leaf.g - gL, h: leaf.h - hL, hist: leftSmaller ? large : small, split: undefined };
    L.split = findSplit(L);
    R.split = findSplit(R);
    leaves.splice(bi, 1, L, R);
  }
  for (const leaf of leaves) {
    tree.value[leaf.node] = leafValue(leaf.g, leaf.h);
    if (leaf.hist) spares.push(leaf.hist);
  }
  if (inp.onLeaves) {
    // leaves stay in row order: a split replaces its leaf by the left then the right child
    const bounds = new Int32Array(leaves.length + 1);
    const values = new Float64Array(leaves.length);
    leaves.forEach((leaf, j) => {
      bounds[j] = leaf.start;
      values[j] = tree.value[leaf.node]!;
    });
    bounds[leaves.length] = n;
    inp.onLeaves({ count: leaves.length, bounds, values });
  }
  return tree;
}

/** Leaf reached by row i of binned data. */
export function leafOfBinned(tree: Tree, data: BinMatrix, i: number): number {
  let node = 0;
  const p = i * data.nFeatures;
  while (tree.feature[node]! >= 0) {
    const b = data.bins[p + tree.feature[node]!]!;
    const cats = tree.cats[node];
    node = (b === MISSING_BIN ? tree.missingLeft[node] : cats ? cats[b] === 1 : b <= tree.bin[node]!) ? tree.left[node]! : tree.right[node]!;
  }
  return node;
}

/**
 * Leaf reached by a row of float32 feature values (what onnxruntime does: x <= threshold, or the
 * code x in the node's set; NaN by missing direction).
 */
export function leafOfValues(tree: Tree, x: readonly Float32Array[], i: number): number {
  let node = 0;
  while (tree.feature[node]! >= 0) {
    const v = x[tree.feature[node]!]![i]!;
    const cats = tree.cats[node];
    node = (Number.isNaN(v) ? tree.missingLeft[node] : cats ? cats[v] === 1 : v <= tree.threshold[node]!) ? tree.left[node]! : tree.right[node]!;
  }
  return node;
}
