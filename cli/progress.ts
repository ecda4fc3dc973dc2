import type { WorkflowHandle } from '@temporalio/client';
import { readRunState, type RunState } from '../pipelines/dsl/protocol';
import { runStateQuery } from '../pipelines/dsl/messages';

const ICON: Record<string, string> = { pending: '·', running: '▶', cached: '≡', succeeded: '✔', failed: '✖', skipped: '–' };

/**
 * One line per node: a bar for fan-outs (items done/total; a sharded one also says how many are in
 * shards in flight), the state otherwise. A run of more than `maxLines` nodes (a generated
 * pipeline of thousands) shows its running, failed and fan-out nodes first, then one line counting
 * the rest by state, so a redraw stays one screen. Pure, for tests.
 */
export function renderProgress(state: RunState, width = 24, maxLines = 30): string[] {
  const line = ([id, n]: [string, RunState['nodes'][string]]) => {
    const icon = ICON[n.status] ?? '?';
    let detail: string = n.status;
    if (n.items && n.items.total > 0) {
      const filled = Math.round((n.items.done / n.items.total) * width);
      const inFlight = n.items.running ? ` (${n.items.running} in running shards)` : '';
      detail = `[${'█'.repeat(filled)}${' '.repeat(width - filled)}] ${n.items.done}/${n.items.total}${inFlight}`;
    } else if (n.awaiting === 'approval') detail = 'waiting for approval (sluice approve)';
    const secs = n.startedAt && n.endedAt ? ` ${((n.endedAt - n.startedAt) / 1000).toFixed(1)}s` : '';
    return `${icon} ${id.padEnd(18)} ${detail}${secs}`;
  };
  const all = Object.entries(state.nodes);
  if (all.length <= maxLines) return all.map(line);
  const shown = all.filter(([, n]) => n.status === 'running' || n.status === 'failed' || n.items).slice(0, maxLines - 1);
  const rest = all.filter((e) => !shown.includes(e));
  const counts = new Map<string, number>();
  for (const [, n] of rest) counts.set(n.status, (counts.get(n.status) ?? 0) + 1);
  const summary = [...counts].map(([st, k]) => `${k} ${st}`).join(', ');
  return [...shown.map(line), `  … ${rest.length} more nodes: ${summary}`];
}

/** What Ctrl-C during `sluice run --wait` says: only the waiting stops, the run goes on. */
export function stoppedWaitingNote(workflowId: string): string {
  return [
    `stopped waiting: run ${workflowId} goes on (Ctrl-C does not cancel it). Follow it with`,
    `  sluice runs show ${workflowId}`,
    `  temporal workflow show -w ${workflowId}`,
  ].join('\n');
}

export interface Progress {
  /** Stops redrawing and draws the run's final state once (the last frame a finished run shows). */
  finish(): Promise<void>;
  /** Stops redrawing as it is (Ctrl-C: the run is not finished). */
  stop(): void;
}

/**
 * Live progress of a run on a terminal, fed by the run's `state` query, redrawn in place every
 * `intervalMs` until `finish` (one last frame from a final query) or `stop`. Draws never overlap:
 * each waits for the previous one, so a late answer cannot overwrite the final frame.
 */
export function showProgress(handle: Pick<WorkflowHandle, 'query'>, out: Pick<NodeJS.WriteStream, 'write'> = process.stderr, intervalMs = 500): Progress {
  let lines = 0;
  let stopped = false;
  let last: Promise<void> = Promise.resolve();
  const draw = async () => {
    const answer = await handle.query(runStateQuery).catch(() => undefined);
    const state = answer && readRunState(answer);
    if (!state) return;
    const text = renderProgress(state);
    if (lines) out.write(`\x1b[${lines}A`);
    for (const l of text) out.write(`\x1b[2K${l}\n`);
    lines = text.length;
  };
  const next = () => (last = last.then(() => (stopped ? undefined : draw())));
  const timer = setInterval(() => void next(), intervalMs);
  void next();
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return {
    stop,
    async finish() {
      clearInterval(timer);
      await next(); // queued after any draw in flight; a finished run still answers its state query
      stop();
    },
  };
}
