import { z } from 'zod';
import { step } from './step';

/** What an approval node outputs: a person's decision, or the timeout's default. */
export const approvalDecision = z.object({
  approved: z.boolean(),
  by: z.string(),
  reason: z.string(),
  /** ISO time of the decision (workflow time). */
  decidedAt: z.string(),
  timedOut: z.boolean(),
});
export type ApprovalDecision = z.infer<typeof approvalDecision>;

/** The pseudo-step behind `b.approval()`: run by the engine itself (it waits for a person), never by a worker. */
export const approvalStep = step({
  name: 'sluice.approval',
  description: 'wait for a person to approve or reject',
  input: z.strictObject({}),
  output: approvalDecision,
  cache: false,
  timeouts: { startToClose: '1m' },
});

/** What `sluice approve` / the `approve` update sends. */
export const approvalRequest = z.object({
  node: z.string().min(1),
  decision: z.enum(['approve', 'reject']),
  by: z.string().min(1, 'who decides (by) is required').max(200),
  reason: z.string().min(1, 'a reason is required').max(2000),
});
export type ApprovalRequest = z.infer<typeof approvalRequest>;
