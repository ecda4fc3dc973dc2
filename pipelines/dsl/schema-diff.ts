import type { JsonSchema } from './spec';

/**
 * JSON Schemas (as z.toJSONSchema writes them) read by people: a TypeScript-like type text, and
 * the fields that differ between two schemas. Pure: the step runtime names the field a changed
 * schema broke with it, the CLI prints step interfaces with it.
 */

type Schema = Record<string, unknown>;

const isObj = (x: unknown): x is Schema => !!x && typeof x === 'object' && !Array.isArray(x);

/** Follows a local `$ref` ("#/$defs/Name") against the root schema; anything else is returned as is. */
function deref(s: unknown, root: Schema, seen: Set<string>): { schema: Schema; ref?: string } {
  let cur = isObj(s) ? s : {};
  while (typeof cur.$ref === 'string' && cur.$ref.startsWith('#')) {
    const ref = cur.$ref;
    if (seen.has(ref)) return { schema: {}, ref };
    seen = new Set(seen).add(ref);
    let target: unknown = root;
    for (const part of ref.slice(1).split('/').filter(Boolean)) target = isObj(target) ? target[decodeURIComponent(part.replace(/~1/g, '/').replace(/~0/g, '~'))] : undefined;
    cur = isObj(target) ? target : {};
  }
  return { schema: cur };
}

export interface TypeTextOptions {
  /** Object types nested deeper than this print as `object`. Default 2. */
  depth?: number;
}

/** `{ uri: string, rows?: integer }`, `"a" | "b"`, `number[]`, `string | null`, `any`. */
export function typeText(schema: unknown, root: Schema = isObj(schema) ? schema : {}, opts: TypeTextOptions = {}): string {
  return text(schema, root, opts.depth ?? 2, new Set());
}

function text(raw: unknown, root: Schema, depth: number, seen: Set<string>): string {
  const { schema: s, ref } = deref(raw, root, seen);
  if (ref) return ref.split('/').pop() ?? 'any';
  if ('const' in s) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  for (const k of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[k])) return [...new Set((s[k] as unknown[]).map((x) => text(x, root, depth, seen)))].join(' | ');
  }
  if (Array.isArray(s.allOf)) return (s.allOf as unknown[]).map((x) => text(x, root, depth, seen)).join(' & ');
  if (Array.isArray(s.type)) return (s.type as unknown[]).map((t) => text({ ...s, type: t }, root, depth, seen)).join(' | ');
  switch (s.type) {
    case 'array': {
      if (Array.isArray(s.prefixItems)) return `[${(s.prefixItems as unknown[]).map((x) => text(x, root, depth, seen)).join(', ')}]`;
      const item = text(s.items, root, depth, seen);
      return /[|&]/.test(item) ? `(${item})[]` : `${item}[]`;
    }
    case 'object': {
      const props = isObj(s.properties) ? s.properties : undefined;
      if (!props || Object.keys(props).length === 0) {
        if (isObj(s.additionalProperties)) return `Record<string, ${text(s.additionalProperties, root, depth, seen)}>`;
        return props ? '{}' : 'object';
      }
      if (depth <= 0) return 'object';
      const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
      return `{ ${Object.entries(props)
        .map(([k, v]) => `${k}${required.has(k) ? '' : '?'}: ${text(v, root, depth - 1, seen)}`)
        .join(', ')} }`;
    }
    case undefined:
      return 'any';
    default:
      return String(s.type);
  }
}

/** One field whose schema differs; `path` as `a.b`, `list[].c`, or `(root)`. */
export interface SchemaChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
  /** Type in the first schema (absent when added). */
  from?: string;
  /** Type in the second schema (absent when removed). */
  to?: string;
}

const ANNOTATIONS = new Set(['description', 'title', 'examples', '$comment', 'deprecated']);
/** Keywords whose value maps names (not keywords) to schemas. */
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);

/**
 * The schema without its annotations (descriptions, titles, examples): what a schema hash and a
 * schema comparison look at, so that rewording a `.describe()` changes no interface.
 */
export function withoutAnnotations(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutAnnotations);
  if (!isObj(schema)) return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (ANNOTATIONS.has(k)) continue;
    if (SCHEMA_MAPS.has(k) && isObj(v)) out[k] = Object.fromEntries(Object.entries(v).map(([name, x]) => [name, withoutAnnotations(x)]));
    else if (k === 'const' || k === 'enum' || k === 'default') out[k] = v; // values, not schemas
    else out[k] = withoutAnnotations(v);
  }
  return out;
}

function sameSchema(a: unknown, b: unknown): boolean {
  return stable(withoutAnnotations(a)) === stable(withoutAnnotations(b));
}

/** JSON with sorted keys (this module stays free of node:crypto and of canonical.ts). */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (isObj(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The fields that differ from schema `a` to schema `b`: properties added or removed (at any
 * depth, through arrays), a field that became required or optional, and fields whose type
 * changed. Annotations (descriptions, titles) are no difference.
 */
export function diffSchemas(a: JsonSchema, b: JsonSchema): SchemaChange[] {
  const out: SchemaChange[] = [];
  walk(a, b, [], { a, b }, out, new Set(), new Set());
  return out;
}

function walk(rawA: unknown, rawB: unknown, path: string[], roots: { a: Schema; b: Schema }, out: SchemaChange[], seenA: Set<string>, seenB: Set<string>): void {
  const da = deref(rawA, roots.a, seenA);
  const db = deref(rawB, roots.b, seenB);
  const a = da.schema;
  const b = db.schema;
  if (da.ref || db.ref || sameSchema(a, b)) return;
  const where = path.length ? path.join('.').replace(/\.\[\]/g, '[]') : '(root)';
  const before = out.length;
  if (isObj(a.properties) && isObj(b.properties)) {
    const pa = a.properties;
    const pb = b.properties;
    const ra = new Set(Array.isArray(a.required) ? (a.required as string[]) : []);
    const rb = new Set(Array.isArray(b.required) ? (b.required as string[]) : []);
    for (const k of new Set([...Object.keys(pa), ...Object.keys(pb)])) {
      const p = [...path, k];
      const name = p.join('.').replace(/\.\[\]/g, '[]');
      if (!(k in pb)) out.push({ path: name, change: 'removed', from: typeText(pa[k], roots.a) });
      else if (!(k in pa)) out.push({ path: name, change: 'added', to: `${typeText(pb[k], roots.b)}${rb.has(k) ? '' : ' (optional)'}` });
      else {
        const n = out.length;
        walk(pa[k], pb[k], p, roots, out, seenA, seenB);
        if (out.length === n && ra.has(k) !== rb.has(k)) out.push({ path: name, change: 'changed', from: ra.has(k) ? 'required' : 'optional', to: rb.has(k) ? 'required' : 'optional' });
      }
    }
  } else if (a.type === 'array' && b.type === 'array' && a.items !== undefined && b.items !== undefined) {
    walk(a.items, b.items, [...path, '[]'], roots, out, seenA, seenB);
  }
  // Something else differs (a type, a bound, a default, additionalProperties): this field changed.
  if (out.length === before) {
    let from = typeText(a, roots.a);
    let to = typeText(b, roots.b);
    if (from === to) {
      // Same type, other constraints (a bound, a format, a default): show the keywords that differ.
      const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !STRUCTURE.has(k) && !ANNOTATIONS.has(k) && stable(a[k]) !== stable(b[k]));
      const kw = (s: Schema) => keys.filter((k) => k in s).map((k) => `${k} ${JSON.stringify(s[k])}`).join(', ');
      if (kw(a)) from += ` (${kw(a)})`;
      if (kw(b)) to += ` (${kw(b)})`;
    }
    out.push({ path: where, change: 'changed', from, to });
  }
}

/** Keywords the walk compares itself (or that the type text shows). */
const STRUCTURE = new Set(['properties', 'required', 'items', 'type']);

/** `amount (changed: number → string), note (added: string (optional))`. */
export function describeChanges(changes: SchemaChange[]): string {
  return changes
    .map((c) => (c.change === 'added' ? `${c.path} (added: ${c.to})` : c.change === 'removed' ? `${c.path} (removed, was ${c.from})` : `${c.path} (changed: ${c.from} → ${c.to})`))
    .join(', ');
}
