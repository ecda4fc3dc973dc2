/**
 * Training margins from a grown tree's own partition: its leaves tile the workspace's row order
 * (leaf j holds rows[bounds[j], bounds[j + 1])), so each row gets its leaf's value without
 * walking the tree again. Each margin gets one addition, whichever thread makes it, so a range of
 * positions can go to any thread (histogram threads take chunks).
 *
 * Binary tasks keep exp(-F) beside the margins (binary-loss.ts): each leaf's factor exp(-value)
 * is computed once, and each row's product gets one multiplication, in tree order, whichever
 * thread makes it.
 */

/** A grown tree's leaves in row order. */
export interface LeafRows {
  count: number;
  /** count + 1 positions: leaf j's rows are rows[bounds[j], bounds[j + 1]). */
  bounds: Int32Array;
  values: Float64Array;
}

/** exp(-value) of each leaf value: the factor the rows' exp(-F) products take. */
export function expFactors(values: ArrayLike<number>, count: number, out: Float64Array = new Float64Array(count)): Float64Array {
  for (let j = 0; j < count; j++) out[j] = Math.exp(-values[j]!);
  return out;
}

/**
 * F[row * K + k] += its leaf's value, for the rows at positions [from, to); with expNeg (binary:
 * K = 1) also expNeg.values[row] *= its leaf's factor (expNeg.factors: expFactors of the values).
 */
export function addLeafValues(F: Float64Array, K: number, k: number, rows: Uint32Array, leaves: LeafRows, from: number, to: number, expNeg?: { values: Float64Array; factors: Float64Array }): void {
  let j = 0;
  while (j + 1 < leaves.count && leaves.bounds[j + 1]! <= from) j++;
  for (; j < leaves.count && leaves.bounds[j]! < to; j++) {
    const value = leaves.values[j]!;
    const end = Math.min(to, leaves.bounds[j + 1]!);
    const start = Math.max(from, leaves.bounds[j]!);
    if (expNeg) {
      const E = expNeg.values;
      const factor = expNeg.factors[j]!;
      for (let r = start; r < end; r++) {
        const i = rows[r]!;
        F[i] = F[i]! + value;
        E[i] = E[i]! * factor;
      }
      continue;
    }
    for (let r = start; r < end; r++) {
      const i = rows[r]! * K + k;
      F[i] = F[i]! + value;
    }
  }
}
