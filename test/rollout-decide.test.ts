import { test } from 'node:test';
import assert from 'node:assert/strict';
import { betaOf, checkGuardrails, seededRandom, liveRoutes, normalOf, posteriors, sampleBeta, sampleNormalMean, stepDone, thompsonCandidateWeight, winnerOf } from '../pipelines/rollout/decide';
import { guardrails, rolloutStart, setWeightsRequest, type VariantStats } from '../pipelines/rollout/protocol';
import { RouteTable } from '../pipelines/serving/routes';
import { checkStart, parseWeights, renderStatus, startFromOptions } from '../cli/commands/rollout';
import { previousChampion } from '../cli/commands/models';
import { mulberry32 as seeded } from '../pipelines/util/seeded-random';

/** The rollout's pure decisions and its contracts: no services. */


const stats = (o: Partial<VariantStats>): VariantStats => ({ requests: 0, errors: 0, p50Ms: null, p99Ms: null, rewarded: 0, successes: 0, labelled: 0, correct: 0, ...o });

test('Beta draws have the posterior mean', () => {
  const rand = seeded(1);
  for (const [a, b] of [[2, 8], [31, 11], [0.5, 0.5]] as const) {
    const n = 20_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sampleBeta(a, b, rand);
    assert.ok(Math.abs(sum / n - a / (a + b)) < 0.01, `Beta(${a}, ${b}) mean ${sum / n}`);
  }
});

test('P(best): a clearly better candidate wins, equal variants split, few samples do not decide', () => {
  const better = { control: stats({ rewarded: 300, successes: 60 }), candidate: stats({ rewarded: 300, successes: 120 }) };
  const p = posteriors(better, 4000, seeded(2));
  assert.ok(p.candidate.pBest > 0.99, `P(best) ${p.candidate.pBest}`);
  assert.equal(Math.round((p.candidate.pBest + p.control.pBest) * 1e9), 1e9);
  assert.deepEqual([p.candidate.alpha, p.candidate.beta], [121, 181]);
  assert.equal(winnerOf(better, p, 200, 0.95), 'candidate');
  assert.equal(winnerOf(better, p, 301, 0.95), null, 'below the minimum sample nobody wins');

  const equal = { control: stats({ rewarded: 200, successes: 50 }), candidate: stats({ rewarded: 200, successes: 50 }) };
  const q = posteriors(equal, 4000, seeded(3));
  assert.ok(Math.abs(q.candidate.pBest - 0.5) < 0.05, `equal variants: ${q.candidate.pBest}`);
  assert.equal(winnerOf(equal, q, 100, 0.95), null);
  // Thompson weight follows P(best), within [minWeight, 1 - minWeight].
  assert.equal(thompsonCandidateWeight(p, 0.05), 0.95);
  assert.ok(Math.abs(thompsonCandidateWeight(q, 0.05) - 0.5) < 0.05);
  // The same key gives the same estimate (what replay relies on), another key other draws.
  assert.deepEqual(posteriors(better, 500, seededRandom('rollout-a/run/7')), posteriors(better, 500, seededRandom('rollout-a/run/7')));
  assert.notDeepEqual(posteriors(equal, 500, seededRandom('rollout-a/run/7')), posteriors(equal, 500, seededRandom('rollout-a/run/8')));
});

/** The window counts of continuous rewards `xs`, as rolloutStats reports them. */
const rewards = (xs: number[]): VariantStats => stats({ requests: xs.length, rewarded: xs.length, rewardSum: xs.reduce((a, x) => a + x, 0), rewardSumSq: xs.reduce((a, x) => a + x * x, 0) });
/** n rewards drawn from a normal distribution (seeded), shifted and scaled to exactly this mean and sample sd. */
function normalRewards(n: number, mean: number, sd: number, seed: number): number[] {
  const rand = seeded(seed);
  const z = Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
  const m = z.reduce((s, x) => s + x, 0) / n;
  const s = Math.sqrt(z.reduce((a, x) => a + (x - m) ** 2, 0) / (n - 1));
  return z.map((x) => mean + (sd * (x - m)) / s);
}
/** The standard normal CDF (Abramowitz and Stegun 26.2.17, |error| < 7.5e-8). */
function phi(z: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(z));
  const d = 0.3989423 * Math.exp((-z * z) / 2);
  const p = d * t * (0.3193815 + t * (-0.3565638 + t * (1.781478 + t * (-1.821256 + t * 1.330274))));
  return z > 0 ? 1 - p : p;
}

test('continuous rewards: the Normal-Inverse-Gamma posterior is the closed form', () => {
  // Rewards 2, 4, 6, 8, 10: mean 6, Σ(x − x̄)² = 40. Under the reference prior the mean's
  // posterior is 6 + (s/√n)·t(n − 1): NIG(μ 6, κ 5, α 2, β 20), sd² = s²/n · (n−1)/(n−3) = 2 · 2.
  const xs = rewards([2, 4, 6, 8, 10]);
  assert.deepEqual(normalOf(xs), { mu: 6, kappa: 5, alpha: 2, beta: 20 });
  const p = posteriors({ control: xs, candidate: xs }, 100, seeded(4), 'continuous');
  assert.equal(p.control.mean, 6);
  assert.ok(Math.abs(p.control.sd! - 2) < 1e-12, `sd ${p.control.sd}`);
  // A proper prior is updated by the textbook formulas (Murphy 2007, eq. 86–89).
  assert.deepEqual(normalOf(xs, { mu: 0, kappa: 1, alpha: 1, beta: 1 }), { mu: 5, kappa: 6, alpha: 3.5, beta: 1 + 20 + (1 * 5 * 36) / (2 * 6) });
  // The draws have the posterior's mean and variance: the sampler draws from this posterior.
  const nig = normalOf(rewards(normalRewards(12, 3, 2, 5)));
  const rand = seeded(6);
  const n = 40_000;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < n; i++) {
    const x = sampleNormalMean(nig, rand);
    sum += x;
    sumSq += x * x;
  }
  const variance = nig.beta / (nig.kappa * (nig.alpha - 1));
  assert.ok(Math.abs(sum / n - nig.mu) < 0.02 * Math.sqrt(variance) * 5, `draws' mean ${sum / n} vs ${nig.mu}`);
  assert.ok(Math.abs((sumSq / n - (sum / n) ** 2) / variance - 1) < 0.06, `draws' variance ${sumSq / n - (sum / n) ** 2} vs ${variance}`);
  // Identical rewards have no spread: every draw is their value.
  assert.equal(sampleNormalMean(normalOf(rewards([4, 4, 4])), seeded(7)), 4);
});

test('continuous rewards: P(best) matches the normal approximation, the better variant wins, too few rewards decide nothing', () => {
  // Large samples: P(B's mean > A's) ≈ Φ((x̄B − x̄A) / √(sA²/nA + sB²/nB)) = Φ(0.2 / √(2 · 9/400)) ≈ 0.827.
  const a = normalRewards(400, 10, 3, 8);
  const b = normalRewards(400, 10.2, 3, 9);
  const expected = phi(0.2 / Math.sqrt((2 * 9) / 400));
  const p = posteriors({ control: rewards(a), candidate: rewards(b) }, 20_000, seeded(10), 'continuous');
  assert.ok(Math.abs(p.candidate.pBest - expected) < 0.015, `P(best) ${p.candidate.pBest} vs ${expected}`);
  assert.equal(Math.round((p.candidate.pBest + p.control.pBest) * 1e9), 1e9);

  // A clearly better candidate (mean reward 12 against 10) wins and takes the traffic; Beta
  // counts of the same rewards (clipped to [0, 1]: all successes) could not tell them apart.
  const better = { control: rewards(normalRewards(300, 10, 3, 11)), candidate: rewards(normalRewards(300, 12, 3, 12)) };
  const q = posteriors(better, 4000, seeded(13), 'continuous');
  assert.ok(q.candidate.pBest > 0.99 && q.candidate.mean > q.control.mean, JSON.stringify(q));
  assert.equal(winnerOf(better, q, 200, 0.95), 'candidate');
  assert.equal(thompsonCandidateWeight(q, 0.05), 0.95);
  const binary = posteriors({ control: { ...better.control, successes: 300 }, candidate: { ...better.candidate, successes: 300 } }, 4000, seeded(13));
  assert.ok(Math.abs(binary.candidate.pBest - 0.5) < 0.05, `binary P(best) ${binary.candidate.pBest}`);
  // A worse candidate loses: the control wins.
  const worse = posteriors({ control: better.candidate, candidate: better.control }, 4000, seeded(14), 'continuous');
  assert.equal(winnerOf({ control: better.candidate, candidate: better.control }, worse, 200, 0.95), 'control');

  // One reward says nothing about the spread: P(best) stays even and nothing is drawn.
  const early = posteriors({ control: rewards([5]), candidate: rewards([9, 10, 11]) }, 1000, () => assert.fail('no draws before every variant has 2 rewards'), 'continuous');
  assert.deepEqual([early.control.pBest, early.candidate.pBest, early.control.sd], [0.5, 0.5, null]);
  assert.equal(thompsonCandidateWeight(early, 0.05), 0.5);
});

test('rewards outside [0, 1] are clipped into the Beta counts', () => {
  assert.deepEqual(betaOf(stats({ rewarded: 10, successes: 14 })), { alpha: 11, beta: 1 });
  assert.deepEqual(betaOf(undefined), { alpha: 1, beta: 1 });
});

test('guardrails: error rate and p99 after the minimum requests, accuracy once both have labels', () => {
  const g = guardrails.parse({ maxErrorRate: 0.05, maxP99Ms: 100, minRequests: 20, metric: { maxDrop: 0.05, minLabels: 10 } });
  assert.deepEqual(checkGuardrails({ candidate: stats({ requests: 19, errors: 19 }) }, g).breaches, [], 'too few requests to judge');
  const errors = checkGuardrails({ candidate: stats({ requests: 40, errors: 4, p99Ms: 250 }) }, g);
  assert.equal(errors.errorRate, 0.1);
  assert.equal(errors.breaches.length, 2);
  assert.match(errors.breaches[0]!, /error rate 0.1000 > 0.05 \(4 of 40/);
  assert.match(errors.breaches[1]!, /p99 latency 250.0 ms > 100 ms/);
  const worse = checkGuardrails({ control: stats({ requests: 40, labelled: 20, correct: 18 }), candidate: stats({ requests: 40, labelled: 20, correct: 14 }) }, g);
  assert.deepEqual([worse.accuracy, worse.controlAccuracy], [0.7, 0.9]);
  assert.match(worse.breaches.join(), /accuracy 0.7000 trails the control's 0.9000/);
  const fewLabels = checkGuardrails({ control: stats({ requests: 40, labelled: 9, correct: 9 }), candidate: stats({ requests: 40, labelled: 20, correct: 0 }) }, g);
  assert.deepEqual([fewLabels.accuracy, fewLabels.breaches], [null, []]);
});

test('steps wait for both their hold and their requests; route tables are valid', () => {
  assert.equal(stepDone(999, 1000, 500, 10), false);
  assert.equal(stepDone(1000, 1000, 9, 10), false);
  assert.equal(stepDone(1000, 1000, 10, 10), true);
  for (const w of [0, 0.05, 0.333333, 1]) assert.ok(RouteTable.safeParse(liveRoutes({ control: 1, candidate: 2 }, w)).success, `weight ${w}`);
});

test('the start object: defaults, and errors that name the field', () => {
  const s = rolloutStart.parse({ model: 'churn', candidate: 2, strategy: 'canary' });
  assert.deepEqual(s.canary.steps, [5, 25, 50, 100]);
  assert.equal(s.ab.threshold, 0.95);
  assert.equal(s.ab.reward, 'binary', 'rewards are conversions unless declared continuous');
  assert.equal(rolloutStart.parse({ model: 'churn', candidate: 2, strategy: 'ab', ab: { reward: 'continuous' } }).ab.reward, 'continuous');
  assert.ok(!rolloutStart.safeParse({ model: 'churn', candidate: 2, strategy: 'ab', ab: { reward: 'revenue' } }).success);
  const bad = rolloutStart.safeParse({ model: 'churn', candidate: 2, strategy: 'canary', canary: { steps: [50, 25], hold: '1m', minRequests: 1 }, colour: 1 });
  assert.ok(!bad.success);
  const paths = bad.error.issues.map((i) => i.path.join('.'));
  assert.ok(paths.includes('canary.steps') && bad.error.issues.some((i) => i.message.includes('colour')), JSON.stringify(bad.error.issues));
  assert.ok(!rolloutStart.safeParse({ model: 'churn', candidate: 2, control: 2, strategy: 'ab' }).success, 'control = candidate');
  assert.ok(!setWeightsRequest.safeParse({ weights: { control: 0.5, candidate: 0.6 } }).success);
  assert.ok(!setWeightsRequest.safeParse({ weights: { candidate: 1 } }).success, 'both variants');
});

test('CLI: weights and start flags', () => {
  assert.deepEqual(parseWeights(['candidate=25%']), { control: 0.75, candidate: 0.25 });
  assert.deepEqual(parseWeights(['control=0.9', 'candidate=0.1']), { control: 0.9, candidate: 0.1 });
  assert.throws(() => parseWeights(['treatment=1']), /control=W or candidate=W/);
  const start = startFromOptions('churn', { candidate: '3', strategy: 'canary', steps: '10,100', hold: '5m', maxErrorRate: '0.01', by: 'ada' });
  const parsed = rolloutStart.parse(start);
  assert.deepEqual([parsed.canary.steps, parsed.canary.hold, parsed.canary.minRequests, parsed.guardrails.maxErrorRate, parsed.by], [[10, 100], '5m', 100, 0.01, 'ada']);
  assert.throws(() => checkStart(startFromOptions('churn', { candidate: 'two', strategy: 'blue-green' })), /invalid rollout: candidate: .*; strategy: Invalid option/);
  assert.equal(rolloutStart.parse(startFromOptions('churn', { candidate: '3', strategy: 'ab', reward: 'continuous' })).ab.reward, 'continuous');
  // The status names each posterior by its kind.
  const xs = rewards([2, 4, 6, 8, 10]);
  const base = { model: 'churn', strategy: 'ab' as const, control: 1, candidate: 2, phase: 'testing' as const, paused: false, weights: {}, step: null, counts: {}, guardrails: null, report: null, decisions: [], rejected: [] };
  const normal = renderStatus({ ...base, posteriors: posteriors({ control: xs, candidate: xs }, 100, seeded(1), 'continuous') }).join('\n');
  assert.match(normal, /posterior control: Normal mean 6 ± 2 \(5 rewards\), P\(best\) 0\.\d+/);
  const beta = renderStatus({ ...base, posteriors: posteriors({ control: xs, candidate: xs }, 100, seeded(1)) }).join('\n');
  assert.match(beta, /posterior control: Beta\(1, 6\), mean 0\.1429, P\(best\) 0\.5/);
});

test('models rollback: the previous champion is where the latest move onto the current one came from', () => {
  const set = (from: number | null, to: number) => ({ alias: 'champion', action: 'set' as const, from_version: from, to_version: to });
  assert.equal(previousChampion([set(null, 1), set(1, 2), set(2, 3)], 3), 2);
  assert.equal(previousChampion([set(null, 1), set(1, 2), set(2, 1)], 1), 2, 'after a rollback, the one rolled back from');
  assert.equal(previousChampion([set(null, 1)], 1), null);
});
