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
 * Partitions one chunk out of place (threads: partition jobs): its left rows go to `lefts` and its
 * right rows to `rights`, both from the chunk's start. Returns the number of left rows.
 */
export function splitChunk(rows: Uint32Array, lefts: Uint32Array, rights: Uint32Array, start: number, end: number, column: Uint8Array, goesLeft: Uint8Array): number {
  let nl = start;
  let nr = start;
  for (let r = start; r < end; r++) {
    const i = rows[r]!;
    const l = goesLeft[column[i]!]!;
    lefts[nl] = i;
    rights[nr] = i;
    nl += l;
    nr += 1 - l;
  }
  return nl - start;
}

/**
 * Copies chunk t of a split (splitChunk; chunk u is [bounds[u], bounds[u + 1]) with leftCounts[u]
 * left rows) to its place in rows: its left rows after the earlier chunks' left rows, its right
 * rows after every left row and the earlier chunks' right rows. The chunks' copies do not overlap
 * (they read lefts and rights, write rows), so threads make them side by side (join jobs).
 */
export function placeChunk(rows: Uint32Array, lefts: Uint32Array, rights: Uint32Array, bounds: (u: number) => number, leftCounts: ArrayLike<number>, chunks: number, t: number): void {
  let allLeft = 0;
  let leftAt = bounds(0);
  let rightAt = 0;
  for (let u = 0; u < chunks; u++) {
    allLeft += leftCounts[u]!;
    if (u < t) {
      leftAt += leftCounts[u]!;
      rightAt += bounds(u + 1) - bounds(u) - leftCounts[u]!;
    }
  }
  const from = bounds(t);
  const nl = leftCounts[t]!;
  rows.set(lefts.subarray(from, from + nl), leftAt);
  rows.set(rights.subarray(from, bounds(t + 1) - nl), bounds(0) + allLeft + rightAt);
}

/** Stable partition of rows[start, end) on this thread; returns the first right row's position. */
export function partition(rows: Uint32Array, scratch: Uint32Array, start: number, end: number, column: Uint8Array, goesLeft: Uint8Array): number {
  const nl = partitionChunk(rows, scratch, start, end, column, goesLeft);
  rows.set(scratch.subarray(start, end - nl), start + nl);
  return start + nl;
}
