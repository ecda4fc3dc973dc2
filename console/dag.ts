import { Graph, layout } from '@dagrejs/dagre';
import type { PipelineSpec } from '../pipelines/dsl/spec';
import { escapeHtml, raw, type Html } from './html';

/**
 * A pipeline's DAG as SVG: dagre computes the positions (ranks, crossing reduction, edge
 * routes), this draws a box per node and a path per dependency. Each node is a <g data-node=ID>
 * whose class says its state, so the run page's script recolours nodes in place while it polls.
 * A fan-out node is one box with counts, however many items it has.
 */

export interface DagNodeState {
  status: string;
  /** Fan-out items by status (a plain node has none). */
  items?: { total: number; byStatus: Record<string, number> };
}

const CHAR_W = 7.2;
const NODE_H = 46;

export function fanoutLine(items: DagNodeState['items']): string | undefined {
  if (!items) return undefined;
  const done = (items.byStatus.succeeded ?? 0) + (items.byStatus.cached ?? 0);
  const failed = items.byStatus.failed ?? 0;
  return `${done}/${items.total} done${failed ? ` · ${failed} failed` : ''}${items.byStatus.running ? ` · ${items.byStatus.running} running` : ''}`;
}

/** Where dagre put the nodes and edges of a spec: the same for every run of a pipeline version, so computed once. */
interface DagLayout {
  width: number;
  height: number;
  nodes: Map<string, { x: number; y: number; width: number; height: number }>;
  edges: { x: number; y: number }[][];
}

const layouts = new Map<string, DagLayout>();
const MAX_CACHED_LAYOUTS = 200;

/** Characters kept free on a fan-out box for its counts line ("99999/100000 done · 1 failed"). */
const FANOUT_LINE_CHARS = 30;

function layoutOf(spec: PipelineSpec): DagLayout {
  const key = `${spec.name}@${spec.version}`;
  const cached = layouts.get(key);
  if (cached) return cached;
  const g = new Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 46, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of spec.nodes) {
    const chars = Math.max(n.id.length, subtitle(n).length, n.map ? FANOUT_LINE_CHARS : 0);
    g.setNode(n.id, { width: Math.max(90, Math.ceil(chars * CHAR_W) + 20), height: NODE_H });
  }
  for (const n of spec.nodes) for (const d of n.dependsOn) if (g.hasNode(d)) g.setEdge(d, n.id);
  layout(g);
  const { width = 0, height = 0 } = g.graph();
  const out: DagLayout = {
    width: Math.ceil(width),
    height: Math.ceil(height),
    nodes: new Map(spec.nodes.map((n) => [n.id, g.node(n.id)])),
    edges: g.edges().map((e) => (g.edge(e).points ?? []).map((p: { x: number; y: number }) => ({ x: p.x, y: p.y }))),
  };
  if (layouts.size >= MAX_CACHED_LAYOUTS) layouts.clear();
  layouts.set(key, out);
  return out;
}

const subtitle = (n: PipelineSpec['nodes'][number]) => (n.approval ? 'approval' : n.map ? `${n.step} (fan-out)` : n.step);

export function renderDag(spec: PipelineSpec, states: Record<string, DagNodeState> = {}, opts: { link?: (node: string) => string } = {}): Html {
  const lay = layoutOf(spec);
  const parts: string[] = [];
  parts.push('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" class="arrowhead"/></marker></defs>');
  for (const pts of lay.edges) {
    if (!pts.length) continue;
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join('');
    parts.push(`<path class="edge" d="${d}" marker-end="url(#arrow)"/>`);
  }
  for (const n of spec.nodes) {
    const box = lay.nodes.get(n.id)!;
    const s = states[n.id];
    const status = s?.status ?? 'pending';
    const second = fanoutLine(s?.items) ?? subtitle(n);
    const x = box.x - box.width / 2;
    const y = box.y - box.height / 2;
    const inner =
      `<title>${escapeHtml(`${n.id}: ${status}`)}</title>` +
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${box.width}" height="${box.height}" rx="6"/>` +
      `<text x="${box.x.toFixed(1)}" y="${(box.y - 4).toFixed(1)}" class="n-id">${escapeHtml(n.id)}</text>` +
      `<text x="${box.x.toFixed(1)}" y="${(box.y + 13).toFixed(1)}" class="n-sub">${escapeHtml(second)}</text>`;
    const g2 = `<g class="node n-${escapeHtml(status)}" data-node="${escapeHtml(n.id)}">${inner}</g>`;
    parts.push(opts.link ? `<a href="${escapeHtml(opts.link(n.id))}">${g2}</a>` : g2);
  }
  // A DAG up to about twice a wide window's width shrinks to fit its box (the whole pipeline in
  // view, labels still legible); a wider one keeps its size and scrolls.
  const fit = lay.width <= FIT_MAX_WIDTH ? ' fit' : '';
  return raw(
    `<svg class="dag${fit}" role="img" aria-label="${escapeHtml(`DAG of ${spec.name}: ${spec.nodes.length} nodes`)}" viewBox="0 0 ${lay.width} ${lay.height}" width="${lay.width}" height="${lay.height}">${parts.join('')}</svg>`,
  );
}

/** Widest layout (px) that is scaled down to its box rather than scrolled. */
const FIT_MAX_WIDTH = 2600;
