import type { WorkflowHandle } from '@temporalio/client';
import { readRunState, type RunState } from '../pipelines/dsl/protocol';
import { runStateQuery } from '../pipelines/dsl/messages';

const ICON: Record<string, string> = { pending: '·', running: '▶', cached: '≡', succeeded: '✔', failed: '✖', skipped: '–' };

/** One line per node: a bar for fan-outs, the state otherwise. Pure, for tests. */
export function renderProgress(state: RunState, width = 24): string[] {
  return Object.entries(state.nodes).map(([id, n]) => {
    const icon = ICON[n.status] ?? '?';
    let detail: string = n.status;
    if (n.items && n.items.total > 0) {
      const filled = Math.round((n.items.done / n.items.total) * width);
      detail = `[${'█'.repeat(filled)}${' '.repeat(width - filled)}] ${n.items.done}/${n.items.total}`;
    } else if (n.awaiting === 'approval') detail = 'waiting for approval (sluice approve)';
    const secs = n.startedAt && n.endedAt ? ` ${((n.endedAt - n.startedAt) / 1000).toFixed(1)}s` : '';
    return `${icon} ${id.padEnd(18)} ${detail}${secs}`;
  });
}

/**
 * Live progress of a run on a terminal, fed by the run's `state` query, redrawn in place until
 * the returned stop function is called.
 */
export function showProgress(handle: WorkflowHandle, out: NodeJS.WriteStream = process.stderr): () => void {
  let lines = 0;
  let stopped = false;
  const draw = async () => {
    const answer = await handle.query(runStateQuery).catch(() => undefined);
    const state = answer && readRunState(answer);
    if (!state || stopped) return;
    const text = renderProgress(state);
    if (lines) out.write(`\x1b[${lines}A`);
    for (const l of text) out.write(`\x1b[2K${l}\n`);
    lines = text.length;
  };
  const timer = setInterval(() => void draw(), 500);
  void draw();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
