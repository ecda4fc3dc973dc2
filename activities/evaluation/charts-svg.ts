/**
 * Inline SVG charts for the evaluation reports: no script, no external asset, every piece of text
 * (class labels, column values, titles) escaped. Each function returns one `<svg>` element.
 */

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777', '#4b5563', '#65a30d'];

/** A number for display: up to 4 significant digits, no exponent for ordinary magnitudes. */
export function fmt(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

const r2 = (v: number) => (Math.round(v * 100) / 100).toString();

/** Up to ~n round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
  x: (v: number) => number;
  y: (v: number) => number;
}

function frame(width: number, height: number, xDomain: [number, number], yDomain: [number, number]): Frame {
  const left = 52;
  const right = width - 14;
  const top = 30;
  const bottom = height - 44;
  const [x0, x1] = xDomain;
  const [y0, y1] = yDomain;
  const sx = x1 > x0 ? (right - left) / (x1 - x0) : 0;
  const sy = y1 > y0 ? (bottom - top) / (y1 - y0) : 0;
  return { width, height, left, right, top, bottom, x: (v) => left + (v - x0) * sx, y: (v) => bottom - (v - y0) * sy };
}

function axes(f: Frame, o: { title: string; xLabel: string; yLabel: string; xTicks: number[]; yTicks: number[] }): string {
  const parts: string[] = [];
  parts.push(`<text x="${f.width / 2}" y="18" text-anchor="middle" class="ct">${esc(o.title)}</text>`);
  parts.push(`<rect x="${f.left}" y="${f.top}" width="${r2(f.right - f.left)}" height="${r2(f.bottom - f.top)}" fill="none" stroke="#999" stroke-width="1"/>`);
  for (const t of o.xTicks) {
    const x = r2(f.x(t));
    parts.push(`<line x1="${x}" y1="${f.bottom}" x2="${x}" y2="${f.bottom + 4}" stroke="#999"/><text x="${x}" y="${f.bottom + 16}" text-anchor="middle" class="tk">${esc(fmt(t, 3))}</text>`);
  }
  for (const t of o.yTicks) {
    const y = r2(f.y(t));
    parts.push(`<line x1="${f.left - 4}" y1="${y}" x2="${f.left}" y2="${y}" stroke="#999"/><text x="${f.left - 7}" y="${y}" dy="3" text-anchor="end" class="tk">${esc(fmt(t, 3))}</text>`);
  }
  parts.push(`<text x="${(f.left + f.right) / 2}" y="${f.height - 8}" text-anchor="middle" class="al">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(13 ${(f.top + f.bottom) / 2}) rotate(-90)" text-anchor="middle" class="al">${esc(o.yLabel)}</text>`);
  return parts.join('');
}

function svg(width: number, height: number, title: string, body: string): string {
  return `<svg class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>${body}</svg>`;
}

function legend(f: Frame, items: { name: string; color: string; dash?: boolean }[], corner: LegendCorner = 'br'): string {
  if (!items.length) return '';
  const lineH = 14;
  const w = Math.min(200, 28 + Math.max(...items.map((i) => Math.min(i.name.length, 26))) * 6.2);
  const h = items.length * lineH + 8;
  const x0 = corner === 'bl' ? f.left + 6 : f.right - w - 6;
  const y0 = corner === 'tr' ? f.top + 6 : f.bottom - h - 6;
  const rows = items.map((it, i) => {
    const y = y0 + 4 + lineH * i + lineH / 2;
    const label = it.name.length > 26 ? `${it.name.slice(0, 25)}…` : it.name;
    return `<line x1="${x0 + 6}" y1="${r2(y)}" x2="${x0 + 22}" y2="${r2(y)}" stroke="${it.color}" stroke-width="2"${it.dash ? ' stroke-dasharray="4 3"' : ''}/><text x="${x0 + 26}" y="${r2(y)}" dy="3" class="lg">${esc(label)}</text>`;
  });
  return `<g><rect x="${r2(x0)}" y="${r2(y0)}" width="${r2(w)}" height="${h}" fill="#fff" fill-opacity="0.85" stroke="#ccc"/>${rows.join('')}</g>`;
}

export type LegendCorner = 'br' | 'tr' | 'bl';

export interface LineSeries {
  name: string;
  x: number[];
  y: number[];
  color?: string;
  dash?: boolean;
  markers?: boolean;
}

/** Lines over a [0, 1] × [0, 1] square (ROC, PR, reliability), with optional references. */
export function unitLineChart(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: LineSeries[];
  /** The y = x diagonal (chance for ROC, perfect calibration). */
  diagonal?: boolean;
  /** Horizontal reference lines (no-skill precision). */
  hlines?: { y: number; color?: string }[];
  legendCorner?: LegendCorner;
  width?: number;
  height?: number;
}): string {
  const width = o.width ?? 380;
  const height = o.height ?? 340;
  const f = frame(width, height, [0, 1], [0, 1]);
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const parts = [axes(f, { title: o.title, xLabel: o.xLabel, yLabel: o.yLabel, xTicks: ticks, yTicks: ticks })];
  if (o.diagonal) parts.push(`<line x1="${f.x(0)}" y1="${f.y(0)}" x2="${f.x(1)}" y2="${f.y(1)}" stroke="#bbb" stroke-dasharray="3 3"/>`);
  for (const h of o.hlines ?? []) parts.push(`<line x1="${f.x(0)}" y1="${r2(f.y(h.y))}" x2="${f.x(1)}" y2="${r2(f.y(h.y))}" stroke="${h.color ?? '#bbb'}" stroke-dasharray="2 4"/>`);
  const items: { name: string; color: string; dash?: boolean }[] = [];
  o.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = s.x.map((x, j) => `${r2(f.x(x))},${r2(f.y(s.y[j]!))}`).join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="1.8"${s.dash ? ' stroke-dasharray="5 3"' : ''}/>`);
    if (s.markers) for (let j = 0; j < s.x.length; j++) parts.push(`<circle cx="${r2(f.x(s.x[j]!))}" cy="${r2(f.y(s.y[j]!))}" r="3" fill="${color}"/>`);
    items.push({ name: s.name, color, ...(s.dash ? { dash: true } : {}) });
  });
  parts.push(legend(f, items, o.legendCorner));
  return svg(width, height, o.title, parts.join(''));
}

/** Reliability diagram: mean predicted vs observed per bin, and the bins' row counts as bars. */
export function reliabilityChart(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  bins: { lower: number; upper: number; count: number; meanPredicted: number | null; observed: number | null }[];
  width?: number;
  height?: number;
}): string {
  const width = o.width ?? 380;
  const height = o.height ?? 340;
  const f = frame(width, height, [0, 1], [0, 1]);
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const parts = [axes(f, { title: o.title, xLabel: o.xLabel, yLabel: o.yLabel, xTicks: ticks, yTicks: ticks })];
  const maxCount = Math.max(1, ...o.bins.map((b) => b.count));
  for (const b of o.bins) {
    if (!b.count) continue;
    const h = (b.count / maxCount) * (f.bottom - f.top) * 0.25;
    parts.push(
      `<rect x="${r2(f.x(b.lower) + 1)}" y="${r2(f.bottom - h)}" width="${r2(f.x(b.upper) - f.x(b.lower) - 2)}" height="${r2(h)}" fill="#cbd5e1"><title>${esc(`[${fmt(b.lower)}, ${fmt(b.upper)}): ${b.count} rows`)}</title></rect>`,
    );
  }
  parts.push(`<line x1="${f.x(0)}" y1="${f.y(0)}" x2="${f.x(1)}" y2="${f.y(1)}" stroke="#bbb" stroke-dasharray="3 3"/>`);
  const filled = o.bins.filter((b) => b.count && b.meanPredicted !== null && b.observed !== null);
  const pts = filled.map((b) => `${r2(f.x(b.meanPredicted!))},${r2(f.y(b.observed!))}`).join(' ');
  if (pts) parts.push(`<polyline points="${pts}" fill="none" stroke="${PALETTE[0]}" stroke-width="1.8"/>`);
  for (const b of filled) {
    parts.push(
      `<circle cx="${r2(f.x(b.meanPredicted!))}" cy="${r2(f.y(b.observed!))}" r="3.2" fill="${PALETTE[0]}"><title>${esc(`predicted ${fmt(b.meanPredicted)}, observed ${fmt(b.observed)}, ${b.count} rows`)}</title></circle>`,
    );
  }
  return svg(width, height, o.title, parts.join(''));
}

/** White-ish (0) to deep blue (1), as #rrggbb. */
function shade(t: number): string {
  const a = [245, 248, 255];
  const b = [29, 78, 216];
  return `#${a.map((v, i) => Math.round(v + (b[i]! - v) * Math.min(1, Math.max(0, t))).toString(16).padStart(2, '0')).join('')}`;
}

/** A confusion matrix as a heatmap: rows true, columns predicted, shaded by the row's share. */
export function confusionMatrixChart(o: { title: string; labels: string[]; matrix: number[][]; maxClasses?: number }): string {
  const C = o.labels.length;
  const max = o.maxClasses ?? 40;
  if (C > max) return `<p class="note">${esc(`${C} classes: too many to draw the confusion matrix (see the JSON report).`)}</p>`;
  const cell = Math.max(22, Math.min(64, Math.floor(420 / C)));
  const labelW = 96;
  const top = 78;
  const left = labelW + 22;
  const width = Math.max(left + cell * C + 12, o.title.length * 7.5 + 20);
  const height = top + cell * C + 16;
  const short = (s: string) => (s.length > 14 ? `${s.slice(0, 13)}…` : s);
  const parts: string[] = [`<text x="${width / 2}" y="18" text-anchor="middle" class="ct">${esc(o.title)}</text>`];
  parts.push(`<text x="${left + (cell * C) / 2}" y="38" text-anchor="middle" class="al">predicted</text>`);
  parts.push(`<text transform="translate(12 ${top + (cell * C) / 2}) rotate(-90)" text-anchor="middle" class="al">true</text>`);
  o.matrix.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((v, p) => {
      const share = total ? v / total : 0;
      const fill = shade(share);
      const x = left + p * cell;
      const y = top + t * cell;
      const tip = `true ${o.labels[t]}, predicted ${o.labels[p]}: ${v}${total ? ` (${fmt(share * 100, 3)}% of row)` : ''}`;
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#fff"><title>${esc(tip)}</title></rect>`);
      if (cell >= 26) parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2}" dy="4" text-anchor="middle" class="cv" fill="${share > 0.55 ? '#fff' : '#111'}">${esc(fmt(v))}</text>`);
    });
    parts.push(`<text x="${left - 6}" y="${top + t * cell + cell / 2}" dy="4" text-anchor="end" class="tk">${esc(short(o.labels[t]!))}</text>`);
  });
  o.labels.forEach((l, p) => {
    const x = left + p * cell + cell / 2;
    parts.push(`<text transform="translate(${x} ${top - 6}) rotate(-30)" text-anchor="start" class="tk">${esc(short(l))}</text>`);
  });
  return svg(width, height, o.title, parts.join(''));
}

/** Scatter of (x, y) with the y = x line: predicted against actual. */
export function scatterChart(o: { title: string; xLabel: string; yLabel: string; x: number[]; y: number[]; width?: number; height?: number }): string {
  const width = o.width ?? 380;
  const height = o.height ?? 340;
  const all = [...o.x, ...o.y].filter(Number.isFinite);
  let lo = all.length ? Math.min(...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (hi === lo) {
    lo -= 1;
    hi += 1;
  }
  const pad = (hi - lo) * 0.04;
  const d: [number, number] = [lo - pad, hi + pad];
  const f = frame(width, height, d, d);
  const ticks = niceTicks(d[0], d[1]);
  const parts = [axes(f, { title: o.title, xLabel: o.xLabel, yLabel: o.yLabel, xTicks: ticks, yTicks: ticks })];
  parts.push(`<line x1="${r2(f.x(d[0]))}" y1="${r2(f.y(d[0]))}" x2="${r2(f.x(d[1]))}" y2="${r2(f.y(d[1]))}" stroke="#bbb" stroke-dasharray="3 3"/>`);
  for (let i = 0; i < o.x.length; i++) parts.push(`<circle cx="${r2(f.x(o.x[i]!))}" cy="${r2(f.y(o.y[i]!))}" r="2" fill="${PALETTE[0]}" fill-opacity="0.55"/>`);
  return svg(width, height, o.title, parts.join(''));
}

/** Bars of a histogram given its edges (n + 1) and counts (n). */
export function histogramChart(o: { title: string; xLabel: string; edges: number[]; counts: number[]; width?: number; height?: number }): string {
  const width = o.width ?? 380;
  const height = o.height ?? 340;
  if (o.counts.length === 0) return svg(width, height, o.title, `<text x="${width / 2}" y="${height / 2}" text-anchor="middle" class="tk">no data</text>`);
  const lo = o.edges[0]!;
  const hi = o.edges[o.edges.length - 1]!;
  const maxC = Math.max(1, ...o.counts);
  const f = frame(width, height, hi > lo ? [lo, hi] : [lo - 1, hi + 1], [0, maxC]);
  const parts = [axes(f, { title: o.title, xLabel: o.xLabel, yLabel: 'rows', xTicks: niceTicks(lo, hi), yTicks: niceTicks(0, maxC) })];
  o.counts.forEach((c, i) => {
    const a = hi > lo ? o.edges[i]! : lo - 0.5;
    const b = hi > lo ? o.edges[i + 1]! : lo + 0.5;
    const x = f.x(a);
    const w = Math.max(1, f.x(b) - x - 1);
    parts.push(`<rect x="${r2(x)}" y="${r2(f.y(c))}" width="${r2(w)}" height="${r2(f.bottom - f.y(c))}" fill="${PALETTE[0]}" fill-opacity="0.7"><title>${esc(`[${fmt(a)}, ${fmt(b)}): ${c}`)}</title></rect>`);
  });
  return svg(width, height, o.title, parts.join(''));
}
