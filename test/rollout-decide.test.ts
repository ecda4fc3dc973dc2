import { test } from 'node:test';
import assert from 'node:assert/strict';
import { betaOf, checkGuardrails, seededRandom, liveRoutes, posteriors, sampleBeta, stepDone, thompsonCandidateWeight, winnerOf } from '../pipelines/rollout/decide';
import { guardrails, rolloutStart, setWeightsRequest, type VariantStats } from '../pipelines/rollout/protocol';
import { RouteTable } from '../pipelines/serving/routes';
import { checkStart, parseWeights, startFromOptions } from '../cli/commands/rollout';
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
});

test('models rollback: the previous champion is where the latest move onto the current one came from', () => {
  const set = (from: number | null, to: number) => ({ alias: 'champion', action: 'set' as const, from_version: from, to_version: to });
  assert.equal(previousChampion([set(null, 1), set(1, 2), set(2, 3)], 3), 2);
  assert.equal(previousChampion([set(null, 1), set(1, 2), set(2, 1)], 1), 2, 'after a rollback, the one rolled back from');
  assert.equal(previousChampion([set(null, 1)], 1), null);
});
