import type { Route } from '../serving/routes';
import { CANDIDATE, CONTROL, VARIANTS, type Guardrails, type GuardrailValues, type Posterior, type RewardKind, type Variant, type VariantStats, type WindowStats } from './protocol';
import { mulberry32 } from '../util/seeded-random';

/**
 * The rollout's decisions as pure functions of the logged numbers: guardrails, Thompson
 * sampling's posteriors and weights, routing tables. No I/O and no clock; randomness comes in as
 * a function, so workflow code (whose Math.random is seeded and replayed) may call them.
 */

/** Live routes with the candidate at `candidateWeight` (0..1) and the control taking the rest. */
export function liveRoutes(versions: { control: number; candidate: number }, candidateWeight: number): Route[] {
  const w = Math.min(1, Math.max(0, candidateWeight));
  // A control at weight 0 stays in the table: the window still counts it, and an abort loses nothing.
  return [
    { variant: CONTROL, version: versions.control, mode: 'live', weight: 1 - w },
    { variant: CANDIDATE, version: versions.candidate, mode: 'live', weight: w },
  ];
}

/** The shadow's table: the control answers every request, the candidate scores a mirror of each. */
export function shadowRoutes(versions: { control: number; candidate: number }): Route[] {
  return [
    { variant: CONTROL, version: versions.control, mode: 'live', weight: 1 },
    { variant: CANDIDATE, version: versions.candidate, mode: 'shadow', weight: 0 },
  ];
}

const rate = (n: number, d: number) => (d > 0 ? n / d : null);

/**
 * The candidate's guardrails on one window. Rates and latencies count once the candidate has
 * `minRequests` requests; accuracy once both variants have `metric.minLabels` labels.
 */
export function checkGuardrails(stats: WindowStats, g: Guardrails): GuardrailValues {
  const c = stats[CANDIDATE];
  const k = stats[CONTROL];
  const requests = c?.requests ?? 0;
  const errorRate = c ? rate(c.errors, c.requests) : null;
  const p99Ms = c?.p99Ms ?? null;
  const enoughLabels = (s: VariantStats | undefined) => !!s && s.labelled >= g.metric.minLabels;
  const accuracy = enoughLabels(c) && enoughLabels(k) ? rate(c!.correct, c!.labelled) : null;
  const controlAccuracy = enoughLabels(c) && enoughLabels(k) ? rate(k!.correct, k!.labelled) : null;
  const breaches: string[] = [];
  if (requests >= g.minRequests) {
    if (errorRate !== null && errorRate > g.maxErrorRate) breaches.push(`error rate ${errorRate.toFixed(4)} > ${g.maxErrorRate} (${c!.errors} of ${requests} requests)`);
    if (g.maxP99Ms !== undefined && p99Ms !== null && p99Ms > g.maxP99Ms) breaches.push(`p99 latency ${p99Ms.toFixed(1)} ms > ${g.maxP99Ms} ms`);
  }
  if (accuracy !== null && controlAccuracy !== null && controlAccuracy - accuracy > g.metric.maxDrop) {
    breaches.push(`accuracy ${accuracy.toFixed(4)} trails the control's ${controlAccuracy.toFixed(4)} by more than ${g.metric.maxDrop}`);
  }
  return { requests, errorRate, p99Ms, accuracy, controlAccuracy, breaches };
}

/** A step is done when it has lasted `holdMs` and the candidate answered `minRequests` in it. */
export function stepDone(elapsedMs: number, holdMs: number, candidateRequests: number, minRequests: number): boolean {
  return elapsedMs >= holdMs && candidateRequests >= minRequests;
}

// ---------------------------------------------------------------------------------------------
// Thompson sampling (Beta-Bernoulli)

/** Beta(1 + successes, 1 + failures): a uniform prior updated by the rewards (clipped to [0, 1]). */
export function betaOf(s: VariantStats | undefined): { alpha: number; beta: number } {
  const n = s?.rewarded ?? 0;
  const k = Math.min(n, Math.max(0, s?.successes ?? 0));
  return { alpha: 1 + k, beta: 1 + n - k };
}

/**
 * A seeded generator (mulberry32) over a string key: the same key gives the same draws in any
 * process. The rollout keys it by its workflow and decision number, so a replay draws exactly what
 * the original run drew whatever else (other code, the SDK) takes from the workflow's own
 * Math.random stream, and one estimate can be recomputed from the audit trail alone.
 */
export function seededRandom(key: string): () => number {
  let h = 0x811c9dc5; // FNV-1a of the key: the 32-bit seed
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return mulberry32(h);
}

/** A standard normal draw (Box-Muller). */
function normal(rand: () => number): number {
  const u = 1 - rand(); // (0, 1]: log(0) is never taken
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/** A Gamma(shape, 1) draw: Marsaglia and Tsang (2000); shape < 1 boosted by U^(1/shape). */
export function sampleGamma(shape: number, rand: () => number): number {
  if (shape < 1) return sampleGamma(shape + 1, rand) * Math.pow(1 - rand(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rand);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rand();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

export function sampleBeta(alpha: number, beta: number, rand: () => number): number {
  const x = sampleGamma(alpha, rand);
  const y = sampleGamma(beta, rand);
  return x / (x + y);
}

/**
 * The share of `draws` joint draws (one per variant, in VARIANTS order) in which each variant has
 * the highest value (ties go to the first): the Monte Carlo estimate of P(best).
 */
function pBestByDraws(samplers: (() => number)[], draws: number): number[] {
  const wins = samplers.map(() => 0);
  for (let i = 0; i < draws; i++) {
    let best = 0;
    let bestValue = -Infinity;
    samplers.forEach((draw, j) => {
      const x = draw();
      if (x > bestValue) {
        bestValue = x;
        best = j;
      }
    });
    wins[best]!++;
  }
  return wins.map((w) => w / draws);
}

/**
 * Each variant's posterior and the probability that it is best (the highest conversion rate, or
 * the highest mean reward), by Monte Carlo over `draws` joint posterior draws.
 */
export function posteriors(stats: WindowStats, draws: number, rand: () => number, reward: RewardKind = 'binary'): Record<Variant, Posterior> {
  return reward === 'continuous' ? normalPosteriors(stats, draws, rand) : betaPosteriors(stats, draws, rand);
}

function betaPosteriors(stats: WindowStats, draws: number, rand: () => number): Record<Variant, Posterior> {
  const params = VARIANTS.map((v) => betaOf(stats[v]));
  const pBest = pBestByDraws(params.map((p) => () => sampleBeta(p.alpha, p.beta, rand)), draws);
  const out = {} as Record<Variant, Posterior>;
  VARIANTS.forEach((v, j) => {
    const { alpha, beta } = params[j]!;
    out[v] = { alpha, beta, mean: alpha / (alpha + beta), pBest: pBest[j]! };
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Thompson sampling (Normal rewards, unknown mean and variance)

/** A Normal-Inverse-Gamma: variance ~ Inverse-Gamma(alpha, beta), mean | variance ~ Normal(mu, variance / kappa). */
export interface NormalInverseGamma {
  mu: number;
  kappa: number;
  alpha: number;
  beta: number;
}

/**
 * The reference prior p(mean, variance) ∝ 1 / variance, as the limit NIG(κ = 0, α = −1/2, β = 0):
 * it assumes no scale, so rewards in cents and rewards in thousands are judged alike, and the
 * posterior is the textbook one (the mean ~ sample mean + s/√n · t with n − 1 degrees of freedom).
 * It is proper from 2 rewards on.
 */
export const REFERENCE_PRIOR: NormalInverseGamma = { mu: 0, kappa: 0, alpha: -0.5, beta: 0 };

/** The conjugate update of `prior` by a variant's rewards (count, sum, sum of squares). */
export function normalOf(s: VariantStats | undefined, prior: NormalInverseGamma = REFERENCE_PRIOR): NormalInverseGamma {
  const n = s?.rewarded ?? 0;
  const mean = n > 0 ? (s?.rewardSum ?? 0) / n : 0;
  // Σ(x − x̄)²; rounding can take it a hair below 0 when every reward is the same.
  const ss = n > 0 ? Math.max(0, (s?.rewardSumSq ?? 0) - n * mean * mean) : 0;
  const kappa = prior.kappa + n;
  if (kappa === 0) return { ...prior };
  return {
    mu: (prior.kappa * prior.mu + n * mean) / kappa,
    kappa,
    alpha: prior.alpha + n / 2,
    beta: prior.beta + ss / 2 + (prior.kappa * n * (mean - prior.mu) ** 2) / (2 * kappa),
  };
}

/** A posterior that can be drawn from (the reference prior needs 2 rewards). */
export const isProper = (p: NormalInverseGamma) => p.kappa > 0 && p.alpha > 0;

/** One draw of the mean from its posterior: the variance first, then the mean given it. */
export function sampleNormalMean(p: NormalInverseGamma, rand: () => number): number {
  if (p.beta === 0) return p.mu; // every reward the same: no spread to draw from
  const variance = p.beta / sampleGamma(p.alpha, rand);
  return p.mu + Math.sqrt(variance / p.kappa) * normal(rand);
}

/**
 * Continuous rewards' posteriors. Until every variant has a proper posterior (2 rewards each)
 * nothing is known about the one that lacks it: P(best) is split evenly, no draws are made.
 */
function normalPosteriors(stats: WindowStats, draws: number, rand: () => number): Record<Variant, Posterior> {
  const params = VARIANTS.map((v) => normalOf(stats[v]));
  const pBest = params.every(isProper) ? pBestByDraws(params.map((p) => () => sampleNormalMean(p, rand)), draws) : params.map(() => 1 / params.length);
  const out = {} as Record<Variant, Posterior>;
  VARIANTS.forEach((v, j) => {
    const p = params[j]!;
    // The mean's marginal is a Student t with 2α degrees of freedom and scale² β / (ακ): its variance exists for α > 1.
    const sd = p.kappa > 0 && p.alpha > 1 ? Math.sqrt(p.beta / (p.kappa * (p.alpha - 1))) : null;
    out[v] = { alpha: p.alpha, beta: p.beta, mean: p.mu, pBest: pBest[j]!, kappa: p.kappa, sd };
  });
  return out;
}

/**
 * Thompson sampling's allocation: each variant gets traffic in proportion to the probability that
 * it is best (what per-request posterior sampling converges to), kept within [minWeight, 1 - minWeight].
 * Returns the candidate's weight.
 */
export function thompsonCandidateWeight(p: Record<Variant, Posterior>, minWeight: number): number {
  const total = p[CONTROL].pBest + p[CANDIDATE].pBest;
  const w = total > 0 ? p[CANDIDATE].pBest / total : 0.5;
  return Math.round(Math.min(1 - minWeight, Math.max(minWeight, w)) * 1e6) / 1e6;
}

/** The winner: the variant whose P(best) reached `threshold` once every variant has `minSamples` rewards. */
export function winnerOf(stats: WindowStats, p: Record<Variant, Posterior>, minSamples: number, threshold: number): Variant | null {
  if (VARIANTS.some((v) => (stats[v]?.rewarded ?? 0) < minSamples)) return null;
  return VARIANTS.find((v) => p[v].pBest >= threshold) ?? null;
}
