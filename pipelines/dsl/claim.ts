/**
 * Claim checks: a value too large to ride in workflow history (a step output, a fan-out list, a
 * fan-in of results) is stored in the artifact store as JSON, and history carries this small
 * reference instead. Workflow code never reads the bytes: it passes claims along, and a ref into a
 * claimed value only extends the claim's `path`. The step runtime resolves every claim in a step's
 * input before the implementation sees it (activities/runtime/claims.ts), so step code and typed
 * wiring are the same whether a value went inline or by reference.
 *
 * Plain data, no runtime dependencies: workflow code imports this file.
 */

export const CLAIM = '$sluiceClaim' as const;

/** A stored JSON document (an artifact ref, as the artifact store returns it). */
export interface ClaimPart {
  uri: string;
  sha256: string;
  size: number;
}

export interface ClaimCheck {
  /**
   * Where the value is. One part: the part's JSON is the value. Several (`concat`): each part is a
   * JSON array and the value is their concatenation in order (a sharded fan-in, one part per shard).
   * `index`: the one part is a JSON list of the parts to concatenate (a fan-in of many shards, so
   * that history carries one part, not one per shard).
   */
  [CLAIM]: { parts: ClaimPart[]; concat?: true; index?: true };
  /** Items in the value when it is a list: what a fan-out over it needs to plan without reading it. */
  length?: number;
  /** Where inside the stored value this claim points (a ref `x.output.a.b` into a claimed `x`, an item index). */
  path: (string | number)[];
}

export function isClaim(v: unknown): v is ClaimCheck {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as Record<string, unknown>)[CLAIM] === 'object';
}

/** The claim of a value inside a claimed one: `path` appended; the length is known only of the whole value. */
export function claimAt(c: ClaimCheck, path: readonly (string | number)[]): ClaimCheck {
  if (!path.length) return c;
  return { [CLAIM]: c[CLAIM], path: [...c.path, ...path] };
}

/** A list's length, inline or claimed; undefined when it is not a list, or a claim whose length is unknown. */
export function listLength(v: unknown): number | undefined {
  if (Array.isArray(v)) return v.length;
  if (isClaim(v) && v.path.length === 0 && typeof v.length === 'number') return v.length;
  return undefined;
}

/** Item `i` of a list, inline or claimed (then a claim of the item, read by the step runtime). */
export function itemAt(list: unknown, i: number): unknown {
  return isClaim(list) ? claimAt(list, [i]) : (list as unknown[])[i];
}

/** The concatenation of claimed lists (whole ones, each with its length), as one claim. */
export function concatClaims(lists: ClaimCheck[]): ClaimCheck {
  const parts: ClaimPart[] = [];
  let length = 0;
  for (const l of lists) {
    if (l.path.length || typeof l.length !== 'number') throw new Error('only whole claimed lists can be concatenated');
    const inner = l[CLAIM];
    if (inner.index) throw new Error('an index claim cannot be concatenated; concatenate what it lists');
    if (inner.parts.length > 1 && !inner.concat) throw new Error('a claim of several parts must be a concatenation');
    parts.push(...inner.parts);
    length += l.length;
  }
  return { [CLAIM]: { parts, concat: true }, length, path: [] };
}

/**
 * Size of a value's JSON text in UTF-16 code units (= bytes for ASCII; close enough to decide
 * whether it goes by reference). Deterministic, so workflow code may use it.
 */
export function jsonSize(v: unknown): number {
  return v === undefined ? 0 : JSON.stringify(v).length;
}
