import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { EngineLocalActivities, RunBookkeepingActivities } from '../../pipelines/dsl/engine-activities';
import type { MonitorActivities } from '../../pipelines/monitor/activities';
import { batchScored, labelsArrived, monitorStatusQuery, retrain, setPolicyUpdate } from '../../pipelines/monitor/messages';
import {
  batchScoredSignal,
  labelsArrivedSignal,
  monitorPolicyPatch,
  monitorStart,
  retrainSignal,
  type BatchScored,
  type MonitorPolicy,
  type MonitorStart,
} from '../../pipelines/monitor/protocol';
import type { RejectedMessage } from '../../pipelines/dsl/protocol';
import { onSignal, onUnknownSignal, onUpdate } from '../shared/safe-handlers';
import { detectDriftStep } from '../../pipelines/steps/drift';
import { nonRetryableErrorTypes } from '../../pipelines/failures';
import { callStep } from '../engine/call-step';
import { startPipelineChild } from '../engine/start-child';
import { ModelName } from '../../pipelines/search-attributes';
import {
  MonitorState,
  type Carried,
  type LabelsArrivedEvent,
  type NumberedDecision,
  type RetrainPipeline,
  type RetrainRequestEvent,
  type RetrainResult,
  type RetrainWanted,
} from './monitor-state';

/** Events in the order they arrived; handled one at a time by the main loop. */
type Event =
  | { kind: 'batch'; body: BatchScored }
  | { kind: 'labels'; body: LabelsArrivedEvent }
  | { kind: 'retrain'; body: RetrainRequestEvent }
  | { kind: 'retrain-done'; workflowId: string; outcome: { result: RetrainResult } | { error: string } }
  | { kind: 'rejected'; rejection: RejectedMessage };

/** Workflow time (deterministic: from history). */
const now = () => new Date(Date.now());

/**
 * One long-running workflow per model (started idempotently with signal-with-start). It checks
 * every scored batch for drift against the champion's training data, and starts the training
 * pipeline as a child workflow when drift persists for `consecutive` batches, when labels show
 * performance decay, or when asked (`retrain` signal). The rules (one retrain at a time, a
 * cooldown, a daily cap, duplicates ignored) live in MonitorState; this function wires them to
 * Temporal: signal handlers queue events, one loop handles them in order, and every decision is
 * recorded with its numbers.
 */
export async function driftMonitor(rawArgs: MonitorStart, carried?: Carried): Promise<void> {
  const parsed = monitorStart.safeParse(rawArgs);
  if (!parsed.success) {
    throw ApplicationFailure.nonRetryable(`invalid drift monitor start: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'InvalidInput');
  }
  const args = parsed.data;
  const info = workflowInfo();
  upsertSearchAttributes([{ key: ModelName, value: args.model }]);
  const local = proxyLocalActivities<EngineLocalActivities>({ startToCloseTimeout: '30s' });
  const queues = await local.sluiceTaskQueues();
  const book = proxyActivities<RunBookkeepingActivities & MonitorActivities>({ taskQueue: queues.cpu, startToCloseTimeout: '1m', retry: { maximumInterval: '30s' } });
  // Joining labels reads datasets: minutes, a few attempts, bad input not retried.
  const labelsActs = proxyActivities<Pick<MonitorActivities, 'joinLabels'>>({
    taskQueue: queues.cpu,
    startToCloseTimeout: '15m',
    retry: { maximumAttempts: 3, maximumInterval: '30s', nonRetryableErrorTypes: nonRetryableErrorTypes() },
  });
  await book.recordRunStarted({ runId: info.runId, workflowId: info.workflowId, pipelineName: 'drift-monitor', pipelineVersion: '1', params: { model: args.model } });

  const m = new MonitorState(args, info.workflowId, carried);
  const events: Event[] = [];
  const record = ({ seq, decision }: NumberedDecision) => book.recordMonitorDecision({ model: args.model, workflowId: info.workflowId, seq, decision });

  // A signal whose payload does not fit is shown in `status` at once and recorded as a rejected
  // decision: throwing would fail the workflow task and stall the monitor on every replay.
  const reject = (r: RejectedMessage) => {
    m.messageRejected(r);
    events.push({ kind: 'rejected', rejection: r });
  };
  onSignal(batchScored, batchScoredSignal, (body) => void events.push({ kind: 'batch', body }), reject);
  onSignal(labelsArrived, labelsArrivedSignal, (body) => void events.push({ kind: 'labels', body }), reject);
  onSignal(retrain, retrainSignal, (body) => void events.push({ kind: 'retrain', body }), reject);
  onUnknownSignal(reject);
  setHandler(monitorStatusQuery, () => m.status(now()));
  onUpdate(
    setPolicyUpdate,
    monitorPolicyPatch,
    async (patch) => {
      const { policy, decision } = m.setPolicy(patch as Partial<MonitorPolicy>, now());
      await record(decision);
      return policy;
    },
    (patch) => m.checkPolicy(patch as Partial<MonitorPolicy>),
  );

  const maybeRetrain = async (wanted: RetrainWanted) => {
    // Retrains without labels learn from the scored windows, and one labelled window in the span
    // is trained on alone, since these patches; monitors whose history planned otherwise replay
    // as they ran.
    const plan = m.planRetrain(wanted, now(), {
      scoredWindows: () => patched('retrain-on-scored-windows'),
      labelledWindowAlone: () => patched('retrain-on-one-labelled-window'),
    });
    if ('skip' in plan) return record(plan.skip);
    const { start } = plan;
    const child = await startPipelineChild<RetrainPipeline>(start.pipeline, start.params, {
      workflowId: start.workflowId,
      taskQueue: info.taskQueue,
      staticSummary: `retrain ${args.model}: ${start.reason}`.slice(0, 200),
    });
    await record(m.retrainStarted(start, now()));
    child.result().then(
      (result) => void events.push({ kind: 'retrain-done', workflowId: start.workflowId, outcome: { result } }),
      (e: Error) => void events.push({ kind: 'retrain-done', workflowId: start.workflowId, outcome: { error: (e.cause as Error | undefined)?.message ?? e.message } }),
    );
  };

  const handle = async (e: Event) => {
    switch (e.kind) {
      case 'batch': {
        const next = m.batchArrived(e.body, now());
        if ('duplicate' in next) return record(next.duplicate);
        const { output: r } = await callStep(detectDriftStep, next.check, {
          info: { runId: info.runId, workflowId: info.workflowId, pipeline: 'drift-monitor', pipelineVersion: '1', node: `drift/${e.body.batchId}` },
          queues,
          summary: `detect-drift for ${args.model}`,
        });
        await book.recordDriftResult({ model: args.model, batchId: e.body.batchId, dataset: e.body.dataset, reference: next.check.reference, result: r });
        const checked = m.driftChecked(e.body.batchId, r, now());
        await record(checked.decision);
        if (checked.retrain) await maybeRetrain(checked.retrain);
        return;
      }
      case 'labels': {
        const checked = m.labelsArrived(e.body, now());
        if (checked.decision) await record(checked.decision);
        if (checked.join) {
          const joined = await labelsActs.joinLabels(checked.join).then(
            (out) => ({ out }),
            (err: Error) => ({ error: (err.cause as Error | undefined)?.message ?? err.message }),
          );
          // Bad labels (a missing key, an unreadable file) are recorded, not fatal to the monitor.
          if ('error' in joined) return record(m.decide('rejected', `labels ${e.body.batchId}: ${joined.error}`, now(), { labelsBatchId: e.body.batchId }));
          const result = m.labelsJoined(e.body.batchId, joined.out, now());
          await record(result.decision);
          if (result.retrain) await maybeRetrain(result.retrain);
          return;
        }
        if (checked.retrain) await maybeRetrain(checked.retrain);
        return;
      }
      case 'retrain': {
        const next = m.retrainRequested(e.body, now());
        if ('duplicate' in next) return record(next.duplicate);
        return maybeRetrain(next.retrain);
      }
      case 'retrain-done':
        return record(m.retrainFinished(e.workflowId, e.outcome, now()));
      case 'rejected':
        return record(m.decide('rejected', e.rejection.reason, now(), { handler: e.rejection.handler }));
    }
  };

  for (;;) {
    await condition(() => events.length > 0 || (workflowInfo().continueAsNewSuggested && !m.retrainInFlight));
    while (events.length) await handle(events.shift()!);
    if (workflowInfo().continueAsNewSuggested && !m.retrainInFlight) {
      await condition(allHandlersFinished);
      if (events.length) continue;
      const next = m.continued();
      await continueAsNew<typeof driftMonitor>(next.args, next.carried);
    }
  }
}
