/**
 * Slicing: the rows of each value of a categorical column, and helpers to take those rows out of
 * typed arrays, so every metric function runs unchanged on a slice. Pure, no I/O.
 */

export interface SliceGroup {
  /** The value as text; null for missing values. */
  value: string | null;
  indices: Uint32Array;
}

export interface SliceGroups {
  /** Largest first (ties by value, null last), at most `maxSlices`. */
  groups: SliceGroup[];
  omittedSlices: number;
  omittedRows: number;
}

export function groupSlices(values: readonly (string | null)[], maxSlices: number): SliceGroups {
  const counts = new Map<string | null, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  const ordered = [...counts.entries()].sort((a, b) => b[1] - a[1] || compareValues(a[0], b[0]));
  const kept = ordered.slice(0, maxSlices);
  const omitted = ordered.slice(maxSlices);
  const index = new Map<string | null, { indices: Uint32Array; fill: number }>();
  for (const [v, n] of kept) index.set(v, { indices: new Uint32Array(n), fill: 0 });
  values.forEach((v, i) => {
    const g = index.get(v);
    if (g) g.indices[g.fill++] = i;
  });
  return {
    groups: kept.map(([value]) => ({ value, indices: index.get(value)!.indices })),
    omittedSlices: omitted.length,
    omittedRows: omitted.reduce((a, [, n]) => a + n, 0),
  };
}

function compareValues(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a < b ? -1 : 1;
}

type NumericArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** Rows `indices` of a typed array holding `width` values per row (width > 1: N×width row-major). */
export function take<T extends NumericArray>(src: T, indices: Uint32Array, width = 1): T {
  const out = new (src.constructor as new (n: number) => T)(indices.length * width);
  if (width === 1) {
    for (let j = 0; j < indices.length; j++) out[j] = src[indices[j]!]!;
  } else {
    for (let j = 0; j < indices.length; j++) {
      const from = indices[j]! * width;
      const to = j * width;
      for (let k = 0; k < width; k++) out[to + k] = src[from + k]!;
    }
  }
  return out;
}

/** Metrics per slice: `compute` runs on each group's indices. */
export function perSlice<M>(groups: SliceGroups, compute: (indices: Uint32Array) => M): { value: string | null; rows: number; result: M }[] {
  return groups.groups.map((g) => ({ value: g.value, rows: g.indices.length, result: compute(g.indices) }));
}
