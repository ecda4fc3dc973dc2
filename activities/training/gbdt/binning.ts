import { MISSING_STRING, type FeatureColumn, type RawTable } from '../data/design-matrix';

/**
 * Histogram binning. Every feature becomes small integer bins (Uint8, MISSING = 255), and each
 * bin boundary is a float32 threshold, so a split "bin <= b" is exactly "x <= threshold[b]" on the
 * float32 value the ONNX model sees (TreeEnsemble BRANCH_LEQ).
 *
 * - numeric: with at most maxBins distinct values, one bin per value and thresholds halfway
 *   between neighbours; otherwise greedy equal-frequency bins over the sorted values (of an evenly
 *   strided sample of BINNING_SAMPLE values on large data).
 * - categorical: the `maxCategories` most frequent values get codes 0..K-1 (one bin each, by
 *   frequency, ties by code point). The codes carry no order: trees split them per node into
 *   sets (categorical.ts). The ONNX graph maps strings to these codes with a LabelEncoder;
 *   missing and unknown values become NaN and follow the split's learned missing direction.
 */

export const MISSING_BIN = 255;
export const MAX_BINS = 255;

export interface BinnedFeature {
  column: string;
  input: string;
  kind: 'numeric' | 'categorical';
  /** Upper bounds of bins 0..nBins-2 (float32, ascending); the last bin is unbounded. */
  thresholds: number[];
  nBins: number;
  /** Categorical: the category of each code (code = index). */
  categories?: string[];
}

/**
 * Fits the binning of the training table and bins it into `into` (binTable bins other tables with
 * the result). A categorical column's strings are hashed once (categoryBins): a vocabulary count
 * then binTable's code look-ups hashed each row three times, on the trainer's thread alone before
 * any tree.
 */
export function binTraining(raw: RawTable, features: readonly FeatureColumn[], opts: { maxBins: number; maxCategories: number }, into: BinMatrix): BinnedFeature[] {
  const maxBins = Math.min(MAX_BINS, Math.max(2, opts.maxBins));
  const n = raw.n;
  const F = features.length;
  if (into.n !== n || into.nFeatures !== F) throw new Error(`a ${into.n} × ${into.nFeatures} bin matrix for ${n} rows of ${F} features`);
  const binned = features.map((f, j): BinnedFeature => {
    const col = into.columns[j]!;
    if (f.kind === 'numeric') {
      const x = raw.numeric.get(f.column)!;
      const thresholds = numericThresholds(x, maxBins);
      const feature: BinnedFeature = { column: f.column, input: f.input, kind: 'numeric', thresholds, nBins: thresholds.length + 1 };
      col.set(binValues(x, feature));
      return feature;
    }
    const categories = categoryBins(raw.strings.get(f.column)!, Math.min(maxBins, opts.maxCategories), col);
    const thresholds = categories.slice(0, -1).map((_, c) => c + 0.5);
    return { column: f.column, input: f.input, kind: 'categorical', thresholds, nBins: Math.max(1, categories.length), categories };
  });
  const { bins } = into;
  for (let j = 0; j < F; j++) {
    const col = into.columns[j]!;
    for (let i = 0; i < n; i++) bins[i * F + j] = col[i]!;
  }
  return binned;
}

/**
 * The vocabulary design-matrix.ts's vocabulary() gives (the maxCategories most frequent values, by
 * count then code point) and each row's bin (its code; MISSING_BIN when missing or not kept), in
 * one hashing pass: a first-seen id per row, counted, then the ids' codes.
 */
function categoryBins(values: readonly string[], maxCategories: number, out: Uint8Array): string[] {
  const ids = new Map<string, number>();
  const keys: string[] = [];
  let counts = new Int32Array(256);
  const rowIds = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === MISSING_STRING) {
      rowIds[i] = -1;
      continue;
    }
    let id = ids.get(v);
    if (id === undefined) {
      id = keys.length;
      ids.set(v, id);
      keys.push(v);
      if (id === counts.length) {
        const grown = new Int32Array(2 * counts.length);
        grown.set(counts);
        counts = grown;
      }
    }
    counts[id] = counts[id]! + 1;
    rowIds[i] = id;
  }
  const kept = keys.map((_, id) => id).sort((a, b) => counts[b]! - counts[a]! || (keys[a]! < keys[b]! ? -1 : 1)).slice(0, maxCategories);
  const codeOf = new Uint8Array(keys.length).fill(MISSING_BIN);
  kept.forEach((id, code) => (codeOf[id] = code));
  for (let i = 0; i < values.length; i++) {
    const id = rowIds[i]!;
    out[i] = id < 0 ? MISSING_BIN : codeOf[id]!;
  }
  return kept.map((id) => keys[id]!);
}

/** Bin boundaries are computed from at most this many values (an evenly strided sample), as LightGBM does. */
export const BINNING_SAMPLE = 200_000;

function numericThresholds(x: Float32Array, maxBins: number): number[] {
  let m = 0;
  const present = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v === v) present[m++] = v; // not NaN
  }
  if (m === 0) return [];
  let values: Float32Array;
  if (m > BINNING_SAMPLE) {
    values = new Float32Array(BINNING_SAMPLE);
    for (let i = 0; i < BINNING_SAMPLE; i++) values[i] = present[Math.floor((i * m) / BINNING_SAMPLE)]!;
  } else values = present.subarray(0, m);
  values.sort();
  const uniq = new Float64Array(values.length);
  const counts = new Int32Array(values.length);
  let u = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (u > 0 && uniq[u - 1] === v) counts[u - 1] = counts[u - 1]! + 1;
    else {
      uniq[u] = v;
      counts[u++] = 1;
    }
  }
  const cuts: number[] = []; // index k: a boundary between uniq[k] and uniq[k + 1]
  if (u <= maxBins) {
    for (let k = 0; k + 1 < u; k++) cuts.push(k);
  } else {
    const per = values.length / maxBins;
    let acc = 0;
    for (let k = 0; k + 1 < u && cuts.length < maxBins - 1; k++) {
      acc += counts[k]!;
      if (acc >= per * (cuts.length + 1)) cuts.push(k);
    }
  }
  return cuts.map((k) => between(uniq[k]!, uniq[k + 1]!));
}

/** A float32 t with a <= t < b (a, b float32, a < b). */
function between(a: number, b: number): number {
  const t = Math.fround(a / 2 + b / 2);
  return t >= a && t < b ? t : a;
}

/** The float32 value a feature has in the model: the number itself, or the category's code (NaN if missing or unknown). */
export function featureValues(raw: RawTable, f: BinnedFeature): Float32Array {
  if (f.kind === 'numeric') return raw.numeric.get(f.column)!;
  const codes = new Map(f.categories!.map((c, i) => [c, i]));
  const s = raw.strings.get(f.column)!;
  const out = new Float32Array(raw.n);
  for (let i = 0; i < raw.n; i++) out[i] = codes.get(s[i]!) ?? NaN;
  return out;
}

/** Bin index of each value (MISSING_BIN for NaN). */
export function binValues(x: Float32Array, f: BinnedFeature): Uint8Array {
  const out = new Uint8Array(x.length);
  if (f.kind === 'categorical') {
    // a code's bin is the code (thresholds c + 0.5): no search
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      out[i] = v === v ? v : MISSING_BIN;
    }
    return out;
  }
  const t = Float64Array.from(f.thresholds);
  const m = t.length;
  // a row often repeats the last row's value (tables sorted by time: its hour, its day)
  let last = NaN;
  let lastBin = MISSING_BIN;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v === last) {
      out[i] = lastBin;
      continue;
    }
    let lo = MISSING_BIN;
    if (v === v) {
      // first b with v <= t[b], or m: a search whose steps do not branch on the data
      lo = 0;
      let len = m;
      while (len > 0) {
        const half = len >>> 1;
        const right = v > t[lo + half]!;
        lo = right ? lo + half + 1 : lo;
        len = right ? len - half - 1 : half;
      }
    }
    out[i] = lo;
    last = v;
    lastBin = lo;
  }
  return out;
}

/**
 * The training rows' bins, in both layouts (n × features bytes each):
 * - row-major `bins`: row i's bin of feature f at i * nFeatures + f. A histogram pass reads every
 *   feature of each of a node's (scattered) rows: row-major puts those bytes on one cache line.
 * - column-major `columns[f]`: the split feature of a node partition, read for its rows in
 *   ascending order: one feature's column is n bytes that stay in cache, where a stride of
 *   nFeatures through the row-major matrix is half as fast.
 */
export interface BinMatrix {
  n: number;
  nFeatures: number;
  bins: Uint8Array;
  columns: Uint8Array[];
}

/** A BinMatrix of n rows and nFeatures features to fill (binTable), in SharedArrayBuffers: histogram threads read them. */
export function emptyBinMatrix(n: number, nFeatures: number): BinMatrix {
  return { n, nFeatures, bins: new Uint8Array(new SharedArrayBuffer(n * nFeatures)), columns: Array.from({ length: nFeatures }, () => new Uint8Array(new SharedArrayBuffer(n))) };
}

/** The table's bins, in `into` when given (the trainer hands it to threads before it is filled). */
export function binTable(raw: RawTable, features: readonly BinnedFeature[], into: BinMatrix = emptyBinMatrix(raw.n, features.length)): BinMatrix {
  const n = raw.n;
  const F = features.length;
  if (into.n !== n || into.nFeatures !== F) throw new Error(`a ${into.n} × ${into.nFeatures} bin matrix for ${n} rows of ${F} features`);
  const { bins } = into;
  features.forEach((f, j) => {
    const col = into.columns[j]!;
    col.set(binValues(featureValues(raw, f), f));
    for (let i = 0; i < n; i++) bins[i * F + j] = col[i]!;
  });
  return into;
}
