import { gammaincc } from './chisquare';

/**
 * The two-proportion z-test as Evidently's `z` stattest runs it (no statsmodels): the share of
 * values that are not the first category (in sorted order) in reference and current,
 *   P = (k1 + k2) / (n1 + n2),  z = (p1 − p2) / sqrt(P (1 − P) (1/n1 + 1/n2)),
 * two-sided p = 2 · sf(|z|) of the standard normal. (Evidently writes 2·(1 − Φ(|z|)), which is
 * the same number up to rounding, and 0 below ~1e-16; the survival function keeps tiny p-values.)
 * Both samples holding the same single category: p = 1 (Evidently's special case).
 */

/** erfc(x), through Q(½, x²) for x >= 0. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x === 0) return 1;
  return gammaincc(0.5, x * x);
}

/** The standard normal survival function, scipy.stats.norm.sf. */
export function normSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** The standard normal CDF, scipy.stats.norm.cdf. */
export function normCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

export interface ZTestResult {
  statistic: number;
  pValue: number;
}

/**
 * Two-sided two-proportion z-test from counts: k1 of n1 reference values and k2 of n2 current
 * values fall in the tested group. When the pooled proportion is 0 or 1 the proportions cannot
 * differ: statistic 0, p-value 1.
 */
export function twoProportionZTest(k1: number, n1: number, k2: number, n2: number): ZTestResult {
  if (n1 <= 0 || n2 <= 0) throw new RangeError('twoProportionZTest: both samples must be non-empty');
  const p1 = k1 / n1;
  const p2 = k2 / n2;
  const P = (p1 * n1 + p2 * n2) / (n1 + n2);
  const denom = Math.sqrt(P * (1 - P) * (1 / n1 + 1 / n2));
  if (!(denom > 0)) return { statistic: 0, pValue: 1 };
  const z = (p1 - p2) / denom;
  return { statistic: z, pValue: Math.min(1, 2 * normSf(Math.abs(z))) };
}
