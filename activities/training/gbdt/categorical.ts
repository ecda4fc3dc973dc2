/**
 * The best split of one categorical feature at one node, from the node's histogram (per bin:
 * sum of gradients, sum of hessians, row count; bin = category code; missing values in their own slot).
 *
 * As LightGBM's FindBestThresholdCategorical and scikit-learn's HistGradientBoosting do:
 * categories with enough support at this node (sum of hessians >= catSmooth) are sorted by
 * G/(H + catSmooth), the smoothed optimal leaf direction; for two classes or squared error, the
 * best binary partition of categories is a prefix of that order (Fisher 1958), so scanning
 * prefixes from both ends finds it (up to maxCatThreshold categories on the scanned side).
 * Children are scored with l2 + catL2: many categories give a split many ways to overfit.
 *
 * The "unknown here" group: missing values, categories too rare to be ordered and categories
 * absent from the node. It goes left or right as one, by the better gain, like a numeric split's
 * missing values; the returned set sends its categories where it goes, so a category unseen at
 * this node (or by the model) follows the learned missing direction.
 */

export interface CategoricalParams {
  /** Smoothing of the G/(H + catSmooth) order, and the hessian a category needs at a node to be ordered. */
  catSmooth: number;
  /** Extra L2 on the children of a categorical split. */
  catL2: number;
  /** Most categories on the scanned side of a split. */
  maxCatThreshold: number;
  /** Rows between two candidate prefixes (and the least on the other side). */
  minDataPerGroup: number;
}

export interface CategoricalSplit {
  gain: number;
  missingLeft: boolean;
  /** Per code: 1 when it goes left. */
  cats: Uint8Array;
}

export function bestCategoricalSplit(
  hist: Float64Array,
  off: number,
  nb: number,
  node: { G: number; H: number; C: number },
  p: CategoricalParams & { l2: number; minDataInLeaf: number; minSumHessian: number },
  /** Slot of the missing values (default: right after the categories). */
  missingSlot: number = off + nb,
): CategoricalSplit | undefined {
  const { G, H, C } = node;
  // the ordered categories, and the unknown-here group (missing slot + rare categories)
  const used: number[] = [];
  const ms = 3 * missingSlot;
  let gu = hist[ms]!;
  let hu = hist[ms + 1]!;
  let cu = hist[ms + 2]!;
  const ctr = new Float64Array(nb);
  for (let b = 0; b < nb; b++) {
    const s = 3 * (off + b);
    const c = hist[s + 2]!;
    if (c === 0) continue;
    if (hist[s + 1]! >= p.catSmooth) {
      used.push(b);
      ctr[b] = hist[s]! / (hist[s + 1]! + p.catSmooth);
    } else {
      gu += hist[s]!;
      hu += hist[s + 1]!;
      cu += c;
    }
  }
  if (used.length === 0 || (used.length === 1 && cu === 0)) return undefined;
  used.sort((a, b) => ctr[a]! - ctr[b]! || a - b);

  const parent = (G * G) / (H + p.l2);
  const l2 = p.l2 + p.catL2;
  const score = (g: number, h: number) => (g * g) / (h + l2);
  const ok = (cl: number, hl: number, cr: number, hr: number) =>
    cl >= p.minDataInLeaf && cr >= p.minDataInLeaf && hl >= p.minSumHessian && hr >= p.minSumHessian && cr >= p.minDataPerGroup && cl >= p.minDataPerGroup;
  const maxNum = Math.min(p.maxCatThreshold, Math.max(1, Math.floor((used.length + 1) / 2)));

  let best: { gain: number; dir: 1 | -1; k: number; missingLeft: boolean } | undefined;
  const consider = (gain: number, dir: 1 | -1, k: number, missingLeft: boolean) => {
    if (gain > 1e-12 && (!best || gain > best.gain)) best = { gain, dir, k, missingLeft };
  };
  for (const dir of [1, -1] as const) {
    let gl = 0;
    let hl = 0;
    let cl = 0;
    let group = 0;
    for (let k = 0; k < maxNum && k < used.length; k++) {
      const b = used[dir === 1 ? k : used.length - 1 - k]!;
      const s = 3 * (off + b);
      gl += hist[s]!;
      hl += hist[s + 1]!;
      cl += hist[s + 2]!;
      group += hist[s + 2]!;
      if (k + 1 === used.length && cu === 0) break; // everything left: no split
      if (group < p.minDataPerGroup) continue;
      // unknown-here group right (when there is none, unseen values follow the larger child)
      {
        const cr = C - cl;
        if (ok(cl, hl, cr, H - hl)) {
          consider(score(gl, hl) + score(G - gl, H - hl) - parent, dir, k, cu === 0 ? cl >= cr : false);
          group = 0;
        }
      }
      // unknown-here group left
      if (cu > 0 && k + 1 < used.length) {
        const gl2 = gl + gu;
        const hl2 = hl + hu;
        const cl2 = cl + cu;
        if (ok(cl2, hl2, C - cl2, H - hl2)) {
          consider(score(gl2, hl2) + score(G - gl2, H - hl2) - parent, dir, k, true);
          group = 0;
        }
      }
    }
  }
  // every ordered category left, the unknown-here group right (numeric splits' "+∞" candidate)
  if (cu > 0) {
    const cl = C - cu;
    if (ok(cl, H - hu, cu, hu)) consider(score(G - gu, H - hu) + score(gu, hu) - parent, 1, used.length - 1, false);
  }
  if (!best) return undefined;
  const { dir, k, missingLeft, gain } = best;
  // unknown-here categories (rare or absent) go where missing values go
  const cats = new Uint8Array(nb).fill(missingLeft ? 1 : 0);
  for (const b of used) cats[b] = 0;
  for (let j = 0; j <= k; j++) cats[used[dir === 1 ? j : used.length - 1 - j]!] = 1;
  return { gain, missingLeft, cats };
}
