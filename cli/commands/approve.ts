import type { Command } from 'commander';
import { loadConfig } from '../../infra/config';
import { approveUpdate } from '../../pipelines/dsl/messages';
import { connectClient } from '../client';

/** `sluice approve|reject WORKFLOW_ID NODE --by WHO --reason TEXT`: a validated Temporal update. */
export function registerApprovalCommands(program: Command): void {
  for (const decision of ['approve', 'reject'] as const) {
    program
      .command(`${decision} <workflowId> <node>`)
      .description(`${decision} an approval node of a waiting run`)
      .requiredOption('--reason <text>', 'why (recorded with the decision)')
      .option('--by <who>', 'who decides (default: $USER)', process.env.USER ?? process.env.LOGNAME)
      .option('--json', 'print JSON')
      .action(async (workflowId: string, node: string, o: { reason: string; by?: string; json?: boolean }) => {
        const config = loadConfig();
        const client = await connectClient(config);
        try {
          const result = await client.workflow
            .getHandle(workflowId)
            .executeUpdate(approveUpdate, { args: [{ node, decision, by: o.by ?? '', reason: o.reason }] })
            .catch((e: Error) => {
              // The validator's reason is in the cause; say it, not "Workflow Update failed".
              throw new Error(`${decision} refused: ${(e.cause as Error | undefined)?.message ?? e.message}`);
            });
          if (o.json) console.log(JSON.stringify(result, null, 2));
          else console.log(`${node}: ${result.approved ? 'approved' : 'rejected'} by ${result.by} at ${result.decidedAt}`);
        } finally {
          await client.connection.close();
        }
      });
  }
}
