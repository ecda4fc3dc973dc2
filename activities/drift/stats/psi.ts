/**
 * The Population Stability Index over binned shares, as Evidently's `psi` stattest:
 *   PSI = Σ (r_i − c_i) · ln(r_i / c_i)
 * after replacing empty bins on each side by a small epsilon (Evidently's get_binned_data with
 * feel_zeroes): 0.0001, or the side's smallest non-zero share / 10^6 when that share is <= 0.0001.
 * Summed in bin order, one term at a time, as Evidently does.
 */

export const PSI_EPSILON = 0.0001;

/** A copy of `shares` with its zeros replaced by Evidently's epsilon for that side. */
export function fillZeroes(shares: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(shares as ArrayLike<number>);
  let minNonZero = Infinity;
  for (let i = 0; i < out.length; i++) if (out[i] !== 0 && out[i]! < minNonZero) minNonZero = out[i]!;
  if (minNonZero === Infinity) return out; // all zero: nothing to scale by (an empty side is never compared)
  const eps = minNonZero <= PSI_EPSILON ? minNonZero / 10 ** 6 : PSI_EPSILON;
  for (let i = 0; i < out.length; i++) if (out[i] === 0) out[i] = eps;
  return out;
}

/** PSI of reference and current shares (already zero-filled, see fillZeroes). */
export function psi(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  if (reference.length !== current.length) throw new RangeError(`psi: ${reference.length} and ${current.length} bins`);
  let value = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const c = current[i]!;
    value += (r - c) * Math.log(r / c);
  }
  return value;
}

/** PSI straight from raw shares: fills the zeros of each side, then sums. */
export function psiFromShares(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  return psi(fillZeroes(reference), fillZeroes(current));
}
