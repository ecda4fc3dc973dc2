import { applyDecision } from '../../infra/db/registry';
import { rolloutStart, type RolloutStart } from '../../pipelines/rollout/protocol';
import { rolloutWorkflowOptions } from '../../pipelines/rollout/start';
import { startRolloutStep } from '../../pipelines/rollout/step';
import { implement } from '../runtime/implement';

/**
 * rollout.start: hands a training run's pending promotion to the model's rollout workflow. The
 * rollout starts on the queue the run's own workflow runs on (both are workflows of this
 * deployment), with `USE_EXISTING`: a retried attempt finds the rollout it started (same
 * decision in the memo) instead of failing, and a rollout of another version already running is
 * reported, not replaced.
 */
export const startRollout = implement(startRolloutStep, async ({ proposal, rollout }, ctx) => {
  const none = { started: false, workflowId: null, runId: null, strategy: rollout.strategy, candidate: proposal.challengerVersion, control: proposal.championVersion, promoted: false };
  const { name, challengerVersion: candidate, championVersion: control, decisionId } = proposal;
  if (proposal.outcome !== 'pending_approval' || name === null || candidate === null || decisionId === null) {
    return { ...none, reason: `nothing to roll out: the promotion was ${proposal.outcome} (${proposal.reason})` };
  }
  if (control === null) {
    // A rollout compares the candidate with a serving control; the first model of a name has none.
    const d = await applyDecision(ctx.db, {
      name,
      alias: proposal.alias,
      challengerVersion: candidate,
      decision: 'approve',
      mode: 'automatic',
      by: 'sluice-pipeline', // the training run decides here, as promote-model does
      reason: `no champion to roll out against: v${candidate} promoted directly`,
      resolves: decisionId,
      idempotencyKey: `step:${ctx.run.runId}/${ctx.run.node}`,
      runId: ctx.run.runId,
    });
    return { ...none, promoted: d.decision.outcome === 'promoted', reason: d.decision.reason };
  }
  const start: RolloutStart = rolloutStart.parse({ ...rollout, model: name, candidate, control, decision: decisionId });
  const client = await ctx.temporal();
  const { taskQueue } = await client.workflow.getHandle(ctx.run.workflowId).describe();
  const handle = await client.workflow.start('rollout', { ...rolloutWorkflowOptions(start, taskQueue), workflowIdConflictPolicy: 'USE_EXISTING' });
  const running = await handle.describe();
  if (running.memo?.decision !== decisionId) {
    const other = running.memo?.candidate;
    ctx.log.warn('a rollout of the model is running already; the challenger waits', { model: name, candidate, running: other, decision: decisionId });
    return {
      ...none,
      workflowId: handle.workflowId,
      runId: running.runId,
      reason: `a rollout of ${name}${typeof other === 'number' ? ` v${other}` : ''} is running already (${handle.workflowId}): v${candidate} was not rolled out; decision ${decisionId} stays pending (approve it, or start its rollout once that one ends)`,
    };
  }
  ctx.log.info('rollout started', { model: name, candidate, control, workflowId: handle.workflowId, strategy: start.strategy });
  return {
    ...none,
    started: true,
    workflowId: handle.workflowId,
    runId: running.runId,
    reason: `${start.strategy} rollout of v${candidate} against v${control} started (${handle.workflowId}); it settles promotion decision ${decisionId}`,
  };
});
