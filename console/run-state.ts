import type { NodeStatusCount } from '../infra/db/console-queries';
import type { RunState } from '../pipelines/dsl/protocol';
import type { PipelineSpec } from '../pipelines/dsl/spec';
import { fanoutLine, type DagNodeState } from './dag';

/**
 * A run's node states for the DAG, from its step_runs rows summed per node (what the database
 * knows: every step writes its row when it starts and ends) and, while the run runs, from its
 * `state` query (which also knows pending nodes and approvals waiting for a person).
 */

/** The state that wins when a fan-out's items differ: a failure shows, then work in progress. */
const PRECEDENCE = ['failed', 'running', 'pending', 'succeeded', 'cached', 'skipped'];

export function nodeStatesFromRows(rows: readonly NodeStatusCount[]): Record<string, DagNodeState> {
  const byNode = new Map<string, NodeStatusCount[]>();
  for (const r of rows) byNode.set(r.node, [...(byNode.get(r.node) ?? []), r]);
  const out: Record<string, DagNodeState> = {};
  for (const [node, rs] of byNode) {
    const statuses = rs.map((r) => r.status);
    const status = PRECEDENCE.find((s) => statuses.includes(s)) ?? statuses[0]!;
    const fanout = rs.some((r) => r.fanout);
    out[node] = fanout
      ? { status, items: { total: rs.reduce((n, r) => n + r.count, 0), byStatus: Object.fromEntries(rs.map((r) => [r.status, r.count])) } }
      : { status };
  }
  return out;
}

/** The database's states with the live query's on top (its word is newer for the nodes it knows). */
export function mergeLiveState(db: Record<string, DagNodeState>, live: RunState | undefined): Record<string, DagNodeState> {
  if (!live) return db;
  const out = { ...db };
  for (const [id, n] of Object.entries(live.nodes)) {
    if (id.includes('[')) continue;
    const items = n.items ? { total: n.items.total, byStatus: { ...(db[id]?.items?.byStatus ?? {}), succeeded: n.items.done } } : db[id]?.items;
    out[id] = { status: n.awaiting ? 'awaiting' : n.status, ...(items ? { items } : {}) };
  }
  return out;
}

/** What the run page's script needs to recolour the DAG: per node its state word and its second line. */
export function statePayload(spec: PipelineSpec | undefined, runStatus: string, states: Record<string, DagNodeState>) {
  const nodes: Record<string, { status: string; line?: string }> = {};
  for (const n of spec?.nodes ?? []) {
    const s = states[n.id];
    const line = fanoutLine(s?.items);
    nodes[n.id] = { status: s?.status ?? (runStatus === 'running' ? 'pending' : 'skipped'), ...(line ? { line } : {}) };
  }
  return { status: runStatus, final: runStatus !== 'running' && runStatus !== 'starting', nodes };
}
