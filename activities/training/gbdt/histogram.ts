import type { BinMatrix } from './binning';

/**
 * Gradient histograms: per feature and bin, the sum of gradients, the sum of hessians and the
 * row count of a tree node's rows, in one flat Float64Array.
 *
 * Layout: feature f's bin b is slot f * SLOTS + b, and slot s holds [G, H, count] at
 * STRIDE * s. Bins are 0..254 and missing values are bin 255 (MISSING_BIN), so the missing slot
 * is slot 255 of each feature and a row's bin is its slot with no branch.
 *
 * The pass over a node's rows is the trainer's hot loop. It reads up to six features of a row
 * in one go (one row index, one gradient and hessian read, six independent accumulations that
 * the CPU overlaps) with the features' offsets in locals: a loop over features per row, or one
 * pass per feature, is 1.5-2× slower in V8, and six features a pass beat four then two by about
 * a quarter (each pass re-reads the row index, gradient and hessian). Every slot still adds its
 * rows in row order, so the sums do not depend on how features are grouped.
 *
 * A node that holds every row in order (the root of a tree grown on all rows: every round
 * without row subsampling) takes its own pass (accumulateAll): rows are read in place, with no
 * row index, and no count is added, since a slot's count is then the data's bin count (binCounts,
 * once per trainer run, copied in by fillCounts). The count's read-add-write was a third of the
 * pass; the root, which every tree builds over all rows, was the largest share of histogram work.
 */

export const SLOTS = 256;
export const STRIDE = 3;
/** = MISSING_BIN (this module stays free of binning's imports: histogram worker threads load it). */
export const MISSING_SLOT = 255;

/**
 * Row blocks. A node's histogram is the sum, in block order, of partial histograms over fixed
 * runs of BLOCK_ROWS row positions from the node's first row (LightGBM's and scikit-learn's
 * row-wise parallel histograms): threads build the blocks' partials side by side, every thread
 * running the six-features-a-pass loop over its own rows, and the trainer's thread adds them up.
 * Block sizes depend on the data (its rows and features), never on the thread count, and a
 * single thread adds the same partials in the same order (accumulateBlocks), so the trees are
 * the same on any number of threads.
 */
export const BLOCK_ROWS = 16_384;
/** Most bytes of partial histograms a job holds (large data gets larger blocks instead). */
const MAX_PARTIAL_BYTES = 64 << 20;

/** Rows per histogram block for data of n rows and nFeatures features. */
export function histogramBlockRows(n: number, nFeatures: number): number {
  const maxBlocks = Math.max(2, Math.floor(MAX_PARTIAL_BYTES / (8 * nFeatures * SLOTS * STRIDE)));
  return Math.max(BLOCK_ROWS, Math.ceil(n / maxBlocks));
}

/** Blocks of a node of `rows` rows. */
export function blockCount(rows: number, blockRows: number): number {
  return Math.max(1, Math.ceil(rows / blockRows));
}

/**
 * accumulate over rows[start, end) block by block (see BLOCK_ROWS) on this thread: hist (zeroed)
 * gets block 0's sums, then each further block's partial (built in `partial`, a histogram of the
 * same shape) added in block order.
 */
export function accumulateBlocks(
  hist: Float64Array,
  data: BinMatrix,
  rows: Uint32Array,
  start: number,
  end: number,
  grad: Float64Array,
  hess: Float64Array,
  features: Int32Array,
  blockRows: number,
  partial: Float64Array,
  /** rows[start, end) are start..end-1 themselves: accumulateAll (no counts: the caller fills them). */
  allRows = false,
): void {
  for (let from = start; from < end || from === start; from += blockRows) {
    const to = Math.min(end, from + blockRows);
    // block 0 straight into hist, the others through the partial
    const into = from === start ? hist : partial;
    if (into === partial) for (let j = 0; j < features.length; j++) partial.fill(0, features[j]! * W, (features[j]! + 1) * W);
    if (allRows) accumulateAll(into, data, from, to, grad, hess, features);
    else accumulate(into, data, rows, from, to, grad, hess, features);
    if (into === partial) addInto(hist, partial, 0, features);
  }
}

/** hist += the partial histogram at partials[offset, offset + hist.length), over the given features' slots. */
export function addInto(hist: Float64Array, partials: Float64Array, offset: number, features: Int32Array): void {
  for (let j = 0; j < features.length; j++) {
    const o = features[j]! * W;
    const p = offset + o;
    for (let s = 0; s < W; s++) hist[o + s] = hist[o + s]! + partials[p + s]!;
  }
}

/** A histogram over nFeatures features (zeroed). */
export function newHistogram(nFeatures: number): Float64Array {
  return new Float64Array(nFeatures * SLOTS * STRIDE);
}

/** Adds rows[start, end) to hist for the given features (ascending or not; each once). */
export function accumulate(
  hist: Float64Array,
  data: BinMatrix,
  rows: Uint32Array,
  start: number,
  end: number,
  grad: Float64Array,
  hess: Float64Array,
  features: Int32Array,
): void {
  const nf = features.length;
  const { bins, nFeatures: F } = data;
  let j = 0;
  for (; j + 6 <= nf; j += 6) add6(hist, bins, F, rows, start, end, grad, hess, features[j]!, features[j + 1]!, features[j + 2]!, features[j + 3]!, features[j + 4]!, features[j + 5]!);
  // the rest (0-5) in as few passes: 4 | 3 | 3 + 2 | 2 | 1
  if (nf - j === 4) {
    add4(hist, bins, F, rows, start, end, grad, hess, features[j]!, features[j + 1]!, features[j + 2]!, features[j + 3]!);
    return;
  }
  if (nf - j >= 3) {
    add3(hist, bins, F, rows, start, end, grad, hess, features[j]!, features[j + 1]!, features[j + 2]!);
    j += 3;
  }
  if (nf - j === 2) add2(hist, bins, F, rows, start, end, grad, hess, features[j]!, features[j + 1]!);
  else if (nf - j === 1) add1(hist, bins, F, rows, start, end, grad, hess, features[j]!);
}

const W = SLOTS * STRIDE;

function add6(
  hist: Float64Array,
  bins: Uint8Array,
  F: number,
  rows: Uint32Array,
  start: number,
  end: number,
  grad: Float64Array,
  hess: Float64Array,
  fa: number,
  fb: number,
  fc: number,
  fd: number,
  fe: number,
  ff: number,
): void {
  const oa = fa * W;
  const ob = fb * W;
  const oc = fc * W;
  const od = fd * W;
  const oe = fe * W;
  const of = ff * W;
  for (let r = start; r < end; r++) {
    const i = rows[r]!;
    const g = grad[i]!;
    const h = hess[i]!;
    const p = i * F;
    let s = oa + STRIDE * bins[p + fa]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
    s = ob + STRIDE * bins[p + fb]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
    s = oc + STRIDE * bins[p + fc]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
    s = od + STRIDE * bins[p + fd]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
    s = oe + STRIDE * bins[p + fe]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
    s = of + STRIDE * bins[p + ff]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
  }
}

function add4(hist: Float64Array, bins: Uint8Array, F: number, rows: Uint32Array, start: number, end: number, grad: Float64Array, hess: Float64Array, fa: number, fb: number, fc: number, fd: number): void {
  const oa = fa * W;
  const ob = fb * W;
  const oc = fc * W;
  const od = fd * W;
  for (let r = start; r < end; r++) {
    const i = rows[r]!;
    const g = grad[i]!;
    const h = hess[i]!;
    const p = i * F;
    let s = oa + STRIDE * bins[p + fa]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
    s = ob + STRIDE * bins[p + fb]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
    s = oc + STRIDE * bins[p + fc]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
    s = od + STRIDE * bins[p + fd]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
  }
}

function add3(hist: Float64Array, bins: Uint8Array, F: number, rows: Uint32Array, start: number, end: number, grad: Float64Array, hess: Float64Array, fa: number, fb: number, fc: number): void {
  const oa = fa * W;
  const ob = fb * W;
  const oc = fc * W;
  for (let r = start; r < end; r++) {
    const i = rows[r]!;
    const g = grad[i]!;
    const h = hess[i]!;
    const p = i * F;
    let s = oa + STRIDE * bins[p + fa]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
    s = ob + STRIDE * bins[p + fb]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
    s = oc + STRIDE * bins[p + fc]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
  }
}

function add2(hist: Float64Array, bins: Uint8Array, F: number, rows: Uint32Array, start: number, end: number, grad: Float64Array, hess: Float64Array, fa: number, fb: number): void {
  const oa = fa * W;
  const ob = fb * W;
  for (let r = start; r < end; r++) {
    const i = rows[r]!;
    const g = grad[i]!;
    const h = hess[i]!;
    const p = i * F;
    let s = oa + STRIDE * bins[p + fa]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
    s = ob + STRIDE * bins[p + fb]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    hist[s + 2] = hist[s + 2]! + 1;
  }
}

function add1(hist: Float64Array, bins: Uint8Array, F: number, rows: Uint32Array, start: number, end: number, grad: Float64Array, hess: Float64Array, fa: number): void {
  const oa = fa * W;
  for (let r = start; r < end; r++) {
    const i = rows[r]!;
    const s = oa + STRIDE * bins[i * F + fa]!;
    hist[s] = hist[s]! + grad[i]!;
    hist[s + 1] = hist[s + 1]! + hess[i]!;
    hist[s + 2] = hist[s + 2]! + 1;
  }
}

/**
 * Adds rows start..end-1 (row indices, not positions: a node holding every row in order) to hist
 * for the given features: gradient and hessian sums only, count slots untouched (fillCounts).
 * Six features a pass, then three, then one.
 */
export function accumulateAll(hist: Float64Array, data: BinMatrix, start: number, end: number, grad: Float64Array, hess: Float64Array, features: Int32Array): void {
  const nf = features.length;
  const { bins, nFeatures: F } = data;
  let j = 0;
  for (; j + 6 <= nf; j += 6) all6(hist, bins, F, start, end, grad, hess, features[j]!, features[j + 1]!, features[j + 2]!, features[j + 3]!, features[j + 4]!, features[j + 5]!);
  for (; j + 3 <= nf; j += 3) all3(hist, bins, F, start, end, grad, hess, features[j]!, features[j + 1]!, features[j + 2]!);
  for (; j < nf; j++) all1(hist, bins, F, start, end, grad, hess, features[j]!);
}

function all6(
  hist: Float64Array,
  bins: Uint8Array,
  F: number,
  start: number,
  end: number,
  grad: Float64Array,
  hess: Float64Array,
  fa: number,
  fb: number,
  fc: number,
  fd: number,
  fe: number,
  ff: number,
): void {
  const oa = fa * W;
  const ob = fb * W;
  const oc = fc * W;
  const od = fd * W;
  const oe = fe * W;
  const of = ff * W;
  for (let i = start; i < end; i++) {
    const g = grad[i]!;
    const h = hess[i]!;
    const p = i * F;
    let s = oa + STRIDE * bins[p + fa]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    s = ob + STRIDE * bins[p + fb]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    s = oc + STRIDE * bins[p + fc]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    s = od + STRIDE * bins[p + fd]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    s = oe + STRIDE * bins[p + fe]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    s = of + STRIDE * bins[p + ff]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
  }
}

function all3(hist: Float64Array, bins: Uint8Array, F: number, start: number, end: number, grad: Float64Array, hess: Float64Array, fa: number, fb: number, fc: number): void {
  const oa = fa * W;
  const ob = fb * W;
  const oc = fc * W;
  for (let i = start; i < end; i++) {
    const g = grad[i]!;
    const h = hess[i]!;
    const p = i * F;
    let s = oa + STRIDE * bins[p + fa]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    s = ob + STRIDE * bins[p + fb]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
    s = oc + STRIDE * bins[p + fc]!;
    hist[s] = hist[s]! + g;
    hist[s + 1] = hist[s + 1]! + h;
  }
}

function all1(hist: Float64Array, bins: Uint8Array, F: number, start: number, end: number, grad: Float64Array, hess: Float64Array, fa: number): void {
  const oa = fa * W;
  for (let i = start; i < end; i++) {
    const s = oa + STRIDE * bins[i * F + fa]!;
    hist[s] = hist[s]! + grad[i]!;
    hist[s + 1] = hist[s + 1]! + hess[i]!;
  }
}

/** Rows per feature and bin over all rows of the data (nFeatures × SLOTS): the counts of a node holding every row. */
export function binCounts(data: BinMatrix): Float64Array {
  const { bins, nFeatures: F } = data;
  const counts = new Float64Array(F * SLOTS);
  for (let i = 0, p = 0; i < data.n; i++)
    for (let f = 0; f < F; f++, p++) {
      const s = f * SLOTS + bins[p]!;
      counts[s] = counts[s]! + 1;
    }
  return counts;
}

/** Writes binCounts into hist's count slots for the given features (after accumulateAll). */
export function fillCounts(hist: Float64Array, counts: Float64Array, features: Int32Array): void {
  for (let j = 0; j < features.length; j++) {
    const f = features[j]!;
    for (let b = 0; b < SLOTS; b++) hist[STRIDE * (f * SLOTS + b) + 2] = counts[f * SLOTS + b]!;
  }
}

/** parent -= child over the given features' slots (the histogram-subtraction trick: parent becomes the sibling's). */
export function subtractInto(parent: Float64Array, child: Float64Array, features: Int32Array, bins?: Int32Array): void {
  for (let j = 0; j < features.length; j++) {
    const f = features[j]!;
    const o = f * W;
    // Only the slots a split search reads: bins 0..nBins-1 and the missing slot (a feature of
    // 10 bins is 33 values of 768); without `bins`, all of them.
    const end = bins ? o + STRIDE * bins[f]! : o + W;
    for (let s = o; s < end; s++) parent[s] = parent[s]! - child[s]!;
    for (let s = bins ? o + STRIDE * MISSING_SLOT : end; s < o + W; s++) parent[s] = parent[s]! - child[s]!;
  }
}
