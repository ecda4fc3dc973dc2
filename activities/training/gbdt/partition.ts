/**
 * Row partitions of a tree node: rows[start, end) split by the split feature's bin into left
 * rows then right rows, each in their original (ascending) order, so that every histogram slot
 * keeps adding rows in row order whatever the split history.
 *
 * Branch-free: every row is written to both sides and the side it belongs to advances, so an
 * unpredictable split costs no mispredictions. The split feature is read from its column (n bytes
 * that stay in cache), where a stride through the row-major matrix is half as fast.
 */

/**
 * Partitions one chunk: its left rows move to the chunk's start (in place), its right rows go to
 * scratch from the chunk's start. Returns the number of left rows.
 */
export function partitionChunk(rows: Uint32Array, scratch: Uint32Array, start: number, end: number, column: Uint8Array, goesLeft: Uint8Array): number {
  let nl = start;
  let nr = start;
  for (let r = start; r < end; r++) {
    const i = rows[r]!;
    const l = goesLeft[column[i]!]!;
    rows[nl] = i;
    scratch[nr] = i;
    nl += l;
    nr += 1 - l;
  }
  return nl - start;
}

/**
 * Joins chunks partitioned by partitionChunk (chunk t is [bounds[t], bounds[t + 1]) with lefts[t]
 * left rows) into one stable partition of [bounds[0], bounds[last]). Returns the first right row's position.
 */
export function joinChunks(rows: Uint32Array, scratch: Uint32Array, bounds: ArrayLike<number>, lefts: ArrayLike<number>, chunks: number): number {
  let at = bounds[0]! + lefts[0]!;
  for (let t = 1; t < chunks; t++) {
    rows.copyWithin(at, bounds[t]!, bounds[t]! + lefts[t]!); // moves left (or stays): copyWithin is a memmove
    at += lefts[t]!;
  }
  const mid = at;
  for (let t = 0; t < chunks; t++) {
    const nr = bounds[t + 1]! - bounds[t]! - lefts[t]!;
    rows.set(scratch.subarray(bounds[t]!, bounds[t]! + nr), at);
    at += nr;
  }
  return mid;
}

/** Stable partition of rows[start, end) on this thread; returns the first right row's position. */
export function partition(rows: Uint32Array, scratch: Uint32Array, start: number, end: number, column: Uint8Array, goesLeft: Uint8Array): number {
  const nl = partitionChunk(rows, scratch, start, end, column, goesLeft);
  rows.set(scratch.subarray(start, end - nl), start + nl);
  return start + nl;
}
