import { jsonSize } from './claim';
import type { NodeState, RunState } from './protocol';

/**
 * The `state` query's answer, bounded: a run of thousands of nodes, each with an output under the
 * claim threshold (256 KiB), would answer with megabytes. Past `maxChars` of JSON the largest node
 * outputs are left out, largest first, each replaced by a note of its size, until the answer fits;
 * errors longer than ERROR_CHARS are cut. Item outputs of fan-outs are never in the state (only
 * counts and the fan-in's claim). Pure and deterministic: the query handler calls it on each query.
 */
export const STATE_MAX_CHARS = 512 * 1024;
const ERROR_CHARS = 4_000;

/** What replaces an output left out of the state: its size; the run's result and `sluice runs show` have it. */
export interface OmittedOutput {
  $sluiceOmitted: { chars: number };
}

export function boundedRunState(state: RunState, maxChars = STATE_MAX_CHARS): RunState {
  let size = jsonSize(state);
  if (size <= maxChars) return state;
  const nodes: Record<string, NodeState> = { ...state.nodes };
  for (const [id, n] of Object.entries(nodes)) {
    if (n.error && n.error.length > ERROR_CHARS) {
      nodes[id] = { ...n, error: `${n.error.slice(0, ERROR_CHARS)}… (${n.error.length} chars)` };
      size -= n.error.length - ERROR_CHARS;
    }
  }
  const outputs = Object.entries(nodes)
    .filter(([, n]) => n.output !== undefined)
    .map(([id, n]) => ({ id, chars: jsonSize(n.output) }))
    .sort((a, b) => b.chars - a.chars || (a.id < b.id ? -1 : 1));
  for (const o of outputs) {
    if (size <= maxChars) break;
    const omitted: OmittedOutput = { $sluiceOmitted: { chars: o.chars } };
    nodes[o.id] = { ...nodes[o.id]!, output: omitted };
    size += jsonSize(omitted) - o.chars;
  }
  return { ...state, nodes };
}
