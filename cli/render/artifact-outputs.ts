/**
 * Which output of a step each artifact is: `runs show` lists a node's artifacts by URI, and a
 * step with several (a model, its report, its metrics) needs them named. The names come from the
 * step's recorded outputs (step_runs.outputs): the path, in source-like text, of every artifact
 * reference ({ uri, sha256, size }) inside it, e.g. `model`, `reports[0]`, `eval.report`.
 */

const SHA256 = /^[0-9a-f]{64}$/;
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function isArtifactRef(v: unknown): v is { uri: string } {
  if (!v || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return typeof r.uri === 'string' && typeof r.sha256 === 'string' && SHA256.test(r.sha256) && typeof r.size === 'number';
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (!IDENT.test(key)) return `${path}[${JSON.stringify(key)}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** URI → output name(s) (comma-separated where the same artifact is two outputs). Pure, for tests. */
export function artifactOutputNames(outputs: unknown, prefix = ''): Map<string, string> {
  const names = new Map<string, string>();
  const walk = (v: unknown, path: string) => {
    if (isArtifactRef(v)) {
      const name = path || '(output)';
      const had = names.get(v.uri);
      if (!had) names.set(v.uri, name);
      else if (!had.split(', ').includes(name)) names.set(v.uri, `${had}, ${name}`);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, join(path, i)));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, join(path, k));
  };
  walk(outputs, prefix);
  return names;
}
