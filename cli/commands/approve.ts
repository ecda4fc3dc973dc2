import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { loadConfig } from '../../infra/config';
import type { ApprovalDecision, ApprovalRequest } from '../../pipelines/dsl/approval';
import { approveUpdate } from '../../pipelines/dsl/messages';
import { BY_HELP, defaultActor } from '../actor';
import { connectClient } from '../client';

/** Sends a run the `approve` update (its validator checks the node, the decision and who); the console sends it too. */
export async function sendApproval(client: Client, workflowId: string, req: ApprovalRequest): Promise<ApprovalDecision> {
  return client.workflow
    .getHandle(workflowId)
    .executeUpdate(approveUpdate, { args: [req] })
    .catch((e: Error) => {
      // The validator's reason is in the cause; say it, not "Workflow Update failed".
      throw new Error(`${req.decision} refused: ${(e.cause as Error | undefined)?.message ?? e.message}`);
    });
}

/** `sluice approve|reject WORKFLOW_ID NODE --reason TEXT [--by WHO]`: a validated Temporal update. */
export function registerApprovalCommands(program: Command): void {
  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(`${decision} <workflowId> <node>`)
      .description(`${decision} an approval node of a waiting run`)
      .usage('<workflowId> <node> --reason <text> [options]')
      .requiredOption('--reason <text>', 'required: why (recorded with the decision)')
      .option('--by <who>', BY_HELP)
      .option('--json', 'print JSON')
      .action(async (workflowId: string, node: string, o: { reason: string; by?: string; json?: boolean }) => {
        const config = loadConfig();
        const client = await connectClient(config);
        try {
          const result = await sendApproval(client, workflowId, { node, decision, by: o.by ?? defaultActor(), reason: o.reason });
          if (o.json) console.log(JSON.stringify(result, null, 2));
          else console.log(`${node}: ${result.approved ? 'approved' : 'rejected'} by ${result.by} at ${result.decidedAt}`);
        } finally {
          await client.connection.close();
        }
      });
  }
}
