import { canonicalJson } from './canonical-json';
import type { RunState } from './protocol';

/**
 * What the Temporal UI shows of a run: a one-line summary and markdown details set by the client
 * at start (user metadata), and the run's current details (the node states) set by the workflow
 * as it runs, which the UI reads through the `__temporal_workflow_metadata` query. Pure, so the
 * CLI's start and the engine render the same text.
 */

/**
 * A short digest of params, to tell runs apart at a glance (equal params, equal digest, whatever
 * the key order). FNV-1a 64 over the canonical JSON: workflow code cannot use node's crypto, and
 * this is an identifier for people, not an integrity check.
 */
export function paramsDigest(params: unknown): string {
  const text = canonicalJson(params ?? {});
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

/** The static summary a client sets at start (one line; the UI's list shows it). */
export function runSummary(pipeline: string, version: string | undefined, params: unknown): string {
  return `${pipeline}${version ? `@${version}` : ''} · params ${paramsDigest(params).slice(0, 12)}`;
}

/** The static details a client sets at start: the pipeline and the params it was given. */
export function runStaticDetails(pipeline: string, version: string | undefined, params: unknown): string {
  const json = JSON.stringify(params ?? {}, null, 2);
  // The UI shows details as markdown; a huge params object is cut, its digest still names it.
  const shown = json.length > 4000 ? `${json.slice(0, 4000)}\n…` : json;
  return [`**pipeline** ${pipeline}${version ? `@${version}` : ''}`, `**params digest** \`${paramsDigest(params)}\``, '```json', shown, '```'].join('\n');
}

const seconds = (ms: number) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);

/**
 * A run's current details: pipeline, version, params digest, status and one table row per node
 * (status, attempts, fan-out progress, time, error). `now` is workflow time, for running nodes.
 */
export function runCurrentDetails(state: RunState, digest: string | undefined, now: number): string {
  const head = [
    `**${state.pipeline}**${state.version ? `@${state.version}` : ''} · ${state.status}`,
    ...(digest ? [`params digest \`${digest}\``] : []),
  ];
  const ids = Object.keys(state.nodes);
  if (!ids.length) return head.join('\n\n');
  const rows = ids.map((id) => {
    const n = state.nodes[id]!;
    const status = n.awaiting === 'approval' ? 'awaiting approval' : n.status;
    const items = n.items ? ` ${n.items.done}/${n.items.total}` : '';
    const time = n.startedAt ? seconds((n.endedAt ?? now) - n.startedAt) : '';
    const error = n.error ? n.error.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 200) : '';
    return `| ${id} | ${n.step} | ${status}${items} | ${n.attempts ?? ''} | ${time} | ${error} |`;
  });
  const rejected = state.rejected?.length ? [`${state.rejected.length} signal(s) rejected; newest: ${state.rejected.at(-1)!.reason}`] : [];
  return [...head, ['| node | step | status | attempts | time | error |', '|---|---|---|---|---|---|', ...rows].join('\n'), ...rejected].join('\n\n');
}
