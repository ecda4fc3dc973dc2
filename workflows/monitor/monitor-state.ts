import type { PipelineRunResult, RejectedMessage } from '../../pipelines/dsl/protocol';
import type { InferOutputs, RunParams } from '../../pipelines/dsl/start';
import {
  monitorPolicy,
  type BatchScored,
  type DriftCheck,
  type LabelsArrivedEvent,
  type MonitorDecision,
  type MonitorPolicy,
  type MonitorArgs,
  type MonitorStart,
  type MonitorStatus,
  type RetrainRequestEvent,
  type JoinLabelsInput,
  type JoinLabelsOutput,
  type LabelledBatch,
  type ScoredBatch,
} from '../../pipelines/monitor/protocol';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import type { ScoringWindow } from '../../pipelines/steps/scoring';
import type { Expr } from '../../pipelines/expr/ast';
import { col } from '../../pipelines/expr/builder';
import type { DetectDriftInput, DetectDriftOutput } from '../../pipelines/steps/drift';
import type { trainModel } from '../../pipelines/train-model';
import { DURATION_UNIT_MS, durationMs } from '../../pipelines/vocab/duration';
import { withRejection } from '../shared/rejections';

/**
 * The drift monitor's policy and memory, without Temporal: it takes events (a scored batch and
 * its drift result, labels, a retrain request, a finished retrain) with the time they are
 * handled, updates its state and says what to do next (check drift, start a retrain) and which
 * decision to record. The workflow (drift-monitor.ts) only wires these to signals, activities and
 * child workflows, so every rule here is unit-tested (test/monitor-state.test.ts).
 */

/** What a monitor carries across continue-as-new (its shape is part of running monitors' histories). */
export interface Carried {
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
  /** Scored batches remembered for arriving labels (absent in monitors carried before labels were joined). */
  scored?: ScoredBatch[];
  /** Labelled batches: what a retrain's window is taken from. */
  labelled?: LabelledBatch[];
  /** Signals ignored because their payload did not fit (bounded; absent in monitors carried before). */
  rejected?: RejectedMessage[];
}

export type { MonitorArgs, LabelsArrivedEvent, RetrainRequestEvent };
export type RetrainTrigger = 'drift' | 'performance' | 'label-drift' | 'manual';

/**
 * The pipeline a retrain runs: train-model, or one that takes its `source` and `dataset` params
 * and returns its `promoted`, `trainingData`, `model` and `outcome` outputs.
 */
export type RetrainPipeline = typeof trainModel;
export type RetrainResult = PipelineRunResult<InferOutputs<RetrainPipeline>>;

/** A decision with its sequence number: recorded idempotently by (workflow, seq). */
export interface NumberedDecision {
  seq: number;
  decision: MonitorDecision;
}

/** A retrain to start as a child run. */
export interface RetrainPlan {
  workflowId: string;
  pipeline: string;
  params: RunParams<RetrainPipeline>;
  trigger: RetrainTrigger;
  reason: string;
  data: DatasetRef;
  /** The only rows of `data` it trains and holds out on (a drift-only retrain on one scored window). */
  rows?: RowRange;
}

/** Rows of a dataset with `from <= column < to` (ISO times, as scoring windows give them). */
export interface RowRange {
  column: string;
  from: string;
  to: string;
}

/** What a retrain learns from (see MonitorState.retrainData). */
export interface RetrainData {
  data: DatasetRef;
  /** Evaluated on `from <= column < to`, trained on `trainFrom <= column < from` (train-model's time-range holdout). */
  evaluation?: RowRange & { trainFrom: string };
  /** Only these rows, held out by the pipeline's own fraction: nothing scored before them in the policy's window. */
  rows?: RowRange;
}

/** How a retrain is planned in this workflow's history (the workflow answers from patched()). */
export interface PlanOptions {
  /**
   * Whether a retrain without labels may train on the scored windows (asked only when that
   * changes the plan: monitors whose history started a retrain on the whole dataset replay so).
   */
  scoredWindows?: () => boolean;
  /**
   * Whether a retrain whose span holds one labelled window learns from that window alone (asked
   * only then: before, it was evaluated on it and trained on nothing, and failed).
   */
  labelledWindowAlone?: () => boolean;
}

/** Why a retrain is wanted: returned by the event methods, passed to planRetrain. */
export interface RetrainWanted {
  trigger: RetrainTrigger;
  reason: string;
}

const keepLast = <T>(xs: T[], n: number) => xs.slice(Math.max(0, xs.length - n));
/** Bounds on what a monitor remembers (carried across continue-as-new). */
export const MAX_SCORED_BATCHES = 50;
export const MAX_LABELLED_BATCHES = 100;
const DAY_MS = DURATION_UNIT_MS.d;

/** The training params without their own holdout: rows chosen by the monitor are held out by fraction. */
function withoutEvaluation(p: RunParams<RetrainPipeline>): RunParams<RetrainPipeline> {
  const { evaluation: _evaluation, ...rest } = p as RunParams<RetrainPipeline> & { evaluation?: unknown };
  return rest;
}

/** `from <= column < to`, and the pipeline's own filter when it has one. */
function rowsFilter(r: RowRange, own: Expr | undefined): Expr {
  const range = col(r.column).gte(r.from).and(col(r.column).lt(r.to)).node;
  return own ? { op: 'and', left: own, right: range } : range;
}

export function freshCarried(): Carried {
  return { consecutive: 0, recent: [], seenBatches: [], seenRequests: [], retrainStarts: [], lastRetrainEndedAt: null, retrains: 0, decisionSeq: 0, decisions: [], newestData: null };
}

export class MonitorState {
  private policyNow: MonitorPolicy;
  private referenceNow: DatasetRef;
  private readonly s: Carried;
  /** The retrain running now; never carried: the monitor continues as new only without one. */
  private inFlight: MonitorStatus['inFlight'] = null;

  constructor(
    private readonly args: MonitorArgs,
    /** The monitor's workflow id: retrains are named after it. */
    private readonly workflowId: string,
    carried?: Carried,
  ) {
    this.policyNow = args.policy;
    this.referenceNow = args.reference;
    this.s = carried ?? freshCarried();
  }

  get policy(): MonitorPolicy {
    return this.policyNow;
  }

  get reference(): DatasetRef {
    return this.referenceNow;
  }

  get retrainInFlight(): boolean {
    return this.inFlight !== null;
  }

  /** Adds a decision to the recent list and numbers it. */
  decide(kind: MonitorDecision['kind'], reason: string, now: Date, numbers?: Record<string, unknown>): NumberedDecision {
    const decision: MonitorDecision = { at: now.toISOString(), kind, reason, ...(numbers ? { numbers } : {}) };
    this.s.decisions = keepLast([...this.s.decisions, decision], 50);
    this.s.decisionSeq++;
    return { seq: this.s.decisionSeq, decision };
  }

  /** A scored batch: ignored when already seen, else the drift check to run on it. */
  batchArrived(b: BatchScored, now: Date): { duplicate: NumberedDecision } | { check: DetectDriftInput } {
    if (this.s.seenBatches.includes(b.batchId)) return { duplicate: this.decide('duplicate-ignored', `batch ${b.batchId} was already checked`, now) };
    this.s.seenBatches = keepLast([...this.s.seenBatches, b.batchId], 500);
    this.s.newestData = b.dataset;
    // Only batches that say what they scored are remembered for labels (older senders do not).
    if (b.predictions) {
      const scored: ScoredBatch = { batchId: b.batchId, dataset: b.dataset, window: b.window ?? null, rows: b.rows ?? null, predictions: b.predictions };
      this.s.scored = keepLast([...(this.s.scored ?? []), scored], MAX_SCORED_BATCHES);
    }
    const policy = this.policyNow;
    const reference = this.referenceNow;
    // Without chosen columns, compare every column both have except the one the model predicts.
    const columns =
      policy.columns ?? (this.args.target ? b.dataset.schema.map((c) => c.name).filter((c) => c !== this.args.target && reference.schema.some((r) => r.name === c)) : undefined);
    return {
      check: {
        reference,
        current: b.dataset,
        datasetDriftShare: policy.driftShare,
        ...(columns ? { columns } : {}),
        ...(policy.categorical ? { categorical: policy.categorical } : {}),
        // The rows that run scored, not the whole dataset it read them from.
        ...(b.window ? { currentWindow: b.window } : {}),
      },
    };
  }

  /** A batch's drift result: counts consecutive drifted batches; a retrain is wanted when enough drifted in a row. */
  driftChecked(batchId: string, r: DetectDriftOutput, now: Date): { decision: NumberedDecision; retrain?: RetrainWanted } {
    const policy = this.policyNow;
    this.s.consecutive = r.datasetDrift ? this.s.consecutive + 1 : 0;
    this.s.recent = keepLast([...this.s.recent, { batchId, at: now.toISOString(), share: r.share, datasetDrift: r.datasetDrift, drifted: r.drifted, report: r.html.uri }], 20);
    const decision = this.decide('drift-checked', r.datasetDrift ? `batch ${batchId} drifted` : `batch ${batchId} did not drift`, now, {
      share: r.share,
      driftShare: policy.driftShare,
      drifted: r.drifted,
      consecutive: this.s.consecutive,
      needed: policy.consecutive,
    });
    if (this.s.consecutive < policy.consecutive) return { decision };
    return { decision, retrain: { trigger: 'drift', reason: `drift in ${this.s.consecutive} consecutive batches (share ${r.share.toFixed(2)} ≥ ${policy.driftShare})` } };
  }

  /**
   * Labels for a batch: with `labels`, the join to run on the remembered scored batches (its
   * result goes to labelsJoined), or a rejection naming what is missing; otherwise (metrics
   * measured elsewhere) newer data to retrain on, and a retrain when the policy's metric decayed.
   */
  labelsArrived(l: LabelsArrivedEvent, now: Date): { decision?: NumberedDecision; retrain?: RetrainWanted; join?: JoinLabelsInput } {
    if (l.labels) {
      const target = l.labels.label ?? this.args.target;
      const all = this.s.scored ?? [];
      const batches = l.labels.batch ? all.filter((b) => b.batchId === l.labels!.batch) : all;
      const reject = (why: string) => ({ decision: this.decide('rejected', `labels ${l.batchId}: ${why}`, now, { labelsBatchId: l.batchId }) });
      if (!this.args.target) return reject('the monitor has no target column to name the labels (start it with a target)');
      if (!batches.length) return reject(l.labels.batch ? `no scored batch ${l.labels.batch} is remembered` : 'no scored batch with predictions is remembered yet');
      const newest = this.s.labelled?.at(-1);
      return {
        join: {
          model: this.args.model,
          labelsBatchId: l.batchId,
          labels: { ...l.labels, label: target },
          target: this.args.target,
          batches,
          reference: this.referenceNow,
          previous: newest?.data ?? null,
        },
      };
    }
    if (l.dataset) this.s.newestData = l.dataset;
    const perf = this.policyNow.performance;
    const value = perf ? l.metrics[perf.metric] : undefined;
    if (!perf || value === undefined) return {};
    const decayed = value < perf.minValue;
    const decision = this.decide('performance-checked', `${perf.metric} = ${value} on batch ${l.batchId}`, now, { metric: perf.metric, value, minValue: perf.minValue, decayed });
    return decayed ? { decision, retrain: { trigger: 'performance', reason: `${perf.metric} ${value} < ${perf.minValue} on batch ${l.batchId}` } } : { decision };
  }

  /**
   * Joined labels: each labelled batch is remembered (its window and the accumulated data a
   * retrain learns from), and one decision records every batch's numbers. A retrain is wanted
   * when a batch's task metric is below the policy's `performance.minValue`, or when its outcome
   * rate drifted from the reference's (unless `labelDrift: false`).
   */
  labelsJoined(labelsBatchId: string, out: JoinLabelsOutput, now: Date): { decision: NumberedDecision; retrain?: RetrainWanted } {
    const policy = this.policyNow;
    const perf = policy.performance;
    if (out.labelled) {
      this.s.newestData = out.labelled;
      const added = out.batches.map((b): LabelledBatch => ({ batchId: b.batchId, window: b.window, rows: b.rows, data: out.labelled! }));
      this.s.labelled = keepLast([...(this.s.labelled ?? []), ...added], MAX_LABELLED_BATCHES);
    }
    const why: string[] = [];
    let trigger: RetrainTrigger | undefined;
    for (const b of out.batches) {
      const value = perf ? b.metrics[perf.metric] : undefined;
      if (perf && value !== undefined && value < perf.minValue) {
        why.push(`${perf.metric} ${value.toFixed(4)} < ${perf.minValue} on batch ${b.batchId}`);
        trigger ??= 'performance';
      }
      if (policy.labelDrift !== false && b.labelDrift?.drift) {
        why.push(`outcome rate drifted on batch ${b.batchId} (${b.labelDrift.test} ${b.labelDrift.statistic?.toFixed(4) ?? '∞'})`);
        trigger ??= 'label-drift';
      }
    }
    const decision = this.decide('labels-checked', `labels ${labelsBatchId}: ${out.batches.length} batch(es) labelled${why.length ? `; ${why.join('; ')}` : ''}`, now, {
      batches: out.batches.map((b) => ({ batchId: b.batchId, window: b.window, rows: b.rows, metrics: b.metrics, labelDrift: b.labelDrift })),
      unmatched: out.unmatched,
      labelled: out.labelled ? `${out.labelled.name}@${out.labelled.version}` : null,
      ...(perf ? { metric: perf.metric, minValue: perf.minValue } : {}),
      labelDrift: policy.labelDrift !== false,
    });
    return trigger ? { decision, retrain: { trigger, reason: why.join('; ') } } : { decision };
  }

  /**
   * The data and time range a retrain learns from:
   * - with labelled batches and a `retrainWindow`: the accumulated labelled data, evaluated on the
   *   newest labelled batch's window and trained on the rest of the last `retrainWindow` before
   *   its end (on that window alone, by the pipeline's holdout, when no other labelled window
   *   reaches into the span: there is nothing before it to train on);
   * - without labels (a drift-only or manual retrain), with scored windows: the same for what was
   *   scored (see scoredWindowData);
   * - else the newest data as a whole.
   */
  retrainData(opts: PlanOptions = {}): RetrainData | null {
    // The data is the last delivery's accumulation (each join appends to the one before); the
    // evaluation window is the one that ends last, not the last to arrive: labels for an older
    // week may be delivered after a newer week's.
    const labelled = this.s.labelled ?? [];
    let newest: LabelledBatch | undefined;
    for (const l of labelled) if (l.window && (!newest?.window || Date.parse(l.window.end) > Date.parse(newest.window.end))) newest = l;
    const span = this.policyNow.retrainWindow;
    if (newest?.window && span) {
      const { column, start, end } = newest.window;
      const trainFrom = Date.parse(end) - durationMs(span);
      const data = labelled.at(-1)!.data;
      const before = labelled.some((l) => l.window?.column === column && Date.parse(l.window.start) < Date.parse(start) && Date.parse(l.window.end) > trainFrom);
      if (!before && (opts.labelledWindowAlone?.() ?? true)) return { data, rows: { column, from: start, to: end } };
      return { data, evaluation: { column, from: start, to: end, trainFrom: new Date(trainFrom).toISOString() } };
    }
    if (!labelled.length) {
      const scored = this.scoredWindowData();
      if (scored && (opts.scoredWindows?.() ?? true)) return scored;
    }
    return this.s.newestData ? { data: this.s.newestData } : null;
  }

  /**
   * A retrain without labels learns from the rows that were scored, not from the whole dataset the
   * scoring runs read them from: the newest scored window (the one that ends last) is the holdout,
   * and training takes the rows before it back to the earliest remembered scored window of the
   * same dataset and column, or to `retrainWindow` before the newest window's end when that is
   * later (the labelled path's window). The data is the newest window's dataset version, which
   * holds the earlier windows' rows when the dataset grows by appending. With nothing scored
   * before the newest window in that span, the retrain learns from that window alone, holding out
   * the pipeline's fraction of it. Null when no remembered batch has a window.
   */
  private scoredWindowData(): RetrainData | null {
    const windowed = (this.s.scored ?? []).filter((b): b is ScoredBatch & { window: ScoringWindow } => b.window !== null);
    let newest: (typeof windowed)[number] | undefined;
    for (const b of windowed) if (!newest || Date.parse(b.window.end) > Date.parse(newest.window.end)) newest = b;
    if (!newest) return null;
    const { column, start, end } = newest.window;
    const name = newest.dataset.name;
    const earliest = Math.min(...windowed.filter((b) => b.window.column === column && b.dataset.name === name).map((b) => Date.parse(b.window.start)));
    const span = this.policyNow.retrainWindow;
    const trainFrom = span ? Math.max(earliest, Date.parse(end) - durationMs(span)) : earliest;
    if (trainFrom < Date.parse(start)) return { data: newest.dataset, evaluation: { column, from: start, to: end, trainFrom: new Date(trainFrom).toISOString() } };
    return { data: newest.dataset, rows: { column, from: start, to: end } };
  }

  /** A person's request: a request id seen before starts nothing. */
  retrainRequested(r: RetrainRequestEvent, now: Date): { duplicate: NumberedDecision } | { retrain: RetrainWanted } {
    if (r.requestId) {
      if (this.s.seenRequests.includes(r.requestId)) return { duplicate: this.decide('duplicate-ignored', `retrain request ${r.requestId} was already handled`, now) };
      this.s.seenRequests = keepLast([...this.s.seenRequests, r.requestId], 500);
    }
    return { retrain: { trigger: 'manual', reason: `requested by ${r.by}: ${r.reason}` } };
  }

  /**
   * Whether a wanted retrain may start: one at a time, at most `dailyCap` in any 24 hours, none
   * in the cooldown after the last one ended (unless asked for by a person), and only with data.
   */
  planRetrain({ trigger, reason }: RetrainWanted, now: Date, opts: PlanOptions = {}): { skip: NumberedDecision } | { start: RetrainPlan } {
    const t = now.getTime();
    const policy = this.policyNow;
    const recentStarts = this.s.retrainStarts.filter((x) => t - new Date(x).getTime() < DAY_MS);
    const skip = (why: string) => ({ skip: this.decide('retrain-skipped', `${reason}: ${why}`, now, { trigger, retrainsLast24h: recentStarts.length }) });
    if (this.inFlight) return skip(`a retrain is already running (${this.inFlight.workflowId})`);
    if (recentStarts.length >= policy.dailyCap) return skip(`daily cap of ${policy.dailyCap} reached`);
    if (trigger !== 'manual' && this.s.lastRetrainEndedAt && t - new Date(this.s.lastRetrainEndedAt).getTime() < durationMs(policy.cooldown)) {
      return skip(`in cooldown (${policy.cooldown} after ${this.s.lastRetrainEndedAt})`);
    }
    const chosen = this.retrainData(opts);
    if (!chosen) return skip('no data to retrain on yet');
    const { data, evaluation, rows } = chosen;
    const trainingParams = this.args.trainingParams as RunParams<RetrainPipeline>;
    // A time-range holdout replaces a fractional one ordered by a column (train-model refuses both).
    const { orderBy: _orderBy, ...base } = trainingParams as RunParams<RetrainPipeline> & { orderBy?: string };
    const source = { kind: 'artifact' as const, uri: data.uri, format: 'parquet' as const };
    const dataset = `${this.args.model}-data`;
    this.s.retrainStarts = recentStarts;
    this.s.retrains++;
    return {
      start: {
        workflowId: `${this.workflowId}-retrain-${this.s.retrains}`,
        pipeline: this.args.trainingPipeline,
        params: evaluation
          ? { ...base, source, dataset, evaluation }
          : rows
            ? { ...withoutEvaluation(trainingParams), source, dataset, filter: rowsFilter(rows, trainingParams.filter as Expr | undefined) }
            : { ...trainingParams, source, dataset },
        trigger,
        reason,
        data,
        ...(rows ? { rows } : {}),
      },
    };
  }

  /** The child run of a plan has started. */
  retrainStarted(plan: RetrainPlan, now: Date): NumberedDecision {
    this.inFlight = { workflowId: plan.workflowId, reason: plan.reason, startedAt: now.toISOString() };
    this.s.retrainStarts = keepLast([...this.s.retrainStarts, this.inFlight.startedAt], 100);
    const evaluation = (plan.params as { evaluation?: unknown }).evaluation;
    return this.decide('retrain-started', plan.reason, now, {
      trigger: plan.trigger,
      workflowId: plan.workflowId,
      data: `${plan.data.name}@${plan.data.version}`,
      consecutive: this.s.consecutive,
      ...(evaluation ? { evaluation } : {}),
      ...(plan.rows ? { rows: plan.rows } : {}),
    });
  }

  /** The child run ended: a promoted model's training data becomes the new reference. */
  retrainFinished(workflowId: string, outcome: { result: RetrainResult } | { error: string }, now: Date): NumberedDecision {
    this.inFlight = null;
    this.s.lastRetrainEndedAt = now.toISOString();
    this.s.consecutive = 0;
    // Optional reads: a retrain pipeline other than train-model may leave outputs out.
    const outputs: Partial<RetrainResult['outputs']> = 'result' in outcome ? outcome.result.outputs : {};
    if (outputs.promoted && outputs.trainingData) this.referenceNow = outputs.trainingData;
    const reference = this.referenceNow;
    return this.decide('retrain-finished', 'error' in outcome ? `retrain ${workflowId} failed: ${outcome.error}` : `retrain ${workflowId}: ${outputs.outcome ?? 'done'}`, now, {
      workflowId,
      promoted: outputs.promoted ?? false,
      model: outputs.model ?? null,
      reference: `${reference.name}@${reference.version}`,
    });
  }

  /** Throws, naming each bad field, when the patched policy would be invalid (the update's validator). */
  checkPolicy(patch: Partial<MonitorPolicy> | undefined): void {
    const r = monitorPolicy.safeParse({ ...this.policyNow, ...(patch ?? {}) });
    if (!r.success) throw new Error(`invalid policy: ${r.error.issues.map((i) => `${i.path.join('.') || '(policy)'}: ${i.message}`).join('; ')}`);
  }

  setPolicy(patch: Partial<MonitorPolicy>, now: Date): { policy: MonitorPolicy; decision: NumberedDecision } {
    const before = this.policyNow;
    this.policyNow = monitorPolicy.parse({ ...before, ...patch });
    return { policy: this.policyNow, decision: this.decide('policy-changed', 'policy updated', now, { before, after: this.policyNow }) };
  }

  /** A signal whose payload did not fit: remembered (the newest few) for `status`, otherwise ignored. */
  messageRejected(r: RejectedMessage): void {
    this.s.rejected = withRejection(this.s.rejected, r);
  }

  status(now: Date): MonitorStatus {
    return {
      model: this.args.model,
      policy: this.policyNow,
      training: { pipeline: this.args.trainingPipeline, params: this.args.trainingParams, from: this.args.trainingParamsFrom ?? null },
      reference: { name: this.referenceNow.name, version: this.referenceNow.version },
      consecutiveDrifted: this.s.consecutive,
      recent: this.s.recent,
      inFlight: this.inFlight,
      lastRetrainEndedAt: this.s.lastRetrainEndedAt,
      retrainsLast24h: this.s.retrainStarts.filter((t) => now.getTime() - new Date(t).getTime() < DAY_MS).length,
      decisions: this.s.decisions,
      ...(this.s.scored ? { scored: this.s.scored } : {}),
      ...(this.s.labelled ? { labelled: this.s.labelled } : {}),
      rejected: this.s.rejected ?? [],
    };
  }

  /** What the next run of the monitor starts with after continue-as-new. */
  continued(): { args: MonitorStart; carried: Carried } {
    return { args: { ...this.args, policy: this.policyNow, reference: this.referenceNow }, carried: this.s };
  }
}
