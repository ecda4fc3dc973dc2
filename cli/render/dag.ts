import type { NodeStatus } from '../../pipelines/dsl/protocol';
import { nodeStep, type BindingExpr, type ConditionExpr, type NodeSpec, type PipelineSpec } from '../../pipelines/dsl/spec';

/**
 * Pure renderers for a PipelineSpec as a DAG: Mermaid (`flowchart TD`) and plain text, each
 * optionally with per-node run state (from the engine's `state` query or from `step_runs`).
 */

/** Per-node state to overlay. `NodeState` from the engine protocol fits as is. */
export interface RenderNodeState {
  status: NodeStatus;
  attempts?: number;
  /** Epoch ms or Date. */
  startedAt?: number | Date;
  endedAt?: number | Date;
  /** Fan-out progress: items done (or cached) out of total. */
  items?: { total: number; done: number };
  /** Reused from the step cache (a `cached` status implies it). */
  cached?: boolean;
  /** URIs of artifacts the node produced or reused. */
  artifacts?: string[];
  /** Artifact URI → the output it is (`model`, `reports[0]`), where the step's outputs were recorded. */
  artifactOutputs?: Record<string, string>;
  error?: string;
}

export type RenderStates = Record<string, RenderNodeState>;

/** Render order of the statuses (a Mermaid class each). */
export const NODE_STATUSES: readonly NodeStatus[] = ['succeeded', 'cached', 'failed', 'running', 'skipped', 'pending'];

// ---------------------------------------------------------------------------------------------
// Expressions

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function renderPath(head: string, path: string[]): string {
  let s = head;
  for (const p of path) s += /^\d+$/.test(p) ? `[${p}]` : IDENT.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`;
  return s;
}

/** A binding as source-like text: `params.threshold`, `greet.total`, `item.id`, `3`, `"a"`. */
export function renderBinding(e: BindingExpr): string {
  switch (e.kind) {
    case 'literal':
      return e.value === undefined ? 'undefined' : JSON.stringify(e.value);
    case 'ref': {
      const head = e.ref.source === 'params' ? 'params' : e.ref.source === 'item' ? 'item' : (e.ref.node ?? '?');
      return renderPath(head, e.ref.path);
    }
    case 'object':
      return `{ ${Object.entries(e.fields)
        .map(([k, v]) => `${IDENT.test(k) ? k : JSON.stringify(k)}: ${renderBinding(v)}`)
        .join(', ')} }`;
    case 'list':
      return `[${e.items.map(renderBinding).join(', ')}]`;
  }
}

const OPS = { eq: '==', ne: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

/** A condition as text: `greet.total > params.threshold and not (x == 1)`. */
export function renderCondition(c: ConditionExpr): string {
  const compound = (x: ConditionExpr) => (x.op === 'and' || x.op === 'or') && x.all.length > 1;
  switch (c.op) {
    case 'truthy':
      return renderBinding(c.value);
    case 'not':
      return c.cond.op === 'truthy' || c.cond.op === 'not' ? `not ${renderCondition(c.cond)}` : `not (${renderCondition(c.cond)})`;
    case 'and':
    case 'or':
      return c.all.map((x) => (compound(x) ? `(${renderCondition(x)})` : renderCondition(x))).join(` ${c.op} `);
    default:
      return `${renderBinding(c.left)} ${OPS[c.op]} ${renderBinding(c.right)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** 850ms, 12.3s, 2m05s, 1h02m. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const ms = (t: number | Date | undefined) => (t === undefined ? undefined : t instanceof Date ? t.getTime() : t);

function durationOf(s: RenderNodeState): string {
  const a = ms(s.startedAt);
  const b = ms(s.endedAt);
  return a !== undefined && b !== undefined ? formatDuration(b - a) : '';
}

function statusText(s: RenderNodeState): string {
  return s.items ? `${s.status} ${s.items.done}/${s.items.total}` : s.status;
}

function attemptsText(s: RenderNodeState): string {
  return s.attempts === undefined ? '' : `${s.attempts} attempt${s.attempts === 1 ? '' : 's'}`;
}

function stateOf(states: RenderStates | undefined, id: string): RenderNodeState | undefined {
  return states ? (states[id] ?? { status: 'pending' }) : undefined;
}

const stepLabel = (spec: PipelineSpec, n: NodeSpec) => {
  const s = nodeStep(spec, n);
  return `${s.name}@${s.version}`;
};

// ---------------------------------------------------------------------------------------------
// Mermaid

/** Mermaid entity codes for characters that break labels. */
function mermaidText(s: string): string {
  return s.replace(/&/g, '#amp;').replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
}

/** Mermaid-safe node ids (prefixed, so reserved words such as `end` and `o`/`x` edge heads cannot clash). */
function mermaidIds(ids: string[], prefix: string): Map<string, string> {
  const out = new Map<string, string>();
  const used = new Set<string>();
  for (const id of ids) {
    const base = prefix + id.replace(/\//g, '__').replace(/[^A-Za-z0-9_]/g, '_');
    let m = base;
    for (let i = 2; used.has(m); i++) m = `${base}_${i}`;
    used.add(m);
    out.set(id, m);
  }
  return out;
}

/** The enclosing sub-pipeline of group `g` ("outer/inner" is inside "outer"), if any. */
function parentGroup(g: string): string | undefined {
  const i = g.lastIndexOf('/');
  return i < 0 ? undefined : g.slice(0, i);
}

/** Groups (sub-pipeline ids, possibly nested) as a tree, every ancestor present, in spec order. */
function groupTree(spec: PipelineSpec): { children: Map<string, string[]>; all: string[] } {
  const all: string[] = [];
  const add = (g: string) => {
    if (all.includes(g)) return;
    const p = parentGroup(g);
    if (p !== undefined) add(p);
    all.push(g);
  };
  for (const n of spec.nodes) if (n.group) add(n.group);
  const children = new Map<string, string[]>();
  for (const g of all) {
    const p = parentGroup(g) ?? '';
    children.set(p, [...(children.get(p) ?? []), g]);
  }
  return { children, all };
}

export interface MermaidOptions {
  /** Add a status line (status, items, duration, attempts) to node labels when states are given. Default true. */
  statusInLabels?: boolean;
}

/**
 * `flowchart TD` of the pipeline: one node per spec node labelled `id / step@version (queue)`,
 * edges from dependsOn (dotted, labelled `if …`, into conditional nodes), fan-out nodes as
 * subroutine shapes marked ×N, sub-pipeline nodes in (nested) subgraphs, and with states a
 * class per status.
 */
export function toMermaid(spec: PipelineSpec, states?: RenderStates, opts: MermaidOptions = {}): string {
  const ids = mermaidIds(spec.nodes.map((n) => n.id), 'n_');
  const { children, all: groups } = groupTree(spec);
  const gids = mermaidIds(groups, 'g_');
  const lines: string[] = ['flowchart TD', `  %% ${spec.name}@${spec.version}`];

  const nodeLine = (n: NodeSpec, indent: string) => {
    const parts = [n.id, `${stepLabel(spec, n)} (${nodeStep(spec, n).queue})${n.map ? ' ×N' : ''}`];
    if (n.when && n.dependsOn.length === 0) parts.push(`if ${renderCondition(n.when)}`);
    const s = stateOf(states, n.id);
    if (s && opts.statusInLabels !== false) parts.push([statusText(s), durationOf(s), s.attempts && s.attempts > 1 ? attemptsText(s) : ''].filter(Boolean).join(' · '));
    const label = `"${parts.map(mermaidText).join('<br/>')}"`;
    const id = ids.get(n.id)!;
    lines.push(`${indent}${id}${n.map ? `[[${label}]]` : `[${label}]`}`);
  };

  const byGroup = new Map<string, NodeSpec[]>();
  for (const n of spec.nodes) byGroup.set(n.group ?? '', [...(byGroup.get(n.group ?? '') ?? []), n]);

  const emit = (group: string, depth: number) => {
    const indent = '  '.repeat(depth + 1);
    for (const n of byGroup.get(group) ?? []) nodeLine(n, indent);
    for (const g of children.get(group) ?? []) {
      lines.push(`${indent}subgraph ${gids.get(g)!}["${mermaidText(`${g} (sub-pipeline)`)}"]`);
      emit(g, depth + 1);
      lines.push(`${indent}end`);
    }
  };
  emit('', 0);

  for (const n of spec.nodes) {
    n.dependsOn.forEach((d, i) => {
      const from = ids.get(d);
      if (!from) return;
      const to = ids.get(n.id)!;
      if (!n.when) lines.push(`  ${from} --> ${to}`);
      else if (i === 0) lines.push(`  ${from} -.->|"${mermaidText(`if ${renderCondition(n.when)}`)}"| ${to}`);
      else lines.push(`  ${from} -.-> ${to}`);
    });
  }

  if (states) {
    lines.push(
      '  classDef succeeded fill:#d4edda,stroke:#28a745,color:#155724',
      '  classDef cached fill:#d1ecf1,stroke:#17a2b8,color:#0c5460',
      '  classDef failed fill:#f8d7da,stroke:#dc3545,color:#721c24',
      '  classDef running fill:#fff3cd,stroke:#e0a800,color:#856404',
      '  classDef skipped fill:#eeeeee,stroke:#999999,color:#666666,stroke-dasharray:4 3',
      '  classDef pending fill:#ffffff,stroke:#999999,color:#333333',
    );
    const byStatus = new Map<string, string[]>();
    for (const n of spec.nodes) {
      const st = stateOf(states, n.id)!.status;
      byStatus.set(st, [...(byStatus.get(st) ?? []), ids.get(n.id)!]);
    }
    for (const st of NODE_STATUSES) {
      const members = byStatus.get(st);
      if (members?.length) lines.push(`  class ${members.join(',')} ${st}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Text

export interface TextOptions {
  /** At most this many artifact URIs per node (the rest are counted). Default 3. */
  maxArtifacts?: number;
}

/**
 * A readable DAG, one line per node in spec (topological) order:
 * `id  step@version  [queue]  <- deps` and, with states, status, duration and attempts; then
 * `for each …` for fan-outs and `if …` for conditions. Sub-pipeline nodes are indented under a
 * `group/` header; artifacts and errors follow on continuation lines.
 */
export function toText(spec: PipelineSpec, states?: RenderStates, opts: TextOptions = {}): string {
  const maxArtifacts = opts.maxArtifacts ?? 3;
  type Row = { cells: string[]; extra: string[]; header?: string; depth: number };
  const rows: Row[] = [];
  const open: string[] = [];
  const depthOf = (g: string | undefined) => (g ? g.split('/').length : 0);

  for (const n of spec.nodes) {
    // Group headers: close groups this node is not in, open the ones it is in.
    const chain: string[] = [];
    if (n.group) {
      const segs = n.group.split('/');
      for (let i = 1; i <= segs.length; i++) chain.push(segs.slice(0, i).join('/'));
    }
    while (open.length && !chain.includes(open[open.length - 1]!)) open.pop();
    for (const g of chain) {
      if (open.includes(g)) continue;
      rows.push({ cells: [], extra: [], header: `${g}/  (sub-pipeline)`, depth: depthOf(g) - 1 });
      open.push(g);
    }

    const depth = depthOf(n.group);
    const cells = [n.id, `${stepLabel(spec, n)}${n.map ? ' ×N' : ''}`, `[${nodeStep(spec, n).queue}]`, n.dependsOn.length ? `<- ${n.dependsOn.join(', ')}` : ''];
    const s = stateOf(states, n.id);
    if (s) cells.push(statusText(s), durationOf(s), attemptsText(s));
    const tail: string[] = [];
    if (n.map) tail.push(`for each of ${renderBinding(n.map.over)} (≤${n.map.parallelism} at once)`);
    if (n.when) tail.push(`if ${renderCondition(n.when)}`);
    cells.push(tail.join('  '));
    const extra: string[] = [];
    if (s?.error) extra.push(`! ${s.error.split('\n')[0]}`);
    if (s?.artifacts?.length) {
      for (const a of s.artifacts.slice(0, maxArtifacts)) extra.push(`↳ ${s.artifactOutputs?.[a] ? `${s.artifactOutputs[a]}: ` : ''}${a}`);
      if (s.artifacts.length > maxArtifacts) extra.push(`↳ … ${s.artifacts.length - maxArtifacts} more`);
    }
    rows.push({ cells, extra, depth });
  }

  // Drop columns empty in every row (no deps anywhere, no conditions, …).
  const ncols = Math.max(0, ...rows.map((r) => r.cells.length));
  const keep = Array.from({ length: ncols }, (_, i) => rows.some((r) => (r.cells[i] ?? '') !== ''));
  for (const r of rows) r.cells = r.cells.filter((_, i) => keep[i]);

  const widths: number[] = [];
  for (const r of rows) {
    r.cells.forEach((c, i) => {
      const w = (i === 0 ? r.depth * 2 : 0) + c.length;
      widths[i] = Math.max(widths[i] ?? 0, w);
    });
  }
  const out: string[] = [];
  for (const r of rows) {
    const indent = '  '.repeat(r.depth);
    if (r.header !== undefined) {
      out.push(`${indent}${r.header}`);
      continue;
    }
    const line = r.cells
      .map((c, i) => {
        const text = i === 0 ? indent + c : c;
        return i === r.cells.length - 1 ? text : text.padEnd(widths[i]!);
      })
      .join('  ')
      .trimEnd();
    out.push(line);
    for (const e of r.extra) out.push(`${indent}    ${e}`);
  }
  return `${out.join('\n')}\n`;
}
