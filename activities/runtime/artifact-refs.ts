import type { ArtifactRef } from '../../infra/artifacts';

/** An artifact reference anywhere inside a step's input or output. */
export function isArtifactRef(v: unknown): v is ArtifactRef {
  if (!v || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return typeof r.uri === 'string' && typeof r.sha256 === 'string' && /^[0-9a-f]{64}$/.test(r.sha256) && typeof r.size === 'number';
}

export function collectArtifactRefs(v: unknown, out: ArtifactRef[] = []): ArtifactRef[] {
  if (isArtifactRef(v)) out.push({ uri: v.uri, sha256: v.sha256, size: v.size });
  else if (Array.isArray(v)) v.forEach((x) => collectArtifactRefs(x, out));
  else if (v && typeof v === 'object') Object.values(v).forEach((x) => collectArtifactRefs(x, out));
  return out;
}

/** Replaces artifact refs by their content hash: the same bytes at another URI give the same cache key. */
export function contentOnly(v: unknown): unknown {
  if (isArtifactRef(v)) return { $artifact: v.sha256 };
  if (Array.isArray(v)) return v.map(contentOnly);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, contentOnly(x)]));
  return v;
}
