import { kstwoSf } from './kolmogorov';

/**
 * The two-sample Kolmogorov–Smirnov test, two-sided, as scipy.stats.ks_2samp computes it:
 *
 * - D = max |F1 − F2| over the pooled sample, with the empirical CDFs counted as scipy does
 *   (searchsorted 'right', then i/n1 − j/n2 in floating point), so ties are handled exactly.
 * - method 'auto' (default): exact when max(n1, n2) <= 10000, otherwise asymptotic.
 * - exact: h = round(D · lcm(n1, n2)); n1 = n2 uses `_compute_prob_outside_square` (a Horner-like
 *   alternating sum of binomial ratios), n1 ≠ n2 the "inside method" lattice-path recursion of
 *   `_compute_outer_prob_inside_method` (Hodges 1958, with Viehmann's recursion for 1 − p). The
 *   reported statistic is then h / lcm, as in scipy. A result outside [0, 1] falls back to asymp.
 * - asymptotic: kstwo.sf(D, round(n1·n2/(n1+n2))) with numpy's round-half-to-even.
 *
 * Inputs are sorted, finite, non-empty Float64Arrays (see clean.ts).
 */

export const KS_MAX_AUTO_N = 10000;

export type KsMethod = 'auto' | 'exact' | 'asymp';

export interface KsResult {
  statistic: number;
  pValue: number;
  method: 'exact' | 'asymp';
}

/** The two-sided statistic over sorted samples. */
export function ksStatistic(a: Float64Array, b: Float64Array): number {
  const n1 = a.length;
  const n2 = b.length;
  let i = 0;
  let j = 0;
  let maxS = -Infinity;
  let minS = Infinity;
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && a[i]! <= b[j]!) ? a[i]! : b[j]!;
    while (i < n1 && a[i]! <= v) i++;
    while (j < n2 && b[j]! <= v) j++;
    const diff = i / n1 - j / n2;
    if (diff > maxS) maxS = diff;
    if (diff < minS) minS = diff;
  }
  const minClipped = Math.min(Math.max(-minS, 0), 1);
  return minClipped > maxS ? minClipped : maxS;
}

export function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y) [x, y] = [y, x % y];
  return x;
}

/** numpy.round: half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Pr(D_{n,n} >= h/n), scipy `_compute_prob_outside_square`. */
export function probOutsideSquare(n: number, h: number): number {
  let P = 0;
  let k = Math.floor(n / h);
  while (k >= 0) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1 - P);
    k -= 1;
  }
  return 2 * P;
}

/**
 * The proportion of lattice paths from (0,0) to (m,n) that do not stay strictly inside
 * |x/m − y/n| < h/lcm(m,n): the exact two-sided p-value (scipy `_compute_outer_prob_inside_method`).
 */
export function outerProbInside(m0: number, n0: number, g: number, h: number): number {
  let m = m0;
  let n = n0;
  if (m < n) [m, n] = [n, m];
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  A.fill(0, minj, Math.min(maxj, lenA));
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.max(Math.floor((ng * i - h) / mg) + 1, 0);
    minj = Math.min(minj, n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    const off = minj - lastminj;
    const width = maxj - minj;
    for (let jj = 0; jj < width; jj++) {
      const j = jj + minj;
      val = (A[jj + off]! * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = width;
    if (lastlen > curlen) A.fill(1, width, Math.min(width + (lastlen - curlen), lenA));
  }
  return A[maxj - minj - 1]!;
}

/** The exact two-sided p-value and the statistic rounded to the lattice (h / lcm). */
export function ksExact(n1: number, n2: number, d: number): { statistic: number; pValue: number; ok: boolean } {
  const g = gcd(n1, n2);
  const lcm = (n1 / g) * n2;
  const h = roundHalfEven(d * lcm);
  const statistic = h / lcm;
  if (h === 0) return { statistic, pValue: 1, ok: true };
  const p = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInside(n1, n2, g, h);
  return { statistic, pValue: p, ok: p >= 0 && p <= 1 };
}

/** The asymptotic two-sided p-value: kstwo.sf(D, round(n1·n2/(n1+n2))). */
export function ksAsymp(n1: number, n2: number, d: number): number {
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const en = (m * n) / (m + n);
  return kstwoSf(d, roundHalfEven(en));
}

/** scipy.stats.ks_2samp(a, b, alternative='two-sided', method) over sorted, finite samples. */
export function ks2samp(a: Float64Array, b: Float64Array, method: KsMethod = 'auto'): KsResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('ks2samp: both samples must be non-empty');
  let d = ksStatistic(a, b);
  let mode: 'exact' | 'asymp' = method === 'auto' ? (Math.max(n1, n2) <= KS_MAX_AUTO_N ? 'exact' : 'asymp') : method;
  if (mode === 'exact') {
    const g = gcd(n1, n2);
    if (n1 / g >= 2147483647 / (n2 / g)) mode = 'asymp';
  }
  let p = NaN;
  if (mode === 'exact') {
    const r = ksExact(n1, n2, d);
    d = r.statistic;
    if (r.ok) p = r.pValue;
    else mode = 'asymp';
  }
  if (mode === 'asymp') p = ksAsymp(n1, n2, d);
  p = Math.min(Math.max(p, 0), 1);
  return { statistic: d, pValue: p, method: mode };
}
