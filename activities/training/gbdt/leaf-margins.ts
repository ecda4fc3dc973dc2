/**
 * Training margins from a grown tree's own partition: its leaves tile the workspace's row order
 * (leaf j holds rows[bounds[j], bounds[j + 1])), so each row gets its leaf's value without
 * walking the tree again. Each margin gets one addition, whichever thread makes it, so a range of
 * positions can go to any thread (histogram threads take chunks).
 */

/** A grown tree's leaves in row order. */
export interface LeafRows {
  count: number;
  /** count + 1 positions: leaf j's rows are rows[bounds[j], bounds[j + 1]). */
  bounds: Int32Array;
  values: Float64Array;
}

/** F[row * K + k] += its leaf's value, for the rows at positions [from, to). */
export function addLeafValues(F: Float64Array, K: number, k: number, rows: Uint32Array, leaves: LeafRows, from: number, to: number): void {
  let j = 0;
  while (j + 1 < leaves.count && leaves.bounds[j + 1]! <= from) j++;
  for (; j < leaves.count && leaves.bounds[j]! < to; j++) {
    const value = leaves.values[j]!;
    const end = Math.min(to, leaves.bounds[j + 1]!);
    for (let r = Math.max(from, leaves.bounds[j]!); r < end; r++) {
      const i = rows[r]! * K + k;
      F[i] = F[i]! + value;
    }
  }
}
