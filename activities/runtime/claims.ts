import { isPlainObject } from '../../pipelines/dsl/claim-resolve';
import type { ArtifactStore } from '../../infra/artifacts/store';
import { CLAIM, isClaim, jsonSize, type ClaimCheck } from '../../pipelines/dsl/claim';

/**
 * The worker's side of claim checks (pipelines/dsl/claim.ts): outputs too large for history go
 * to the artifact store, and claims in a step's input are read back before the step runs.
 */

/**
 * A step's output as it travels through history: itself when small; otherwise, for an object, the
 * same object with its largest fields replaced by claims until the rest fits (so small fields, a
 * condition's flag or a count, stay readable by workflow code); anything else is claimed whole.
 * Content-addressed: the same output always gives the same claim.
 */
export async function claimLargeOutput(store: ArtifactStore, output: unknown, threshold: number): Promise<unknown> {
  const size = jsonSize(output);
  if (size <= threshold) return output;
  if (!isPlainObject(output)) return storeClaim(store, output);
  const fields = Object.entries(output).map(([k, v]) => ({ k, v, size: jsonSize(v) }));
  const out: Record<string, unknown> = { ...output };
  let left = size;
  for (const f of fields.sort((a, b) => b.size - a.size)) {
    if (left <= threshold || f.size < MIN_CLAIMED_FIELD) break;
    const claim = await storeClaim(store, f.v);
    out[f.k] = claim;
    left += jsonSize(claim) - f.size;
  }
  return out;
}

/** Fields smaller than this stay inline: a flag or a count costs less than its claim would. */
const MIN_CLAIMED_FIELD = 64;

/** Stores a value as JSON, content-addressed, and returns its claim (with its length when it is a list). */
export async function storeClaim(store: ArtifactStore, value: unknown): Promise<ClaimCheck> {
  const ref = await store.putContent(JSON.stringify(value), { contentType: 'application/json' });
  return { [CLAIM]: { parts: [{ uri: ref.uri, sha256: ref.sha256, size: ref.size }] }, ...(Array.isArray(value) ? { length: value.length } : {}), path: [] };
}

/** A concatenation of many parts as an index claim: one part (the list of parts) instead of all of them. */
export async function indexClaim(store: ArtifactStore, c: ClaimCheck): Promise<ClaimCheck> {
  const ref = await store.putContent(JSON.stringify(c[CLAIM].parts), { contentType: 'application/json' });
  return { [CLAIM]: { parts: [{ uri: ref.uri, sha256: ref.sha256, size: ref.size }], concat: true, index: true }, ...(c.length === undefined ? {} : { length: c.length }), path: [] };
}

// Reading claims back (resolveClaims, ClaimCache) is shared with clients that read a run's
// result (pipelines/dsl/start.ts): it lives in pipelines/dsl/claim-resolve.ts.
export { ClaimCache, holdsClaim, resolveClaims } from '../../pipelines/dsl/claim-resolve';

