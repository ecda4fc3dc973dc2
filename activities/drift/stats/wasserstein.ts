/**
 * The first Wasserstein distance between two 1-D samples (scipy.stats.wasserstein_distance with
 * equal weights): ∫ |F_u − F_v|, summed over the gaps of the pooled sorted sample, and Evidently's
 * normed form W1 / max(std_ref, 0.001) with numpy's default population std (ddof = 0).
 *
 * Inputs are sorted, finite, non-empty Float64Arrays. Sums are compensated (Neumaier), so results
 * agree with numpy's pairwise sums to ~1e-15 relative.
 */

class Sum {
  private s = 0;
  private c = 0;
  add(v: number): void {
    const t = this.s + v;
    this.c += Math.abs(this.s) >= Math.abs(v) ? this.s - t + v : v - t + this.s;
    this.s = t;
  }
  get value(): number {
    return this.s + this.c;
  }
}

export function wassersteinDistance(u: Float64Array, v: Float64Array): number {
  const nu = u.length;
  const nv = v.length;
  if (nu === 0 || nv === 0) throw new RangeError('wassersteinDistance: both samples must be non-empty');
  let i = 0;
  let j = 0;
  const total = new Sum();
  // Walk the distinct pooled values; between value w and the next one w', the CDFs are constant.
  let w = Math.min(u[0]!, v[0]!);
  for (;;) {
    while (i < nu && u[i]! <= w) i++;
    while (j < nv && v[j]! <= w) j++;
    if (i >= nu && j >= nv) break;
    const next = j >= nv || (i < nu && u[i]! <= v[j]!) ? u[i]! : v[j]!;
    total.add(Math.abs(i / nu - j / nv) * (next - w));
    w = next;
  }
  return total.value;
}

export function mean(x: Float64Array): number {
  const s = new Sum();
  for (let i = 0; i < x.length; i++) s.add(x[i]!);
  return s.value / x.length;
}

/** numpy.std(x) (ddof = 0 by default). */
export function std(x: Float64Array, ddof = 0): number {
  const m = mean(x);
  const s = new Sum();
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - m;
    s.add(d * d);
  }
  return Math.sqrt(s.value / (x.length - ddof));
}

/** The smallest norm Evidently divides by (a constant reference column). */
export const WASSERSTEIN_MIN_NORM = 0.001;

/** Evidently's `wasserstein` stattest value: W1(ref, cur) / max(std(ref), 0.001). */
export function normedWasserstein(reference: Float64Array, current: Float64Array): { statistic: number; distance: number; norm: number } {
  const distance = wassersteinDistance(reference, current);
  const norm = Math.max(std(reference), WASSERSTEIN_MIN_NORM);
  return { statistic: distance / norm, distance, norm };
}
