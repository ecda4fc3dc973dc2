import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { MonitorActivities } from '../../pipelines/monitor/activities';
import type { PipelineRunResult, StepCall, StepResult } from '../../pipelines/dsl/protocol';
import { batchScored, labelsArrived, monitorStatusQuery, retrain, setPolicyUpdate } from '../../pipelines/monitor/messages';
import {
  batchScoredSignal,
  labelsArrivedSignal,
  monitorPolicy,
  monitorStart,
  retrainSignal,
  type BatchScored,
  type DriftCheck,
  type MonitorDecision,
  type MonitorStart,
  type MonitorStatus,
} from '../../pipelines/monitor/protocol';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import type { DetectDriftOutput } from '../../pipelines/steps/drift';
import type { EngineLocalActivities, RunBookkeepingActivities } from '../../pipelines/dsl/engine-activities';
import { ModelName } from '../shared/search-attributes';
import { nonRetryableErrorTypes } from '../../pipelines/failures';
import { DURATION_UNIT_MS, durationMs } from '../../pipelines/vocab/duration';

/** What a monitor carries across continue-as-new. */
interface Carried {
  consecutive: number;
  recent: DriftCheck[];
  seenBatches: string[];
  seenRequests: string[];
  retrainStarts: string[];
  lastRetrainEndedAt: string | null;
  retrains: number;
  decisionSeq: number;
  decisions: MonitorDecision[];
  newestData: DatasetRef | null;
}

type Event =
  | { kind: 'batch'; body: BatchScored }
  | { kind: 'labels'; body: ReturnType<typeof labelsArrivedSignal.parse> }
  | { kind: 'retrain'; body: ReturnType<typeof retrainSignal.parse> }
  | { kind: 'retrain-done'; workflowId: string; result?: PipelineRunResult; error?: string };

const keepLast = <T>(xs: T[], n: number) => xs.slice(Math.max(0, xs.length - n));

/**
 * One long-running workflow per model (started idempotently with signal-with-start). It checks
 * every scored batch for drift against the champion's training data, and starts the training
 * pipeline as a child workflow when drift persists for `consecutive` batches, when labels show
 * performance decay, or when asked (`retrain` signal). One retrain at a time, a cooldown, a daily
 * cap; duplicate signals start nothing extra; every decision is recorded with its numbers.
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
  const steps = proxyActivities<Record<string, (c: StepCall) => Promise<StepResult>>>({
    taskQueue: queues.cpu,
    startToCloseTimeout: '30m',
    heartbeatTimeout: '2m',
    retry: { maximumAttempts: 5, nonRetryableErrorTypes: nonRetryableErrorTypes() },
    summary: `detect-drift for ${args.model}`,
  });
  await book.recordRunStarted({ runId: info.runId, workflowId: info.workflowId, pipelineName: 'drift-monitor', pipelineVersion: '1', params: { model: args.model } });

  let policy = args.policy;
  let reference = args.reference;
  const s: Carried = carried ?? {
    consecutive: 0,
    recent: [],
    seenBatches: [],
    seenRequests: [],
    retrainStarts: [],
    lastRetrainEndedAt: null,
    retrains: 0,
    decisionSeq: 0,
    decisions: [],
    newestData: null,
  };
  let inFlight: MonitorStatus['inFlight'] = null;
  const events: Event[] = [];
  const now = () => new Date(Date.now());

  const decide = async (kind: MonitorDecision['kind'], reason: string, numbers?: Record<string, unknown>) => {
    const decision: MonitorDecision = { at: now().toISOString(), kind, reason, ...(numbers ? { numbers } : {}) };
    s.decisions = keepLast([...s.decisions, decision], 50);
    s.decisionSeq++;
    await book.recordMonitorDecision({ model: args.model, workflowId: info.workflowId, seq: s.decisionSeq, decision });
  };

  setHandler(batchScored, (b) => void events.push({ kind: 'batch', body: batchScoredSignal.parse(b) }));
  setHandler(labelsArrived, (l) => void events.push({ kind: 'labels', body: labelsArrivedSignal.parse(l) }));
  setHandler(retrain, (r) => void events.push({ kind: 'retrain', body: retrainSignal.parse(r) }));
  setHandler(monitorStatusQuery, () => ({
    model: args.model,
    policy,
    reference: { name: reference.name, version: reference.version },
    consecutiveDrifted: s.consecutive,
    recent: s.recent,
    inFlight,
    lastRetrainEndedAt: s.lastRetrainEndedAt,
    retrainsLast24h: s.retrainStarts.filter((t) => now().getTime() - new Date(t).getTime() < DURATION_UNIT_MS.d).length,
    decisions: s.decisions,
  }));
  setHandler(
    setPolicyUpdate,
    async (patch) => {
      const before = policy;
      policy = monitorPolicy.parse({ ...policy, ...patch });
      await decide('policy-changed', 'policy updated', { before, after: policy });
      return policy;
    },
    {
      validator: (patch) => {
        const r = monitorPolicy.safeParse({ ...policy, ...(patch ?? {}) });
        if (!r.success) throw new Error(`invalid policy: ${r.error.issues.map((i) => `${i.path.join('.') || '(policy)'}: ${i.message}`).join('; ')}`);
      },
    },
  );

  const maybeRetrain = async (trigger: 'drift' | 'performance' | 'manual', reason: string) => {
    const t = now().getTime();
    const recentStarts = s.retrainStarts.filter((x) => t - new Date(x).getTime() < DURATION_UNIT_MS.d);
    const skip = (why: string) => decide('retrain-skipped', `${reason}: ${why}`, { trigger, retrainsLast24h: recentStarts.length });
    if (inFlight) return skip(`a retrain is already running (${inFlight.workflowId})`);
    if (recentStarts.length >= policy.dailyCap) return skip(`daily cap of ${policy.dailyCap} reached`);
    if (trigger !== 'manual' && s.lastRetrainEndedAt && t - new Date(s.lastRetrainEndedAt).getTime() < durationMs(policy.cooldown)) {
      return skip(`in cooldown (${policy.cooldown} after ${s.lastRetrainEndedAt})`);
    }
    if (!s.newestData) return skip('no data to retrain on yet');
    s.retrains++;
    const workflowId = `${info.workflowId}-retrain-${s.retrains}`;
    const data = s.newestData;
    const params = { ...args.trainingParams, source: { kind: 'artifact', uri: data.uri, format: 'parquet' }, dataset: `${args.model}-data` };
    const child = await startChild(args.trainingPipeline, { workflowId, args: [params], taskQueue: info.taskQueue, staticSummary: `retrain ${args.model}: ${reason}`.slice(0, 200) });
    inFlight = { workflowId, reason, startedAt: now().toISOString() };
    s.retrainStarts = keepLast([...recentStarts, inFlight.startedAt], 100);
    await decide('retrain-started', reason, { trigger, workflowId, data: `${data.name}@${data.version}`, consecutive: s.consecutive });
    child.result().then(
      (result) => void events.push({ kind: 'retrain-done', workflowId, result: result as PipelineRunResult }),
      (e: Error) => void events.push({ kind: 'retrain-done', workflowId, error: (e.cause as Error | undefined)?.message ?? e.message }),
    );
  };

  const handle = async (e: Event) => {
    switch (e.kind) {
      case 'batch': {
        if (s.seenBatches.includes(e.body.batchId)) return decide('duplicate-ignored', `batch ${e.body.batchId} was already checked`);
        s.seenBatches = keepLast([...s.seenBatches, e.body.batchId], 500);
        s.newestData = e.body.dataset;
        const call: StepCall = {
          run: { runId: info.runId, workflowId: info.workflowId, pipeline: 'drift-monitor', pipelineVersion: '1', node: `drift/${e.body.batchId}` },
          input: {
            reference,
            current: e.body.dataset,
            datasetDriftShare: policy.driftShare,
            ...(policy.columns ? { columns: policy.columns } : {}),
            ...(policy.categorical ? { categorical: policy.categorical } : {}),
          },
          cache: { enabled: true, key: 'code', force: false },
          stepVersion: '1',
        };
        if (args.target && !policy.columns) {
          const cols = e.body.dataset.schema.map((c) => c.name).filter((c) => c !== args.target && reference.schema.some((r) => r.name === c));
          (call.input as { columns?: string[] }).columns = cols;
        }
        const r = (await steps['detect-drift']!(call)).output as DetectDriftOutput;
        await book.recordDriftResult({ model: args.model, batchId: e.body.batchId, dataset: e.body.dataset, reference, result: r });
        s.consecutive = r.datasetDrift ? s.consecutive + 1 : 0;
        s.recent = keepLast([...s.recent, { batchId: e.body.batchId, at: now().toISOString(), share: r.share, datasetDrift: r.datasetDrift, drifted: r.drifted, report: r.html.uri }], 20);
        await decide('drift-checked', r.datasetDrift ? `batch ${e.body.batchId} drifted` : `batch ${e.body.batchId} did not drift`, {
          share: r.share,
          driftShare: policy.driftShare,
          drifted: r.drifted,
          consecutive: s.consecutive,
          needed: policy.consecutive,
        });
        if (s.consecutive >= policy.consecutive) {
          await maybeRetrain('drift', `drift in ${s.consecutive} consecutive batches (share ${r.share.toFixed(2)} ≥ ${policy.driftShare})`);
        }
        return;
      }
      case 'labels': {
        if (e.body.dataset) s.newestData = e.body.dataset;
        const perf = policy.performance;
        const value = perf ? e.body.metrics[perf.metric] : undefined;
        if (perf && value !== undefined) {
          const decayed = value < perf.minValue;
          await decide('performance-checked', `${perf.metric} = ${value} on batch ${e.body.batchId}`, { metric: perf.metric, value, minValue: perf.minValue, decayed });
          if (decayed) await maybeRetrain('performance', `${perf.metric} ${value} < ${perf.minValue} on batch ${e.body.batchId}`);
        }
        return;
      }
      case 'retrain': {
        if (e.body.requestId) {
          if (s.seenRequests.includes(e.body.requestId)) return decide('duplicate-ignored', `retrain request ${e.body.requestId} was already handled`);
          s.seenRequests = keepLast([...s.seenRequests, e.body.requestId], 500);
        }
        return maybeRetrain('manual', `requested by ${e.body.by}: ${e.body.reason}`);
      }
      case 'retrain-done': {
        inFlight = null;
        s.lastRetrainEndedAt = now().toISOString();
        s.consecutive = 0;
        const outputs = (e.result?.outputs ?? {}) as { promoted?: boolean; model?: string; trainingData?: DatasetRef; outcome?: string };
        if (outputs.promoted && outputs.trainingData) reference = outputs.trainingData;
        return decide('retrain-finished', e.error ? `retrain ${e.workflowId} failed: ${e.error}` : `retrain ${e.workflowId}: ${outputs.outcome ?? 'done'}`, {
          workflowId: e.workflowId,
          promoted: outputs.promoted ?? false,
          model: outputs.model ?? null,
          reference: `${reference.name}@${reference.version}`,
        });
      }
    }
  };

  for (;;) {
    await condition(() => events.length > 0 || (workflowInfo().continueAsNewSuggested && !inFlight));
    while (events.length) await handle(events.shift()!);
    if (workflowInfo().continueAsNewSuggested && !inFlight) {
      await condition(allHandlersFinished);
      if (events.length) continue;
      await continueAsNew<typeof driftMonitor>({ ...args, policy, reference }, s);
    }
  }
}
