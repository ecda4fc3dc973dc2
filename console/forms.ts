import { html, type Html } from './html';

/**
 * Forms generated from a pipeline's params JSON Schema: one field per top-level property (a text
 * or number box, a select for enums and booleans, a JSON box for objects and lists), read back
 * into one params object. The values are only shaped here (numbers, booleans, JSON); the start
 * itself checks them against the pipeline's schema, as `sluice run` does.
 */

interface PropSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  description?: string;
  anyOf?: PropSchema[];
  oneOf?: PropSchema[];
}

type FieldKind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';

function kindOf(p: PropSchema): FieldKind {
  if (p.enum && p.enum.every((v) => typeof v === 'string')) return 'enum';
  const types = (Array.isArray(p.type) ? p.type : p.type ? [p.type] : []).filter((t) => t !== 'null');
  if (types.length === 1) {
    const t = types[0]!;
    if (t === 'string' || t === 'number' || t === 'integer' || t === 'boolean') return t;
  }
  return 'json';
}

export function paramProperties(schema: Record<string, unknown>): { name: string; prop: PropSchema; required: boolean; kind: FieldKind }[] {
  const props = (schema.properties ?? {}) as Record<string, PropSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, prop]) => ({ name, prop, required: required.has(name), kind: kindOf(prop) }));
}

export function paramsForm(schema: Record<string, unknown>): Html {
  return html`${paramProperties(schema).map(({ name, prop, required, kind }) => {
    const id = `p-${name}`;
    const hint = [required ? 'required' : '', prop.default !== undefined ? `default ${JSON.stringify(prop.default)}` : ''].filter(Boolean).join(', ');
    const label = html`<label for="${id}">${name}${kind === 'json' ? ' (JSON)' : ''}</label>`;
    const desc = html`<span class="hint">${prop.description ?? ''}${prop.description && hint ? ' — ' : ''}${hint}</span>`;
    let input: Html;
    if (kind === 'enum' || kind === 'boolean') {
      const options = kind === 'boolean' ? ['true', 'false'] : (prop.enum as string[]);
      input = html`<select id="${id}" name="p.${name}"><option value="">(default)</option>${options.map((o) => html`<option>${o}</option>`)}</select>`;
    } else if (kind === 'json') {
      input = html`<textarea id="${id}" name="p.${name}" rows="2" placeholder="${prop.default !== undefined ? JSON.stringify(prop.default) : ''}"></textarea>`;
    } else {
      input = html`<input id="${id}" name="p.${name}" type="${kind === 'string' ? 'text' : 'number'}"${kind === 'number' ? html` step="any"` : ''} placeholder="${prop.default !== undefined ? String(prop.default) : ''}">`;
    }
    return html`<div class="field">${label}${input}${desc}</div>`;
  })}`;
}

/** The params object a submitted form describes: empty fields are left out (the schema's defaults apply). */
export function readParamsForm(schema: Record<string, unknown>, body: Record<string, unknown>): Record<string, unknown> {
  const whole = typeof body._json === 'string' ? body._json.trim() : '';
  const params: Record<string, unknown> = {};
  if (whole) {
    const parsed = parseJson('params', whole);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('params (JSON) must be one JSON object');
    Object.assign(params, parsed);
  }
  for (const { name, kind } of paramProperties(schema)) {
    const v = body[`p.${name}`];
    if (typeof v !== 'string' || v.trim() === '') continue;
    const s = v.trim();
    if (kind === 'number' || kind === 'integer') {
      const n = Number(s);
      params[name] = Number.isFinite(n) ? n : s; // a non-number is left for the schema check to name
    } else if (kind === 'boolean') params[name] = s === 'true';
    else if (kind === 'json') params[name] = parseJson(name, s);
    else params[name] = s;
  }
  return params;
}

function parseJson(what: string, s: string): unknown {
  try {
    return JSON.parse(s);
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/** The hidden CSRF field every action form carries. */
export const csrfField = (token: string): Html => html`<input type="hidden" name="_csrf" value="${token}">`;

/** A notice from the `done` / `error` query parameters an action redirects with. */
export function notice(q: { done?: string; error?: string }): Html {
  if (q.error) return html`<p class="notice error" role="alert">${q.error}</p>`;
  if (q.done) return html`<p class="notice ok" role="status">${q.done}</p>`;
  return html``;
}
