import type { RejectedMessage } from '../../pipelines/dsl/protocol';

/** How many rejected signals a workflow remembers: enough to see a pattern, bounded so a flood cannot grow its state. */
export const MAX_REJECTED = 20;

/** `list` with `r` added, keeping the newest MAX_REJECTED (pure: the monitor's state class uses it too). */
export function withRejection(list: readonly RejectedMessage[] | undefined, r: RejectedMessage): RejectedMessage[] {
  const all = [...(list ?? []), r];
  return all.slice(Math.max(0, all.length - MAX_REJECTED));
}
