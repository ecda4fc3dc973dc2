/**
 * Pearson's chi-square goodness-of-fit test as scipy.stats.chisquare(f_obs, f_exp) computes it:
 * statistic Σ (o − e)² / e over the categories, p = chi2.sf(statistic, k − 1), where
 * chi2.sf(x, k) = Q(k/2, x/2), the regularized upper incomplete gamma function.
 *
 * Q is evaluated as in Numerical Recipes: the power series for P = 1 − Q when x < a + 1, Lentz's
 * continued fraction for Q otherwise, with the common factor x^a e^−x / Γ(a) computed without
 * cancellation for large a (Stirling's series with its error term, a·log1pmx((x − a)/a)), so p-values
 * hold to ~1e-12 even with thousands of categories. A zero expected count with a non-zero observed
 * one gives an infinite statistic and p = 0 (scipy does the same, with a warning).
 */

const EPS = 2 ** -52;
const FPMIN = 1e-300;
const MAX_ITER = 1_000_000;
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

// Lanczos approximation, g = 7, n = 9.
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0. */
export function lgamma(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) return x === 0 ? Infinity : NaN;
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
  if (x >= 15) return (x - 0.5) * Math.log(x) - x + HALF_LOG_2PI + stirlingError(x);
  const z = x - 1;
  let s = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) s += LANCZOS[i]! / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return HALF_LOG_2PI + (z + 0.5) * Math.log(t) - t + Math.log(s);
}

/** lgamma(x) − ((x − ½) log x − x + ½ log 2π), by Stirling's series (x >= 15). */
function stirlingError(x: number): number {
  const x2 = x * x;
  // 1/12x − 1/360x³ + 1/1260x⁵ − 1/1680x⁷ + 1/1188x⁹ − 691/360360x¹¹
  return (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - (1 / 1188 - 691 / 360360 / x2) / x2) / x2) / x2) / x2) / x;
}

/** log(1 + d) − d without cancellation for small d. */
function log1pmx(d: number): number {
  if (Math.abs(d) > 0.5) return Math.log1p(d) - d;
  // −d²/2 + d³/3 − d⁴/4 + …
  let term = d;
  let sum = 0;
  for (let k = 2; k < 2000; k++) {
    term *= -d;
    const c = term / k;
    sum += c;
    if (Math.abs(c) <= Math.abs(sum) * EPS) break;
  }
  return sum;
}

/** x^a e^−x / Γ(a), the factor both the series and the continued fraction need. */
function gammaPrefactor(a: number, x: number): number {
  if (a < 15) return Math.exp(a * Math.log(x) - x - lgamma(a));
  // a log x − x − lgamma(a) = a·log1pmx((x−a)/a) + ½ log a − ½ log 2π − stirlingError(a) … (for Γ(a) = Γ(a+1)/a)
  const d = (x - a) / a;
  return Math.exp(a * log1pmx(d) + 0.5 * Math.log(a) - HALF_LOG_2PI - stirlingError(a));
}

function seriesP(a: number, x: number): number {
  let ap = a;
  let del = 1 / a;
  let sum = del;
  for (let n = 0; n < MAX_ITER; n++) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (Math.abs(del) < Math.abs(sum) * EPS) break;
  }
  return sum * gammaPrefactor(a, x);
}

function continuedFractionQ(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / FPMIN;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < FPMIN) d = FPMIN;
    c = b + an / c;
    if (Math.abs(c) < FPMIN) c = FPMIN;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return gammaPrefactor(a, x) * h;
}

/** The regularized lower incomplete gamma function P(a, x) (scipy.special.gammainc). */
export function gammainc(a: number, x: number): number {
  if (Number.isNaN(a) || Number.isNaN(x) || a <= 0 || x < 0) return NaN;
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  if (x < a + 1) return Math.min(1, seriesP(a, x));
  return Math.max(0, 1 - continuedFractionQ(a, x));
}

/** The regularized upper incomplete gamma function Q(a, x) (scipy.special.gammaincc). */
export function gammaincc(a: number, x: number): number {
  if (Number.isNaN(a) || Number.isNaN(x) || a <= 0 || x < 0) return NaN;
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  if (x < a + 1) return Math.max(0, 1 - seriesP(a, x));
  return Math.min(1, continuedFractionQ(a, x));
}

/** chi2.sf(x, df). */
export function chi2Sf(x: number, df: number): number {
  if (Number.isNaN(x) || !(df > 0)) return NaN;
  if (x <= 0) return 1;
  return gammaincc(df / 2, x / 2);
}

export interface ChiSquareResult {
  statistic: number;
  pValue: number;
  dof: number;
}

/**
 * scipy.stats.chisquare(f_obs, f_exp). With a single category there is nothing to compare:
 * statistic 0, p-value 1 (scipy would return NaN for 0 degrees of freedom).
 */
export function chisquare(observed: ArrayLike<number>, expected: ArrayLike<number>): ChiSquareResult {
  const k = observed.length;
  if (expected.length !== k) throw new RangeError(`chisquare: ${k} observed and ${expected.length} expected counts`);
  let statistic = 0;
  for (let i = 0; i < k; i++) {
    const o = observed[i]!;
    const e = expected[i]!;
    const diff = o - e;
    statistic += e === 0 ? (diff === 0 ? NaN : Infinity) : (diff * diff) / e;
  }
  const dof = k - 1;
  if (dof <= 0) return { statistic: Number.isNaN(statistic) ? 0 : statistic, pValue: 1, dof };
  return { statistic, pValue: statistic === Infinity ? 0 : chi2Sf(statistic, dof), dof };
}
