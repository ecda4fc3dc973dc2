/**
 * Binning for the distance tests (Jensen–Shannon, PSI) and the report's charts, as Evidently's
 * get_binned_data:
 * - a numeric column with more than 20 distinct reference values: equal-width bins over the range
 *   of the pooled sample, their number by Sturges' rule — numpy.histogram_bin_edges(pooled,
 *   'sturges'): width = ptp / (log2(N) + 1), ceil(ptp / width) bins, edges from numpy.linspace —
 *   and counts as numpy.histogram with those edges (half-open bins, the last one closed);
 * - otherwise (few values, or a categorical column) one bin per value seen on either side.
 *
 * Numeric inputs are sorted, finite Float64Arrays; categorical ones are already counted.
 */

/** Above this many distinct reference values a numeric column gets Sturges bins. */
export const MAX_VALUE_BINS = 20;

export function distinctCount(sorted: Float64Array): number {
  let n = 0;
  for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) n++;
  return n;
}

/** Distinct values of the union of two sorted samples. */
export function distinctCountUnion(a: Float64Array, b: Float64Array): number {
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.length || j < b.length) {
    const v = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i]! : b[j]!;
    while (i < a.length && a[i] === v) i++;
    while (j < b.length && b[j] === v) j++;
    n++;
  }
  return n;
}

export interface ValueCounts {
  values: Float64Array;
  counts: Float64Array;
}

/** Run lengths of a sorted sample. */
export function valueCounts(sorted: Float64Array): ValueCounts {
  const n = distinctCount(sorted);
  const values = new Float64Array(n);
  const counts = new Float64Array(n);
  let k = -1;
  for (let i = 0; i < sorted.length; i++) {
    if (i === 0 || sorted[i] !== sorted[i - 1]) values[++k] = sorted[i]!;
    counts[k]!++;
  }
  return { values, counts };
}

export interface AlignedCounts<K> {
  keys: K[];
  reference: Float64Array;
  current: Float64Array;
}

/** Counts of every value seen in either sorted sample, in ascending value order. */
export function alignValueCounts(ref: Float64Array, cur: Float64Array): AlignedCounts<number> {
  const keys: number[] = [];
  const r: number[] = [];
  const c: number[] = [];
  let i = 0;
  let j = 0;
  while (i < ref.length || j < cur.length) {
    const v = j >= cur.length || (i < ref.length && ref[i]! <= cur[j]!) ? ref[i]! : cur[j]!;
    let nr = 0;
    let nc = 0;
    while (i < ref.length && ref[i] === v) {
      i++;
      nr++;
    }
    while (j < cur.length && cur[j] === v) {
      j++;
      nc++;
    }
    keys.push(v);
    r.push(nr);
    c.push(nc);
  }
  return { keys, reference: Float64Array.from(r), current: Float64Array.from(c) };
}

/** Lexicographic by code point (Python's str ordering). */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done) return y.done ? 0 : -1;
    if (y.done) return 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

/** Category counts of both sides on the union of their categories, sorted by code point. */
export function alignCategoryCounts(ref: Map<string, number>, cur: Map<string, number>): AlignedCounts<string> {
  const keys = [...new Set([...ref.keys(), ...cur.keys()])].sort(compareCodePoints);
  return {
    keys,
    reference: Float64Array.from(keys, (k) => ref.get(k) ?? 0),
    current: Float64Array.from(keys, (k) => cur.get(k) ?? 0),
  };
}

/** numpy.histogram_bin_edges over a pooled sample of `size` values spanning [min, max], bins='sturges'. */
export function sturgesEdges(min: number, max: number, size: number): Float64Array {
  let first = min;
  let last = max;
  if (first === last) {
    first -= 0.5;
    last += 0.5;
  }
  let nBins = 1;
  if (size > 0) {
    const width = (max - min) / (Math.log2(size) + 1);
    if (width) nBins = Math.ceil((last - first) / width);
  }
  return linspace(first, last, nBins + 1);
}

/** numpy.linspace(start, stop, num) with endpoint=True. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const div = num - 1;
  const delta = stop - start;
  const step = delta / div;
  for (let i = 0; i < num; i++) out[i] = step === 0 ? (i / div) * delta + start : i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** First index with sorted[i] >= v ('left') or sorted[i] > v ('right'). */
export function searchSorted(sorted: Float64Array, v: number, side: 'left' | 'right'): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (side === 'left' ? sorted[mid]! < v : sorted[mid]! <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** numpy.histogram(sorted, edges)[0]: [e_i, e_i+1) bins, the last one closed. */
export function histogram(sorted: Float64Array, edges: Float64Array): Float64Array {
  const k = edges.length - 1;
  const counts = new Float64Array(Math.max(k, 0));
  let prev = searchSorted(sorted, edges[0]!, 'left');
  for (let i = 0; i < k; i++) {
    const next = i === k - 1 ? searchSorted(sorted, edges[i + 1]!, 'right') : searchSorted(sorted, edges[i + 1]!, 'left');
    counts[i] = next - prev;
    prev = next;
  }
  return counts;
}

export type Binned =
  | { kind: 'edges'; edges: Float64Array; reference: Float64Array; current: Float64Array }
  | { kind: 'values'; keys: number[]; reference: Float64Array; current: Float64Array }
  | { kind: 'categories'; keys: string[]; reference: Float64Array; current: Float64Array };

/** Counts per bin of a numeric column, binned as Evidently's get_binned_data. */
export function binNumeric(ref: Float64Array, cur: Float64Array): Binned {
  if (distinctCount(ref) > MAX_VALUE_BINS) {
    const min = Math.min(ref[0]!, cur.length ? cur[0]! : Infinity);
    const max = Math.max(ref[ref.length - 1]!, cur.length ? cur[cur.length - 1]! : -Infinity);
    const edges = sturgesEdges(min, max, ref.length + cur.length);
    return { kind: 'edges', edges, reference: histogram(ref, edges), current: histogram(cur, edges) };
  }
  const a = alignValueCounts(ref, cur);
  return { kind: 'values', keys: a.keys, reference: a.reference, current: a.current };
}

/** Shares (count / sample size) of a binned column, before any zero filling. */
export function shares(counts: Float64Array, total: number): Float64Array {
  return counts.map((c) => c / total);
}
