import type { z } from 'zod';

/**
 * A zod error map for strict objects: an unknown key is reported with where it was found and the
 * keys that object accepts (`unknown key "x" in params.evaluation; accepted: column, from, to`),
 * instead of zod's bare "Unrecognized key". Passed to a parse, it covers every strict object at
 * any depth of the schema; other issues keep zod's messages (undefined defers to them).
 */
export function unknownKeysErrorMap(root: string): z.core.$ZodErrorMap {
  return (issue) => {
    if (issue.code !== 'unrecognized_keys') return undefined;
    const where = root + (issue.path ?? []).map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
    const keys = issue.keys.map((k) => JSON.stringify(k)).join(', ');
    const accepted = acceptedKeys(issue.inst);
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${keys} in ${where}; accepted: ${accepted.length ? accepted.join(', ') : '(none)'}`;
  };
}

/** The keys an object schema declares (the schema that reported the issue). */
function acceptedKeys(inst: unknown): string[] {
  const shape = (inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
  return shape ? Object.keys(shape) : [];
}
