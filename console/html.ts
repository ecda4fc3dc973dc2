/**
 * HTML by tagged template: every interpolated value is escaped unless it is already `Html` (made
 * by this template or by `raw`), so a model name, an error message or a param value can never
 * become markup. Arrays are joined; null, undefined and false render as nothing.
 */

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export type Interpolation = Html | string | number | boolean | null | undefined | readonly Interpolation[];

function render(v: Interpolation): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** Markup made elsewhere and trusted as it is (an SVG this process drew). */
export const raw = (s: string): Html => new Html(s);

/**
 * Data for the page's scripts, as a `<script type="application/json">` block: JSON with `<`
 * written as `\u003c`, so no value can close the element.
 */
export function jsonScript(id: string, data: unknown): Html {
  const text = JSON.stringify(data ?? null).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  return html`<script type="application/json" id="${id}">${raw(text)}</script>`;
}

/** Query string from the defined values, for links that keep a page's filters. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

const p2 = (n: number) => String(n).padStart(2, '0');

/** A time as UTC `YYYY-MM-DD HH:MM:SS`, inside a <time> element carrying the ISO value. */
export function time(d: Date | string | null | undefined): Html {
  if (!d) return html`<span class="muted">—</span>`;
  const t = typeof d === 'string' ? new Date(d) : d;
  const s = `${t.getUTCFullYear()}-${p2(t.getUTCMonth() + 1)}-${p2(t.getUTCDate())} ${p2(t.getUTCHours())}:${p2(t.getUTCMinutes())}:${p2(t.getUTCSeconds())}`;
  return html`<time datetime="${t.toISOString()}">${s}</time>`;
}

/** Milliseconds as a short duration: 850 ms, 12.3 s, 4 m 05 s, 2 h 03 m. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} m ${p2(Math.floor((ms % 60_000) / 1000))} s`;
  return `${Math.floor(ms / 3_600_000)} h ${p2(Math.floor((ms % 3_600_000) / 60_000))} m`;
}

/** A number for a table: integers as they are, others to 4 significant digits. */
export function num(v: unknown): string {
  if (typeof v !== 'number') return v === null || v === undefined ? '—' : String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6 ? String(Number(v.toPrecision(4))) : v.toExponential(3);
}
