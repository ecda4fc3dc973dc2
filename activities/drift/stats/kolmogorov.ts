/**
 * The distribution of the two-sided one-sample Kolmogorov–Smirnov statistic D_n for finite n
 * (scipy.stats.kstwo), and the one-sided Smirnov distribution (scipy.special.smirnov), ported
 * from scipy so that two-sample KS p-values in the asymptotic regime equal
 * `scipy.stats.ks_2samp(method='auto')`, which calls `kstwo.sf(D, round(n1·n2/(n1+n2)))`.
 *
 * kstwoSf follows scipy/stats/_ksstats.py `_kolmogn(n, x, cdf=False)` branch for branch
 * (Simard & L'Ecuyer 2011):
 * - n·x <= 1: Ruben–Gambino closed form; n·x >= n−1: 2(1−x)^n; x >= 0.5: 2·smirnov(n, x);
 * - n <= 140: Durbin's matrix (Marsaglia–Tsang–Wang) when n·x² <= 0.754693, Pomeranz's recursion
 *   when n·x² <= 4, else 2·smirnov(n, x);
 * - n > 140: 0 when n·x² >= 370, 2·smirnov(n, x) when n·x² >= 2.2, else 1 − CDF with the CDF from
 *   Durbin's matrix (n <= 100000 and n·x^1.5 <= 1.4) or the Pelz–Good asymptotic series.
 *
 * smirnovSf follows xsf/cephes/kolmogorov.h `_smirnov` (the Smirnov/Birnbaum–Tingey sum, lower or
 * upper form, with the same special cases and early termination). scipy carries the sum in
 * double-double arithmetic; here the terms are computed in log2 space from an exactly split n·x
 * and a mantissa/exponent binomial, which keeps them to ~1e-10 relative for n up to 10^6.
 */

const EP128 = 2 ** 128;
const EM128 = 2 ** -128;
const E128 = 128;
const SQRT2PI = Math.sqrt(2 * Math.PI);
const LOG_2PI = Math.log(2 * Math.PI);
const MIN_LOG = -708;
const SQRT3 = Math.sqrt(3);
const PI_SQUARED = Math.PI ** 2;
const PI_FOUR = Math.PI ** 4;
const PI_SIX = Math.PI ** 6;
/** cephes MINLOG: log(2^-1022). */
const CEPHES_MINLOG = -7.08396418532264106224e2;
const EPS = 2 ** -52;
const SMIRNOV_MAX_COMPUTE_N = 1_000_000;
const SM_UPPER_MAX_TERMS = 3;
const SM_UPPERSUM_MIN_N = 10;

// Stirling coefficients B_{2j}/(2j)/(2j-1) for j = 8…1 (scipy _ksstats._STIRLING_COEFFS).
const STIRLING_COEFFS = [
  -2.955065359477124183e-2, 6.4102564102564102564e-3, -1.9175269175269175269e-3, 8.4175084175084175084e-4, -5.952380952380952381e-4,
  7.9365079365079365079e-4, -2.7777777777777777778e-3, 8.3333333333333333333e-2,
];

const clip01 = (p: number) => (Number.isNaN(p) ? p : p < 0 ? 0 : p > 1 ? 1 : p);

/** numpy.polyval: Horner from the highest coefficient. */
function polyval(c: readonly number[], x: number): number {
  let y = 0;
  for (const ci of c) y = y * x + ci;
  return y;
}

/** x · 2^e without intermediate overflow or underflow of 2^e (C ldexp). */
export function ldexp(x: number, e: number): number {
  let r = x;
  let k = e;
  while (k > 1000) {
    r *= 2 ** 1000;
    k -= 1000;
    if (!Number.isFinite(r)) return r;
  }
  while (k < -1000) {
    r *= 2 ** -1000;
    k += 1000;
    if (r === 0) return r;
  }
  return r * 2 ** k;
}

/** log(n! / n^n), Stirling with the n·log(n) removed up front. */
function logNFactorialDivNPowN(n: number): number {
  const rn = 1 / n;
  return Math.log(n) / 2 - n + LOG_2PI / 2 + rn * polyval(STIRLING_COEFFS, rn / n);
}

/** Pr(D_n <= d) by Durbin's matrix algorithm as Marsaglia, Tsang and Wang compute it. */
export function kolmogornDurbinCdf(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;

  let H: Float64Array = new Float64Array(m * m);
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    v[j - 1] = 1 - h ** j;
    w[j - 1] = fac;
    fac /= j;
    v[j - 1]! *= fac;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * fac;
  for (let i = 1; i < m; i++) {
    for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - (i - 1)]!;
  }
  for (let r = 0; r < m; r++) H[r * m] = v[r]!;
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c]!;

  let Hpwr: Float64Array = new Float64Array(m * m);
  for (let i = 0; i < m; i++) Hpwr[i * m + i] = 1;
  let nn = n;
  let expnt = 0;
  let Hexpnt = 0;
  while (nn > 0) {
    if (nn % 2) {
      Hpwr = matmul(Hpwr, H, m);
      expnt += Hexpnt;
    }
    H = matmul(H, H, m);
    Hexpnt *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)]!) > EP128) {
      for (let i = 0; i < H.length; i++) H[i]! /= EP128;
      Hexpnt += E128;
    }
    nn = Math.floor(nn / 2);
  }
  let p = Hpwr[(k - 1) * m + (k - 1)]!;
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= EP128;
      expnt -= E128;
    }
  }
  if (expnt !== 0) p = ldexp(p, expnt);
  return clip01(p);
}

function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j]! += aik * b[k * m + j]!;
    }
  }
  return out;
}

function pomeranzJ1J2(i: number, n: number, ll: number, ceilf: number, roundf: number): [number, number] {
  let j1: number;
  let j2: number;
  if (i === 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const ip1div2 = Math.floor((i + 1) / 2);
    const ip1mod2 = (i + 1) % 2;
    if (ip1mod2 === 0) {
      if (ip1div2 === n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = ip1div2 - 1 - ll - roundf - 1;
        j2 = ip1div2 + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = ip1div2 - 1 - ll - 1;
      j2 = ip1div2 + ll + roundf - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/** Pr(D_n <= x) by Pomeranz's recursion (1974). */
export function kolmogornPomeranzCdf(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilf = f > 0 ? 1 : 0;
  const roundf = f > 0.5 ? 1 : 0;
  const npwrs = 2 * (ll + 1);
  const gpower = new Float64Array(npwrs);
  const twogpower = new Float64Array(npwrs);
  const onem2gpower = new Float64Array(npwrs);
  gpower[0] = 1;
  twogpower[0] = 1;
  onem2gpower[0] = 1;
  let expnt = 0;
  const gOverN = g / n;
  const twoGOverN = (2 * g) / n;
  const oneMinusTwoGOverN = (1 - 2 * g) / n;
  for (let m = 1; m < npwrs; m++) {
    gpower[m] = (gpower[m - 1]! * gOverN) / m;
    twogpower[m] = (twogpower[m - 1]! * twoGOverN) / m;
    onem2gpower[m] = (onem2gpower[m - 1]! * oneMinusTwoGOverN) / m;
  }
  let V0 = new Float64Array(npwrs);
  let V1 = new Float64Array(npwrs);
  V1[0] = 1;
  let V0s = 0;
  let V1s = 0;
  let [j1, j2] = pomeranzJ1J2(0, n, ll, ceilf, roundf);
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    [V0, V1] = [V1, V0];
    [V0s, V1s] = [V1s, V0s];
    V1.fill(0);
    [j1, j2] = pomeranzJ1J2(i, n, ll, ceilf, roundf);
    const pwrs = i === 1 || i === 2 * n + 1 ? gpower : i % 2 ? twogpower : onem2gpower;
    const ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      // conv = np.convolve(V0[k1 - V0s : k1 - V0s + ln2], pwrs[:ln2]) (full mode)
      const a = pySlice(V0, k1 - V0s, k1 - V0s + ln2);
      const b = pySlice(pwrs, 0, ln2);
      const convStart = j1 - k1;
      const convLen = j2 - j1 + 1;
      let max = -Infinity;
      for (let q = 0; q < convLen; q++) {
        const idx = convStart + q;
        let s = 0;
        const lo = Math.max(0, idx - b.length + 1);
        const hi = Math.min(idx, a.length - 1);
        for (let r = lo; r <= hi; r++) s += a[r]! * b[idx - r]!;
        V1[q] = s;
      }
      for (let q = 0; q < V1.length; q++) if (V1[q]! > max) max = V1[q]!;
      if (max > 0 && max < EM128) {
        for (let q = 0; q < V1.length; q++) V1[q]! *= EP128;
        expnt -= E128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  let ans = V1[n - V1s]!;
  for (let m = 1; m <= n; m++) {
    if (Math.abs(ans) > EP128) {
      ans *= EM128;
      expnt += E128;
    }
    ans *= m;
  }
  if (expnt !== 0) ans = ldexp(ans, expnt);
  return clip01(ans);
}

/** Python slice semantics (negative starts count from the end; bounds clamp). */
function pySlice(a: Float64Array, start: number, stop: number): Float64Array {
  const len = a.length;
  const s = start < 0 ? Math.max(len + start, 0) : Math.min(start, len);
  const e = stop < 0 ? Math.max(len + stop, 0) : Math.min(stop, len);
  return a.subarray(s, Math.max(s, e));
}

/** The Pelz–Good approximation of Pr(D_n <= x), unclipped (as scipy). */
export function kolmogornPelzGoodCdf(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const zsquared = z ** 2;
  const zthree = z ** 3;
  const zfour = z ** 4;
  const zsix = z ** 6;
  const qlog = -PI_SQUARED / 8 / zsquared;
  if (qlog < MIN_LOG) return 0;
  let q = Math.exp(qlog);

  const k1a = -zsquared;
  const k1b = PI_SQUARED / 4;
  const k2a = 6 * zsix + 2 * zfour;
  const k2b = ((2 * zfour - 5 * zsquared) * PI_SQUARED) / 4;
  const k2c = (PI_FOUR * (1 - 2 * zsquared)) / 16;
  const k3d = (PI_SIX * (5 - 30 * zsquared)) / 64;
  const k3c = (PI_FOUR * (-60 * zsquared + 212 * zfour)) / 16;
  const k3b = (PI_SQUARED * (135 * zfour - 96 * zsix)) / 4;
  const k3a = -30 * zsix - 90 * z ** 8;

  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const msquared = m ** 2;
    const mfour = m ** 4;
    const msix = m ** 6;
    const qpower = q ** (8 * k);
    const coeffs = [1, k1a + k1b * msquared, k2a + k2b * msquared + k2c * mfour, k3a + k3b * msquared + k3c * mfour + k3d * msix];
    for (let i = 0; i < 4; i++) K[i] = K[i]! * qpower + coeffs[i]!;
  }
  const div = [z, 6 * zfour, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i]! * q * SQRT2PI) / div[i]!;

  q = Math.exp(-PI_SQUARED / 2 / zsquared);
  const sqrt3z = SQRT3 * z;
  let k2extra = 0;
  let k3extra = 0;
  for (let k = maxk; k > 0; k--) {
    const ksquared = k ** 2;
    const qp = q ** ksquared;
    const kspi = Math.PI * k;
    k2extra += ksquared * qp;
    k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qp;
  }
  k2extra *= (PI_SQUARED * SQRT2PI) / (-36 * zthree);
  K[2]! += k2extra;
  k3extra *= (PI_SQUARED * SQRT2PI) / (216 * zsix);
  K[3]! += k3extra;
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += K[i]! / n ** (i / 2);
  return sum;
}

/**
 * kstwo.sf(x, n) = Pr(D_n > x): the survival function of the two-sided one-sample KS statistic
 * for a sample of n (scipy `_kolmogn(n, x, cdf=False)`).
 */
export function kstwoSf(x: number, n: number): number {
  if (Number.isNaN(n) || Number.isNaN(x)) return NaN;
  if (!Number.isInteger(n) || n <= 0) return NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    let prob: number;
    if (n <= 140) {
      prob = 1;
      for (let i = 1; i <= n; i++) prob *= i * (1 / n) * (2 * t - 1);
    } else {
      prob = Math.exp(logNFactorialDivNPowN(n) + n * Math.log(2 * t - 1));
    }
    return clip01(1 - prob);
  }
  if (t >= n - 1) return clip01(2 * (1 - x) ** n);
  if (x >= 0.5) return clip01(2 * smirnovSf(n, x));

  const nxsquared = t * x;
  if (n <= 140) {
    if (nxsquared <= 0.754693) return clip01(1 - kolmogornDurbinCdf(n, x));
    if (nxsquared <= 4) return clip01(1 - kolmogornPomeranzCdf(n, x));
    return clip01(2 * smirnovSf(n, x));
  }
  if (nxsquared >= 370) return 0;
  if (nxsquared >= 2.2) return clip01(2 * smirnovSf(n, x));
  let cdf: number;
  if (nxsquared >= 18) cdf = 1;
  else if (n <= 100000 && n * x ** 1.5 <= 1.4) cdf = kolmogornDurbinCdf(n, x);
  else cdf = kolmogornPelzGoodCdf(n, x);
  return clip01(1 - clip01(cdf));
}

// ---------------------------------------------------------------------------------------------
// Smirnov (one-sided)
// ---------------------------------------------------------------------------------------------

const SPLIT = 134217729; // 2^27 + 1

/** a·b = hi + lo exactly (Dekker). */
function twoProduct(a: number, b: number): [number, number] {
  const p = a * b;
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const err = ah * bh - p + ah * bl + al * bh + al * bl;
  return [p, err];
}

/** floor(n·x) and its remainder, computed from the exact product (cephes modNX). */
function modNX(n: number, x: number): { nxfl: number; alpha: number } {
  const [hi, lo] = twoProduct(n, x);
  let fl = Math.floor(hi);
  if (fl === hi && lo < 0) fl -= 1;
  let alpha = hi - fl + lo;
  if (alpha < 0) alpha = 0;
  if (alpha >= 1) {
    fl += 1;
    alpha = 0;
  }
  return { nxfl: fl, alpha };
}

/**
 * scipy.special.smirnov(n, x) = Pr(D_n^+ >= x), the one-sided Kolmogorov–Smirnov survival
 * function (xsf cephes `_smirnov(n, x).sf`).
 */
export function smirnovSf(n: number, x: number): number {
  if (!(n > 0 && x >= 0 && x <= 1)) return NaN;
  if (n === 1) return 1 - x;
  if (x === 0) return 1;
  if (x === 1) return 0;

  const { nxfl, alpha } = modNX(n, x);
  let n1mxfl = n - nxfl - (alpha === 0 ? 0 : 1);
  let n1mxceil = n - nxfl;
  if (alpha === 0) {
    n1mxfl -= 1;
    n1mxceil += 1;
  }
  // x <= 1/n
  if (nxfl === 0 || (nxfl === 1 && alpha === 0)) {
    const t = Math.exp((n - 1) * Math.log1p(x));
    return 1 - x * t;
  }
  if (-2 * n * x * x < CEPHES_MINLOG) return 0;
  // x >= 1 - 1/n
  if (nxfl >= n - 1) return Math.exp(n * Math.log1p(-x));
  if (n > SMIRNOV_MAX_COMPUTE_N) {
    const logp = -((6 * n * x + 1) ** 2) / 18 / n;
    if (logp < -Math.LN2) return clip01(Math.exp(logp));
    return clip01(1 - -Math.expm1(logp));
  }

  const nUpperTerms = n - n1mxceil + 1;
  const useUpper = (nUpperTerms <= 1 && x < 0.5) || (n >= SM_UPPERSUM_MIN_N && nUpperTerms <= SM_UPPER_MAX_TERMS && x <= 0.5 / Math.sqrt(n));

  let start = 0;
  let step = 1;
  let nTerms = n1mxfl + 1;
  const vmid = Math.floor(n / 2);
  let ajSum = 0;
  let ajComp = 0; // Neumaier compensation
  const add = (v: number) => {
    const s = ajSum + v;
    ajComp += Math.abs(ajSum) >= Math.abs(v) ? ajSum - s + v : v - s + ajSum;
    ajSum = s;
  };
  let aj: number;
  if (useUpper) {
    start = n;
    step = -1;
    nTerms = n - n1mxceil + 1;
    aj = Math.exp((n - 1) * Math.log1p(x)); // (1+x)^(n-1)
  } else {
    aj = Math.exp(n * Math.log1p(-x)) / x; // (1-x)^n / x
  }
  add(aj);

  // Binomial C(n, j) as mantissa · 2^exponent.
  let cMan = 1;
  let cExp = 0;
  const updateBinomial = (j: number) => {
    cMan *= (n - j) / (j + 1);
    if (cMan > 2 ** 500) {
      cMan *= 2 ** -500;
      cExp += 500;
    } else if (cMan < 2 ** -500) {
      cMan *= 2 ** 500;
      cExp -= 500;
    }
  };
  updateBinomial(0);
  for (let j = 1; j < nTerms; j++) {
    const v = start + j * step;
    // A_v = C(n, v) (1 - x - v/n)^(n-v) (x + v/n)^(v-1), with n·x = nxfl + alpha exactly
    const t2x = (n - v - nxfl - alpha) / n;
    const t1x = (v + nxfl + alpha) / n;
    const e2 = n - v;
    let a: number;
    if (t2x === 0 && e2 > 0) a = 0;
    else {
      const sign = t2x < 0 && e2 % 2 === 1 ? -1 : 1;
      const l2 = Math.log2(cMan) + cExp + (v - 1) * Math.log2(t1x) + (e2 === 0 ? 0 : e2 * Math.log2(Math.abs(t2x)));
      a = sign * 2 ** l2;
    }
    if (Number.isFinite(a) && a !== 0) add(a);
    aj = a;
    if (aj !== 0) {
      if (4 * (nTerms - j) * Math.abs(aj) < EPS * (ajSum + ajComp) && j !== nTerms - 1) break;
    } else if (j > vmid) break;
    updateBinomial(j);
  }
  const prob = x * (ajSum + ajComp);
  const sf = step < 0 ? 1 - prob : prob;
  return clip01(sf);
}
