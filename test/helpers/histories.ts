import type { Client } from '@temporalio/client';

export type HistoryEvents = NonNullable<Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']>;

/**
 * Calls `visit` with the history of an execution, of each execution it continued as new into
 * (`root`: true for those), and of all their descendants (children found in each history),
 * 16 fetched at a time.
 */
export async function eachHistory(
  client: Client,
  workflowId: string,
  runId: string | undefined,
  visit: (events: HistoryEvents, execution: { workflowId: string; root: boolean }) => void,
): Promise<void> {
  const queue: { id: string; runId?: string; root: boolean }[] = [{ id: workflowId, runId, root: true }];
  while (queue.length) {
    const batch = queue.splice(0, 16);
    const histories = await Promise.all(batch.map((w) => client.workflow.getHandle(w.id, w.runId).fetchHistory()));
    histories.forEach((h, k) => {
      const events = h.events ?? [];
      visit(events, { workflowId: batch[k]!.id, root: batch[k]!.root });
      for (const e of events) {
        const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
        if (child?.workflowId) queue.push({ id: child.workflowId, runId: child.runId ?? undefined, root: false });
        const next = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
        if (next) queue.push({ id: batch[k]!.id, runId: next, root: batch[k]!.root });
      }
    });
  }
}

/** The most events any execution of a run holds, how many executions it had, and how many of them were the run's own (continued as new). */
export async function longestHistory(client: Client, workflowId: string, runId?: string): Promise<{ max: number; executions: number; runs: number }> {
  let max = 0;
  let executions = 0;
  let runs = 0;
  await eachHistory(client, workflowId, runId, (events, { root }) => {
    executions++;
    if (root) runs++;
    max = Math.max(max, events.length);
  });
  return { max, executions, runs };
}
