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

export function renderDag(spec: PipelineSpec, states: Record<string, DagNodeState> = {}, opts: { link?: (node: string) => string } = {}): Html {
  const g = new Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 46, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const lines = new Map<string, [string, string]>();
  for (const n of spec.nodes) {
    const s = states[n.id];
    const second = fanoutLine(s?.items) ?? (n.approval ? 'approval' : n.map ? `${n.step} (fan-out)` : n.step);
    lines.set(n.id, [n.id, second]);
    const width = Math.max(90, Math.ceil(Math.max(n.id.length, second.length) * CHAR_W) + 20);
    g.setNode(n.id, { width, height: NODE_H });
  }
  for (const n of spec.nodes) for (const d of n.dependsOn) if (g.hasNode(d)) g.setEdge(d, n.id);
  layout(g);
  const { width = 0, height = 0 } = g.graph();
  const parts: string[] = [];
  parts.push('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" class="arrowhead"/></marker></defs>');
  for (const e of g.edges()) {
    const pts = g.edge(e).points ?? [];
    if (!pts.length) continue;
    const d = pts.map((p: { x: number; y: number }, i: number) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join('');
    parts.push(`<path class="edge" d="${d}" marker-end="url(#arrow)"/>`);
  }
  for (const n of spec.nodes) {
    const box = g.node(n.id);
    const [first, second] = lines.get(n.id)!;
    const status = states[n.id]?.status ?? 'pending';
    const x = box.x - box.width / 2;
    const y = box.y - box.height / 2;
    const inner =
      `<title>${escapeHtml(`${n.id}: ${status}`)}</title>` +
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${box.width}" height="${box.height}" rx="6"/>` +
      `<text x="${box.x.toFixed(1)}" y="${(box.y - 4).toFixed(1)}" class="n-id">${escapeHtml(first)}</text>` +
      `<text x="${box.x.toFixed(1)}" y="${(box.y + 13).toFixed(1)}" class="n-sub">${escapeHtml(second)}</text>`;
    const g2 = `<g class="node n-${escapeHtml(status)}" data-node="${escapeHtml(n.id)}">${inner}</g>`;
    parts.push(opts.link ? `<a href="${escapeHtml(opts.link(n.id))}">${g2}</a>` : g2);
  }
  return raw(
    `<svg class="dag" role="img" aria-label="${escapeHtml(`DAG of ${spec.name}: ${spec.nodes.length} nodes`)}" viewBox="0 0 ${Math.ceil(width)} ${Math.ceil(height)}" width="${Math.ceil(width)}" height="${Math.ceil(height)}">${parts.join('')}</svg>`,
  );
}
