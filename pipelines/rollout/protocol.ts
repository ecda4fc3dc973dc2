import { z } from 'zod';
import type { RejectedMessage } from '../dsl/protocol';
import { registeredModelName } from '../vocab/model-name';
import { duration, positiveDuration } from '../vocab/duration';

/**
 * The rollout workflow's contract: one durable workflow per model (id `rollout-<model>`) that
 * moves a candidate version into service through the routing table (pipelines/serving/routes.ts)
 * by one of three strategies, reading the logged outcomes (online_predictions,
 * prediction_feedback) through activities. Started by `sluice rollout start` or from the Temporal
 * UI with one JSON object: `rolloutStart` checks it, and a payload that does not fit fails the
 * workflow at once, naming the field.
 */

/** The two variants of every rollout: what serves now, and what is being rolled out. */
export const CONTROL = 'control';
export const CANDIDATE = 'candidate';
export type Variant = typeof CONTROL | typeof CANDIDATE;
export const VARIANTS: readonly Variant[] = [CONTROL, CANDIDATE];

export const rolloutId = (model: string) => `rollout-${model}`;

export const Strategy = z.enum(['shadow', 'canary', 'ab']);
export type Strategy = z.infer<typeof Strategy>;

/** Traffic percentages for the candidate, rising, ending at 100. */
const weightSteps = z
  .array(z.number().gt(0).max(100))
  .min(1)
  .max(20)
  .refine((s) => s.every((p, i) => i === 0 || p > s[i - 1]!), 'steps rise (e.g. [5, 25, 50, 100])')
  .refine((s) => s.at(-1) === 100, 'the last step is 100');

/** A gradual move of traffic to the candidate: each step held for a minimum time and request count. */
export const rampPolicy = z
  .object({
    steps: weightSteps.default([5, 25, 50, 100]),
    /** Each step lasts at least this long… */
    hold: duration.default('10m'),
    /** …and until the candidate has answered this many requests in it. */
    minRequests: z.number().int().min(0).default(100),
  })
  .strict();
export type RampPolicy = z.infer<typeof rampPolicy>;

/**
 * Limits on the candidate's live traffic (canary steps, an A/B test, a winner's ramp). Any breach
 * rolls back at once. Judged on the current window (the step, or the whole test).
 */
export const guardrails = z
  .object({
    /** Errors / requests of the candidate. */
    maxErrorRate: z.number().min(0).max(1).default(0.02),
    /** The candidate's 99th percentile latency, in ms (absent: not checked). */
    maxP99Ms: z.number().positive().optional(),
    /** Rates and latencies are not judged on fewer requests than this (noise). */
    minRequests: z.number().int().min(1).default(20),
    /**
     * When labels arrive: the candidate's accuracy may trail the control's by at most `maxDrop`,
     * judged once both have `minLabels` labelled predictions in the window.
     */
    metric: z.object({ maxDrop: z.number().min(0).max(1).default(0.02), minLabels: z.number().int().min(1).default(50) }).strict().default({ maxDrop: 0.02, minLabels: 50 }),
  })
  .strict();
export type Guardrails = z.infer<typeof guardrails>;

export const shadowPolicy = z
  .object({
    /** The candidate scores mirrored traffic for this long… */
    duration: positiveDuration.default('1h'),
    /** …or until this many shadow predictions are logged, whichever comes first. */
    requests: z.number().int().positive().optional(),
  })
  .strict();

/**
 * What a reward is: `binary` (conversions: 0 or 1, a Beta-Bernoulli posterior; fractional rewards
 * count as that share of a success) or `continuous` (any number: revenue, watch time; a Normal
 * posterior with unknown mean and variance, pipelines/rollout/decide.ts).
 */
export const RewardKind = z.enum(['binary', 'continuous']);
export type RewardKind = z.infer<typeof RewardKind>;

export const abPolicy = z
  .object({
    reward: RewardKind.default('binary'),
    /** Traffic is re-weighted (Thompson sampling) this often. */
    interval: positiveDuration.default('5m'),
    /** A winner is declared only once every variant has this many rewarded predictions. */
    minSamples: z.number().int().min(1).default(200),
    /** P(best) a variant needs to win. */
    threshold: z.number().gt(0.5).lt(1).default(0.95),
    /** Monte Carlo draws per P(best) estimate. */
    draws: z.number().int().min(100).max(100_000).default(10_000),
    /** No variant gets less than this share while the test runs (keeps learning about it). */
    minWeight: z.number().min(0).max(0.5).default(0.05),
    /** A winning candidate takes the rest of the traffic through these steps before it becomes champion. */
    rollout: rampPolicy.default({ steps: [100], hold: '0s', minRequests: 0 }),
  })
  .strict();

/** The start object's fields; `rolloutStart` checks them together. */
const rolloutStartFields = z
  .object({
    model: registeredModelName,
    /** The version being rolled out. */
    candidate: z.number().int().positive(),
    /** The version it is compared with (default: the `champion` alias's version at start). */
    control: z.number().int().positive().optional(),
    strategy: Strategy,
    /** How often the logged outcomes are read (guardrails, holds, the shadow's end). */
    checkEvery: positiveDuration.default('30s'),
    /** Who started it (recorded with every decision and alias move). */
    by: z.string().min(1).max(200).default('sluice-rollout'),
    shadow: shadowPolicy.default({ duration: '1h' }),
    canary: rampPolicy.default(rampPolicy.parse({})),
    ab: abPolicy.default(abPolicy.parse({})),
    guardrails: guardrails.default(guardrails.parse({})),
    /**
     * The pending promotion decision (model_decisions) this rollout settles, when a training run
     * handed its promotion to it: approved when the candidate becomes champion (the alias moves
     * with the decision), rejected when it is rolled back or aborted, the control wins, or it was
     * a shadow (which never promotes: its report is for a person deciding on a live rollout).
     */
    decision: z.number().int().positive().optional(),
  })
  .strict();

export const rolloutStart = rolloutStartFields.refine((s) => s.control === undefined || s.control !== s.candidate, { path: ['control'], message: 'the control is another version than the candidate' });
export type RolloutStart = z.input<typeof rolloutStart>;

/**
 * A training pipeline's `rollout` param: how to roll out the version it registers when it beats
 * the champion (the model, candidate, control and decision come from the run).
 */
export const trainingRollout = rolloutStartFields.omit({ model: true, candidate: true, control: true, decision: true });
export type TrainingRollout = z.input<typeof trainingRollout>;
export type RolloutArgs = z.output<typeof rolloutStart>;

/** Signals and updates. */
export const reasonSignal = z
  .object({
    reason: z.string().min(1).max(2000).default('no reason given'),
    by: z.string().min(1).max(200).default('unknown'),
  })
  .strict();
export type ReasonSignal = z.input<typeof reasonSignal>;

export const setWeightsRequest = z
  .object({
    /** The live variants' weights (`control`, `candidate`); they sum to 1. */
    weights: z.record(z.enum([CONTROL, CANDIDATE]), z.number().min(0).max(1)),
    reason: z.string().min(1).max(2000).default('weights set by hand'),
    by: z.string().min(1).max(200).default('unknown'),
  })
  .strict()
  .superRefine((r, ctx) => {
    const sum = Object.values(r.weights).reduce((s, w) => s + (w ?? 0), 0);
    if (Math.abs(sum - 1) > 1e-9) ctx.addIssue({ code: 'custom', path: ['weights'], message: `weights sum to ${sum}, not 1` });
  });
export type SetWeightsRequest = z.input<typeof setWeightsRequest>;

// ---------------------------------------------------------------------------------------------
// What activities read and the status query shows

/** One variant's logged outcomes in a window (activities/rollout/stats.ts). */
export interface VariantStats {
  requests: number;
  errors: number;
  /** Latency percentiles over the window, ms (null without requests). */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Predictions with a reward; `successes` sums the rewards clipped to [0, 1]. */
  rewarded: number;
  successes: number;
  /**
   * The rewards' sum and sum of squares, unclipped (continuous rewards). Absent from results
   * recorded before continuous rewards existed, which only binary rollouts read.
   */
  rewardSum?: number;
  rewardSumSq?: number;
  /** Predictions with a label, and those whose predicted label matched it. */
  labelled: number;
  correct: number;
}
export type WindowStats = Partial<Record<Variant, VariantStats>>;

/**
 * A variant's posterior. Binary rewards: the rate's Beta(alpha, beta). Continuous rewards: a
 * Normal-Inverse-Gamma, the variance ~ Inverse-Gamma(alpha, beta) and the mean given it
 * ~ Normal(mean, variance / kappa); `sd` is the marginal posterior sd of the mean (Student t).
 */
export interface Posterior {
  alpha: number;
  beta: number;
  /** The posterior mean of the conversion rate, or of the reward. */
  mean: number;
  pBest: number;
  /** Continuous only: the mean's pseudo-count (the rewards seen). */
  kappa?: number;
  /** Continuous only: the posterior sd of the mean (null while it is undefined: fewer than 4 rewards). */
  sd?: number | null;
}

export type Phase = 'shadow' | 'canary' | 'testing' | 'ramp' | 'promoted' | 'rolled-back' | 'aborted' | 'control-kept' | 'reported';
export const FINAL_PHASES: readonly Phase[] = ['promoted', 'rolled-back', 'aborted', 'control-kept', 'reported'];

export interface RolloutDecision {
  seq: number;
  at: string;
  kind: 'started' | 'weights' | 'step' | 'paused' | 'resumed' | 'guardrail-breach' | 'rolled-back' | 'aborted' | 'winner' | 'promoted' | 'control-kept' | 'report' | 'rejected';
  reason: string;
  numbers?: Record<string, unknown>;
}

export interface GuardrailValues {
  requests: number;
  errorRate: number | null;
  p99Ms: number | null;
  /** Accuracy on labelled predictions (null: too few labels). */
  accuracy: number | null;
  controlAccuracy: number | null;
  breaches: string[];
}

/** The shadow comparison (a JSON artifact; the status keeps its ref and headline numbers). */
export interface ShadowReportSummary {
  uri: string;
  sha256: string;
  pairs: number;
  agreement: number | null;
  meanAbsScoreDiff: number | null;
  controlP50Ms: number | null;
  candidateP50Ms: number | null;
  controlP99Ms: number | null;
  candidateP99Ms: number | null;
  candidateErrors: number;
}

export interface RolloutStatus {
  model: string;
  strategy: Strategy;
  control: number | null;
  candidate: number;
  phase: Phase;
  /** No automatic weight change while paused (guardrails still roll back). */
  paused: boolean;
  /** Live weights now (shadow: the control answers everything). */
  weights: Partial<Record<Variant, number>>;
  /** The current ramp step (canary, or a winner's rollout). */
  step: { index: number; percent: number; since: string } | null;
  /** The current window's counts per variant, as last read. */
  counts: WindowStats;
  posteriors: Partial<Record<Variant, Posterior>> | null;
  guardrails: GuardrailValues | null;
  report: ShadowReportSummary | null;
  decisions: RolloutDecision[];
  rejected: RejectedMessage[];
}

export interface RolloutResult {
  model: string;
  outcome: Extract<Phase, 'promoted' | 'rolled-back' | 'aborted' | 'control-kept' | 'reported'>;
  candidate: number;
  control: number;
  reason: string;
  report?: ShadowReportSummary;
}
