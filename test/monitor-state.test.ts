import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorStart, type MonitorStart } from '../pipelines/monitor/protocol';
import type { DatasetRef } from '../pipelines/steps/dataset';
import type { DetectDriftOutput } from '../pipelines/steps/drift';
import type { BatchLabelsResult, JoinLabelsOutput } from '../pipelines/monitor/protocol';
import { policyPatch } from '../cli/monitor';
import { retrainParamsFromRun } from '../cli/champion-training-params';
import { MAX_SCORED_BATCHES, MonitorState, type RetrainResult } from '../workflows/monitor/monitor-state';

/** The drift monitor's rules without Temporal: events in, decisions and next actions out. */

const dataset = (name: string, version: number, columns = ['a', 'b', 'label']): DatasetRef => ({
  uri: `cas/${name}-${version}`,
  sha256: `${version}`.padStart(64, '0'),
  size: 100,
  name,
  version,
  rows: 10,
  schema: columns.map((c) => ({ name: c, type: 'float64', nullable: false })),
});
const drift = (datasetDrift: boolean, share = datasetDrift ? 0.75 : 0.1): DetectDriftOutput => ({
  datasetDrift,
  share,
  driftShare: 0.5,
  evaluated: 2,
  drifted: datasetDrift ? ['a'] : [],
  columns: {},
  report: { uri: 'cas/r', sha256: '0'.repeat(64), size: 1 },
  html: { uri: 'cas/h', sha256: '1'.repeat(64), size: 1 },
});
const at = (minutes: number) => new Date(Date.UTC(2026, 0, 1) + minutes * 60_000);

function monitor(start: Partial<MonitorStart> = {}) {
  return new MonitorState(monitorStart.parse({ model: 'm', reference: dataset('ref', 1), target: 'label', ...start }), 'drift-monitor-m');
}
/** A batch arrives and its check comes back with `drifted`; returns what the monitor wants next. */
function batch(m: MonitorState, id: string, drifted: boolean, t: Date) {
  const next = m.batchArrived({ batchId: id, dataset: dataset(`batch-${id}`, 1) }, t);
  assert.ok('check' in next, `batch ${id} is checked`);
  return m.driftChecked(id, drift(drifted), t);
}
const result = (outputs: Partial<RetrainResult['outputs']>): RetrainResult => ({ runId: 'r', pipeline: 'train-model', version: 'v', outputs: outputs as RetrainResult['outputs'] });

describe('MonitorState', () => {
  test('a drift check compares every shared column but the target, with the policy’s share', () => {
    const m = monitor({ policy: { driftShare: 0.3 } });
    const next = m.batchArrived({ batchId: 'b1', dataset: dataset('batch', 1, ['a', 'label', 'only-here']) }, at(0));
    assert.ok('check' in next);
    assert.deepEqual(next.check.columns, ['a']);
    assert.equal(next.check.datasetDriftShare, 0.3);
    assert.equal(next.check.reference.name, 'ref');
  });

  test('a retrain is wanted only after `consecutive` drifted batches in a row', () => {
    const m = monitor({ policy: { consecutive: 2 } });
    assert.equal(batch(m, 'b1', true, at(0)).retrain, undefined);
    assert.equal(batch(m, 'b2', false, at(1)).retrain, undefined, 'a clean batch resets the count');
    assert.equal(batch(m, 'b3', true, at(2)).retrain, undefined);
    const fourth = batch(m, 'b4', true, at(3));
    assert.equal(fourth.retrain?.trigger, 'drift');
    assert.deepEqual(fourth.decision.decision.numbers, { share: 0.75, driftShare: 0.5, drifted: ['a'], consecutive: 2, needed: 2 });
    assert.equal(m.status(at(3)).consecutiveDrifted, 2);
  });

  test('a batch seen before is ignored and recorded as a duplicate', () => {
    const m = monitor();
    batch(m, 'b1', true, at(0));
    const again = m.batchArrived({ batchId: 'b1', dataset: dataset('batch-b1', 1) }, at(1));
    assert.ok('duplicate' in again);
    assert.equal(again.duplicate.decision.kind, 'duplicate-ignored');
    assert.equal(m.status(at(1)).recent.length, 1, 'no second check');
  });

  test('decisions are numbered in order and the list keeps the latest', () => {
    const m = monitor();
    const seqs = ['b1', 'b2', 'b3'].map((id, i) => batch(m, id, false, at(i)).decision.seq);
    assert.deepEqual(seqs, [1, 2, 3]);
    assert.deepEqual(m.status(at(3)).decisions.map((d) => d.kind), ['drift-checked', 'drift-checked', 'drift-checked']);
  });

  test('a planned retrain trains on the newest data, named after the monitor', () => {
    const m = monitor({ trainingParams: { maxTrials: 2 } });
    const wanted = batch(m, 'b1', true, at(0));
    batch(m, 'b2', true, at(1));
    const plan = m.planRetrain({ trigger: 'drift', reason: 'drift' }, at(1));
    assert.ok('start' in plan, JSON.stringify(plan));
    assert.equal(wanted.retrain, undefined);
    assert.equal(plan.start.workflowId, 'drift-monitor-m-retrain-1');
    assert.equal(plan.start.pipeline, 'train-model');
    assert.deepEqual(plan.start.params, { maxTrials: 2, source: { kind: 'artifact', uri: 'cas/batch-b2-1', format: 'parquet' }, dataset: 'm-data' });
  });

  test('no data yet: the retrain is skipped with the reason', () => {
    const plan = monitor().planRetrain({ trigger: 'manual', reason: 'asked' }, at(0));
    assert.ok('skip' in plan);
    assert.match(plan.skip.decision.reason, /no data to retrain on yet/);
  });

  test('one retrain at a time: another is skipped while one is in flight, allowed after it ends', () => {
    const m = monitor();
    batch(m, 'b1', true, at(0));
    const first = m.planRetrain({ trigger: 'manual', reason: 'asked' }, at(0));
    assert.ok('start' in first);
    m.retrainStarted(first.start, at(0));
    assert.equal(m.retrainInFlight, true);
    const second = m.planRetrain({ trigger: 'manual', reason: 'again' }, at(1));
    assert.ok('skip' in second);
    assert.match(second.skip.decision.reason, /already running \(drift-monitor-m-retrain-1\)/);
    m.retrainFinished(first.start.workflowId, { error: 'boom' }, at(2));
    assert.equal(m.retrainInFlight, false);
    assert.ok('start' in m.planRetrain({ trigger: 'manual', reason: 'third' }, at(3)));
  });

  test('cooldown holds automatic retrains after one ended, not manual ones', () => {
    const m = monitor({ policy: { cooldown: '1h' } });
    batch(m, 'b1', true, at(0));
    const plan = m.planRetrain({ trigger: 'manual', reason: 'first' }, at(0));
    assert.ok('start' in plan);
    m.retrainStarted(plan.start, at(0));
    m.retrainFinished(plan.start.workflowId, { error: 'x' }, at(10));
    const auto = m.planRetrain({ trigger: 'drift', reason: 'drift' }, at(40));
    assert.ok('skip' in auto);
    assert.match(auto.skip.decision.reason, /in cooldown \(1h after/);
    assert.ok('start' in m.planRetrain({ trigger: 'manual', reason: 'asked' }, at(40)), 'a person may retrain in the cooldown');
    const m2 = monitor({ policy: { cooldown: '1h' } });
    batch(m2, 'b1', true, at(0));
    const p2 = m2.planRetrain({ trigger: 'manual', reason: 'first' }, at(0));
    assert.ok('start' in p2);
    m2.retrainStarted(p2.start, at(0));
    m2.retrainFinished(p2.start.workflowId, { error: 'x' }, at(10));
    assert.ok('start' in m2.planRetrain({ trigger: 'drift', reason: 'drift' }, at(71)), 'after the cooldown');
  });

  test('the daily cap counts starts in the last 24 hours', () => {
    const m = monitor({ policy: { dailyCap: 2, cooldown: '1m' } });
    batch(m, 'b1', true, at(0));
    for (const t of [0, 60]) {
      const p = m.planRetrain({ trigger: 'manual', reason: `at ${t}` }, at(t));
      assert.ok('start' in p);
      m.retrainStarted(p.start, at(t));
      m.retrainFinished(p.start.workflowId, { error: 'x' }, at(t + 1));
    }
    const capped = m.planRetrain({ trigger: 'manual', reason: 'third' }, at(120));
    assert.ok('skip' in capped);
    assert.match(capped.skip.decision.reason, /daily cap of 2 reached/);
    assert.deepEqual(capped.skip.decision.numbers, { trigger: 'manual', retrainsLast24h: 2 });
    assert.equal(m.status(at(120)).retrainsLast24h, 2);
    assert.ok('start' in m.planRetrain({ trigger: 'manual', reason: 'next day' }, at(24 * 60 + 1)), 'the first start left the window');
  });

  test('a retrain request id seen before starts nothing', () => {
    const m = monitor();
    const first = m.retrainRequested({ reason: 'r', by: 'ada', requestId: 'req-1' }, at(0));
    assert.ok('retrain' in first);
    assert.equal(first.retrain.reason, 'requested by ada: r');
    const again = m.retrainRequested({ reason: 'r', by: 'ada', requestId: 'req-1' }, at(1));
    assert.ok('duplicate' in again);
    assert.match(again.duplicate.decision.reason, /req-1 was already handled/);
    assert.ok('retrain' in m.retrainRequested({ reason: 'r', by: 'ada' }, at(2)), 'requests without an id are never duplicates');
  });

  test('a promoted retrain moves the reference to its training data and resets the drift count', () => {
    const m = monitor();
    batch(m, 'b1', true, at(0));
    const p = m.planRetrain({ trigger: 'manual', reason: 'asked' }, at(0));
    assert.ok('start' in p);
    m.retrainStarted(p.start, at(0));
    const done = m.retrainFinished(p.start.workflowId, { result: result({ promoted: true, trainingData: dataset('m-data', 3), model: 'models:/m/2', outcome: 'promoted' }) }, at(5));
    assert.equal(done.decision.reason, 'retrain drift-monitor-m-retrain-1: promoted');
    assert.deepEqual(done.decision.numbers, { workflowId: 'drift-monitor-m-retrain-1', promoted: true, model: 'models:/m/2', reference: 'm-data@3' });
    assert.equal(m.reference.name, 'm-data');
    assert.equal(m.status(at(5)).consecutiveDrifted, 0);
    const kept = monitor();
    kept.retrainFinished('w', { result: result({ promoted: false, trainingData: dataset('m-data', 4) }) }, at(0));
    assert.equal(kept.reference.name, 'ref', 'a model that was not promoted leaves the reference');
  });

  test('labels below the policy’s minimum want a retrain; others only record the check', () => {
    const m = monitor({ policy: { performance: { metric: 'accuracy', minValue: 0.8 } } });
    const ok = m.labelsArrived({ batchId: 'b1', metrics: { accuracy: 0.9 } }, at(0));
    assert.equal(ok.retrain, undefined);
    assert.equal(ok.decision?.decision.kind, 'performance-checked');
    const bad = m.labelsArrived({ batchId: 'b2', metrics: { accuracy: 0.7 }, dataset: dataset('labelled', 1) }, at(1));
    assert.equal(bad.retrain?.trigger, 'performance');
    const plan = m.planRetrain(bad.retrain!, at(1));
    assert.ok('start' in plan, 'the labelled batch is data to retrain on');
    assert.deepEqual(monitor().labelsArrived({ batchId: 'b', metrics: { accuracy: 0.1 } }, at(0)), {}, 'no performance policy: nothing');
  });

  test('policy updates are validated, recorded, and carried across continue-as-new', () => {
    const m = monitor();
    assert.throws(() => m.checkPolicy({ driftShare: 2 }), /driftShare/);
    const { policy, decision } = m.setPolicy({ consecutive: 5 }, at(0));
    assert.equal(policy.consecutive, 5);
    assert.equal(decision.decision.kind, 'policy-changed');
    const next = m.continued();
    assert.equal(next.args.policy?.consecutive, 5);
    const resumed = new MonitorState(monitorStart.parse(next.args), 'drift-monitor-m', next.carried);
    assert.equal(resumed.decide('drift-checked', 'x', at(1)).seq, 2, 'numbering continues');
  });

  test('a scored window is what drift compares, and the batch is remembered for labels', () => {
    const m = monitor();
    const window = { column: 'day', start: '2013-01-01T00:00:00.000Z', end: '2013-04-01T00:00:00.000Z' };
    const next = m.batchArrived({ batchId: 'w1', dataset: dataset('all', 1), window, rows: 40, predictions: dataset('m.predictions', 1) }, at(0));
    assert.ok('check' in next);
    assert.deepEqual(next.check.currentWindow, window);
    const whole = m.batchArrived({ batchId: 'w0', dataset: dataset('all', 1), window: null, predictions: dataset('m.predictions', 2) }, at(1));
    assert.ok('check' in whole);
    assert.equal(whole.check.currentWindow, undefined, 'a whole-dataset run compares every row');
    const old = m.batchArrived({ batchId: 'legacy', dataset: dataset('all', 1) }, at(2));
    assert.ok('check' in old);
    assert.deepEqual(
      m.status(at(2)).scored?.map((b) => [b.batchId, b.rows, b.window?.end ?? null]),
      [
        ['w1', 40, window.end],
        ['w0', null, null],
      ],
      'batches without predictions cannot be joined with labels: not remembered',
    );
    for (let i = 0; i < MAX_SCORED_BATCHES + 5; i++) m.batchArrived({ batchId: `x${i}`, dataset: dataset('all', 1), predictions: dataset('p', 1) }, at(3));
    assert.equal(m.status(at(3)).scored?.length, MAX_SCORED_BATCHES, 'bounded');
  });

  test('labels are joined with the remembered batches; a missing target or batch is a recorded rejection', () => {
    const noTarget = new MonitorState(monitorStart.parse({ model: 'm', reference: dataset('ref', 1) }), 'drift-monitor-m');
    const labels = { source: { path: '/data/labels.csv' }, key: 'id' };
    assert.equal(noTarget.labelsArrived({ batchId: 'l0', labels, metrics: {} }, at(0)).decision?.decision.kind, 'rejected');
    const m = monitor();
    const none = m.labelsArrived({ batchId: 'l1', labels, metrics: {} }, at(0));
    assert.equal(none.decision?.decision.kind, 'rejected');
    assert.match(none.decision!.decision.reason, /no scored batch/);
    m.batchArrived({ batchId: 'w1', dataset: dataset('all', 1), window: null, predictions: dataset('p', 1) }, at(1));
    m.batchArrived({ batchId: 'w2', dataset: dataset('all', 1), window: null, predictions: dataset('p', 2) }, at(1));
    const join = m.labelsArrived({ batchId: 'l2', labels: { ...labels, batch: 'w2' }, metrics: {} }, at(2)).join;
    assert.deepEqual(
      join && { batches: join.batches.map((b) => b.batchId), label: join.labels.label, target: join.target, previous: join.previous },
      { batches: ['w2'], label: 'label', target: 'label', previous: null },
      'the named batch, labels named by the target by default, nothing accumulated yet',
    );
    assert.equal(m.labelsArrived({ batchId: 'l3', labels: { ...labels, batch: 'nope' }, metrics: {} }, at(2)).decision?.decision.kind, 'rejected');
  });

  const labelled = (batchId: string, end: string, o: Partial<BatchLabelsResult> = {}): BatchLabelsResult => ({
    batchId,
    window: { column: 'day', start: new Date(Date.parse(end) - 30 * 86_400_000).toISOString(), end },
    rows: 30,
    task: 'classification',
    metrics: { accuracy: 0.9 },
    labelDrift: { test: 'z', statistic: 0.5, pValue: 0.6, threshold: 0.05, drift: false, referenceRate: { a: 0.5, b: 0.5 }, currentRate: { a: 0.45, b: 0.55 } },
    ...o,
  });
  const joined = (version: number, ...batches: BatchLabelsResult[]): JoinLabelsOutput => ({ batches, labelled: dataset('m.labelled', version), unmatched: 0 });

  test('label drift or a metric below the minimum wants a retrain, each with its numbers', () => {
    const m = monitor({ policy: { performance: { metric: 'accuracy', minValue: 0.7 } } });
    const calm = m.labelsJoined('l1', joined(1, labelled('w1', '2013-02-01T00:00:00.000Z')), at(0));
    assert.equal(calm.retrain, undefined);
    assert.equal(calm.decision.decision.kind, 'labels-checked');
    assert.deepEqual((calm.decision.decision.numbers?.batches as { metrics: unknown }[])[0]!.metrics, { accuracy: 0.9 });
    const shifted = labelled('w2', '2013-03-01T00:00:00.000Z', { labelDrift: { test: 'z', statistic: 4.2, pValue: 0.00002, threshold: 0.05, drift: true, referenceRate: { a: 0.5, b: 0.5 }, currentRate: { a: 0.9, b: 0.1 } } });
    const drifted = m.labelsJoined('l2', joined(2, shifted), at(1));
    assert.equal(drifted.retrain?.trigger, 'label-drift', 'a moved outcome rate with a fine metric is caught');
    assert.match(drifted.retrain!.reason, /outcome rate drifted on batch w2/);
    assert.equal(m.setPolicy({ labelDrift: false }, at(2)).policy.labelDrift, false);
    assert.equal(m.labelsJoined('l3', joined(3, shifted), at(3)).retrain, undefined, 'label drift off: recorded only');
    const decayed = m.labelsJoined('l4', joined(4, labelled('w3', '2013-04-01T00:00:00.000Z', { metrics: { accuracy: 0.55 } })), at(4));
    assert.equal(decayed.retrain?.trigger, 'performance');
    assert.deepEqual([decayed.decision.decision.numbers?.metric, decayed.decision.decision.numbers?.minValue], ['accuracy', 0.7]);
  });

  test('a retrain learns from the accumulated labelled data of the policy’s window, evaluated on the newest window', () => {
    const m = monitor({ trainingParams: { model: 'm', target: 'label', orderBy: 'day' }, policy: { retrainWindow: '90d' } });
    m.labelsJoined('l1', joined(1, labelled('w1', '2013-02-01T00:00:00.000Z')), at(0));
    m.labelsJoined('l2', joined(2, labelled('w2', '2013-03-03T00:00:00.000Z')), at(1));
    const plan = m.planRetrain({ trigger: 'manual', reason: 'asked' }, at(2));
    assert.ok('start' in plan);
    const params = plan.start.params as Record<string, unknown>;
    assert.deepEqual(params.source, { kind: 'artifact', uri: 'cas/m.labelled-2', format: 'parquet' }, 'the accumulated data, not the newest batch');
    assert.deepEqual(params.evaluation, { column: 'day', from: '2013-02-01T00:00:00.000Z', to: '2013-03-03T00:00:00.000Z', trainFrom: '2012-12-03T00:00:00.000Z' });
    assert.equal(params.orderBy, undefined, 'a time-range holdout replaces the ordered fraction');
    assert.deepEqual(m.retrainStarted(plan.start, at(2)).decision.numbers?.evaluation, params.evaluation);
    assert.deepEqual(
      m.status(at(2)).labelled?.map((b) => [b.batchId, `${b.data.name}@${b.data.version}`]),
      [
        ['w1', 'm.labelled@1'],
        ['w2', 'm.labelled@2'],
      ],
    );
    const carried = m.continued();
    const resumed = new MonitorState(monitorStart.parse(carried.args), 'drift-monitor-m', carried.carried);
    assert.equal(resumed.status(at(3)).labelled?.length, 2, 'labelled batches are carried across continue-as-new');
    // Labels for an older week delivered last: the data is that delivery's accumulation, the
    // evaluation window still the week that ends last.
    const late = monitor({ trainingParams: { model: 'm', target: 'label' }, policy: { retrainWindow: '90d' } });
    late.labelsJoined('l1', joined(1, labelled('w2', '2013-03-03T00:00:00.000Z')), at(0));
    late.labelsJoined('l2', joined(2, labelled('w1', '2013-02-01T00:00:00.000Z')), at(1));
    const latePlan = late.planRetrain({ trigger: 'manual', reason: 'asked' }, at(2));
    assert.ok('start' in latePlan);
    const lateParams = latePlan.start.params as Record<string, { to?: string; uri?: string }>;
    assert.equal(lateParams.evaluation?.to, '2013-03-03T00:00:00.000Z', 'evaluated on the newest week, not the last delivered');
    assert.equal(lateParams.source?.uri, 'cas/m.labelled-2', 'trained on everything accumulated');
    const noWindow = monitor();
    noWindow.labelsJoined('l1', joined(1, labelled('w1', '2013-02-01T00:00:00.000Z')), at(0));
    const whole = noWindow.planRetrain({ trigger: 'manual', reason: 'asked' }, at(1));
    assert.ok('start' in whole);
    assert.equal((whole.start.params as Record<string, unknown>).evaluation, undefined, 'without retrainWindow: the labelled data as a whole');
  });

  test('one labelled window in the span: the retrain learns from it alone, as there is nothing before it to train on', () => {
    const m = monitor({ trainingParams: { model: 'm', target: 'label' }, policy: { retrainWindow: '30d' } });
    m.labelsJoined('l1', joined(1, labelled('w1', '2013-01-01T00:00:00.000Z')), at(0));
    m.labelsJoined('l2', joined(2, labelled('w2', '2013-03-01T00:00:00.000Z')), at(1)); // w1 ended before the 30 days
    const plan = m.planRetrain({ trigger: 'performance', reason: 'decayed' }, at(1));
    assert.ok('start' in plan);
    const params = plan.start.params as Record<string, unknown>;
    const range = { column: 'day', from: '2013-01-30T00:00:00.000Z', to: '2013-03-01T00:00:00.000Z' };
    assert.deepEqual(params.source, { kind: 'artifact', uri: 'cas/m.labelled-2', format: 'parquet' });
    assert.equal(params.evaluation, undefined, 'no time-range holdout with no training rows before it');
    assert.deepEqual(params.filter, {
      op: 'and',
      left: { op: 'gte', left: { op: 'col', name: 'day' }, right: { op: 'lit', value: range.from } },
      right: { op: 'lt', left: { op: 'col', name: 'day' }, right: { op: 'lit', value: range.to } },
    });
    const replayed = monitor({ trainingParams: { model: 'm', target: 'label' }, policy: { retrainWindow: '30d' } });
    replayed.labelsJoined('l1', joined(1, labelled('w2', '2013-03-01T00:00:00.000Z')), at(0));
    const old = replayed.planRetrain({ trigger: 'performance', reason: 'decayed' }, at(1), { labelledWindowAlone: () => false });
    assert.ok('start' in old);
    assert.equal((old.start.params as { evaluation?: { from: string } }).evaluation?.from, range.from, 'a history planned before the patch replays as it ran');
  });

  /** A scheduled scoring run's batch: the rows of `dataset` with `day` in [start, end). */
  const scoredWindow = (m: MonitorState, batchId: string, start: string, end: string, version: number, t: Date) => {
    const next = m.batchArrived({ batchId, dataset: dataset('all', version, ['day', 'a', 'label']), window: { column: 'day', start, end }, rows: 30, predictions: dataset('m.predictions', version) }, t);
    assert.ok('check' in next);
    return m.driftChecked(batchId, drift(true), t);
  };

  test('a drift-only retrain learns from the scored windows of the policy’s span, not the whole dataset', () => {
    const m = monitor({ trainingParams: { model: 'm', target: 'label', orderBy: 'day', evaluation: { column: 'day', from: '2012-06-01' } }, policy: { consecutive: 3, retrainWindow: '60d' } });
    scoredWindow(m, 'w1', '2013-01-01T00:00:00.000Z', '2013-02-01T00:00:00.000Z', 1, at(0));
    scoredWindow(m, 'w3', '2013-03-01T00:00:00.000Z', '2013-04-01T00:00:00.000Z', 3, at(1));
    const third = scoredWindow(m, 'w2', '2013-02-01T00:00:00.000Z', '2013-03-01T00:00:00.000Z', 2, at(2)); // a backfilled month, scored last
    assert.equal(third.retrain?.trigger, 'drift');
    let asked = 0;
    const plan = m.planRetrain(third.retrain!, at(2), { scoredWindows: () => (asked++, true) });
    assert.ok('start' in plan, JSON.stringify(plan));
    const params = plan.start.params as Record<string, unknown>;
    assert.equal(asked, 1);
    assert.deepEqual(params.source, { kind: 'artifact', uri: 'cas/all-3', format: 'parquet' }, 'the dataset of the window that ends last');
    assert.deepEqual(
      params.evaluation,
      { column: 'day', from: '2013-03-01T00:00:00.000Z', to: '2013-04-01T00:00:00.000Z', trainFrom: new Date(Date.parse('2013-04-01T00:00:00Z') - 60 * 86_400_000).toISOString() },
      'held out on the newest window, trained on the 60 days before its end: not January, not the unscored rows of the dataset',
    );
    assert.equal(params.orderBy, undefined, 'a time-range holdout replaces the ordered fraction');
    assert.equal(params.filter, undefined);
    assert.deepEqual(m.retrainStarted(plan.start, at(2)).decision.numbers?.evaluation, params.evaluation);

    // Without retrainWindow: every remembered scored window (from the earliest's start), nothing scored before it.
    const all = monitor({ policy: { consecutive: 2 } });
    scoredWindow(all, 'w1', '2013-01-01T00:00:00.000Z', '2013-02-01T00:00:00.000Z', 1, at(0));
    const wanted = scoredWindow(all, 'w2', '2013-02-01T00:00:00.000Z', '2013-03-01T00:00:00.000Z', 2, at(1));
    const allPlan = all.planRetrain(wanted.retrain!, at(1));
    assert.ok('start' in allPlan);
    assert.equal((allPlan.start.params as { evaluation?: { trainFrom: string } }).evaluation?.trainFrom, '2013-01-01T00:00:00.000Z');
  });

  test('one scored window in the span: the retrain learns from its rows alone, by the pipeline’s own holdout', () => {
    const own = { op: 'gte' as const, left: { op: 'col' as const, name: 'a' }, right: { op: 'lit' as const, value: 0 } };
    const m = monitor({ trainingParams: { model: 'm', target: 'label', orderBy: 'day', filter: own, evaluation: { column: 'day', from: '2012-06-01' } }, policy: { consecutive: 1, retrainWindow: '14d' } });
    scoredWindow(m, 'w1', '2013-01-01T00:00:00.000Z', '2013-02-01T00:00:00.000Z', 1, at(0));
    const wanted = scoredWindow(m, 'w2', '2013-02-01T00:00:00.000Z', '2013-03-01T00:00:00.000Z', 2, at(1)); // w1 ended before the 14 days
    const plan = m.planRetrain(wanted.retrain!, at(1));
    assert.ok('start' in plan);
    const params = plan.start.params as Record<string, unknown>;
    const range = { column: 'day', from: '2013-02-01T00:00:00.000Z', to: '2013-03-01T00:00:00.000Z' };
    assert.deepEqual(params.filter, {
      op: 'and',
      left: own,
      right: {
        op: 'and',
        left: { op: 'gte', left: { op: 'col', name: 'day' }, right: { op: 'lit', value: range.from } },
        right: { op: 'lt', left: { op: 'col', name: 'day' }, right: { op: 'lit', value: range.to } },
      },
    });
    assert.deepEqual([params.evaluation, params.orderBy], [undefined, 'day'], "the champion's holdout rows are not in the window: the latest fraction by day instead");
    assert.deepEqual(m.retrainStarted(plan.start, at(1)).decision.numbers?.rows, range);
  });

  test('a monitor whose history planned on the whole dataset (patch absent) plans so again; labels take precedence', () => {
    const m = monitor({ policy: { consecutive: 1, retrainWindow: '60d' } });
    const wanted = scoredWindow(m, 'w1', '2013-01-01T00:00:00.000Z', '2013-02-01T00:00:00.000Z', 1, at(0));
    const old = m.planRetrain(wanted.retrain!, at(0), { scoredWindows: () => false });
    assert.ok('start' in old);
    assert.deepEqual(old.start.params, { source: { kind: 'artifact', uri: 'cas/all-1', format: 'parquet' }, dataset: 'm-data' });
    let asked = false;
    const plain = monitor();
    batch(plain, 'b1', true, at(0));
    assert.ok('start' in plain.planRetrain({ trigger: 'manual', reason: 'asked' }, at(0), { scoredWindows: () => (asked = true) }));
    assert.equal(asked, false, 'the patch is asked for only where the plan changes');
    const hasLabels = monitor({ policy: { retrainWindow: '60d' } });
    scoredWindow(hasLabels, 'w1', '2013-01-01T00:00:00.000Z', '2013-02-01T00:00:00.000Z', 1, at(0));
    hasLabels.labelsJoined('l1', joined(1, labelled('w1', '2013-02-01T00:00:00.000Z')), at(1));
    const withLabels = hasLabels.planRetrain({ trigger: 'manual', reason: 'asked' }, at(1));
    assert.ok('start' in withLabels);
    assert.equal((withLabels.start.params as { source: { uri: string } }).source.uri, 'cas/m.labelled-1', 'labelled data, as before');
  });

  test('status shows what a retrain runs and where its params came from; the champion’s run params lose what read its source', () => {
    const m = monitor({ trainingParams: { model: 'm', target: 'label' }, trainingParamsFrom: 'the champion m v2' });
    assert.deepEqual(m.status(at(0)).training, { pipeline: 'train-model', params: { model: 'm', target: 'label' }, from: 'the champion m v2' });
    assert.equal(monitor().status(at(0)).training.from, null, 'monitors started before: not recorded');
    const run = {
      model: 'm',
      source: { kind: 'file', path: 'raw.json' },
      dataset: 'flights',
      schema: [{ name: 'date', type: 'timestamp', nullable: false }],
      derive: { late: { op: 'gt' } },
      filter: { op: 'gte' },
      target: 'late',
      features: ['hour'],
      gbdt: { nEstimators: 40 },
      evaluation: { column: 'date', from: '2001-01-22', to: '2001-01-29' },
    };
    assert.deepEqual(retrainParamsFromRun(run), { model: 'm', target: 'late', features: ['hour'], gbdt: { nEstimators: 40 }, orderBy: 'date' });
    assert.deepEqual(retrainParamsFromRun({ model: 'm', evaluation: { dataset: { name: 'holdout' } }, holdoutFraction: 0.3 }), { model: 'm', holdoutFraction: 0.3 });
  });

  test('monitor policy --set: JSON values, strings otherwise, nested keys on top of the current policy', () => {
    const current = monitorStart.parse({ model: 'm', reference: dataset('ref', 1), policy: { performance: { metric: 'accuracy', minValue: 0.8 } } }).policy;
    assert.deepEqual(policyPatch(current, ['consecutive=3', 'retrainWindow=90d', 'labelDrift=false', 'columns=["a","b"]', 'performance.minValue=0.7']), {
      consecutive: 3,
      retrainWindow: '90d',
      labelDrift: false,
      columns: ['a', 'b'],
      performance: { metric: 'accuracy', minValue: 0.7 },
    });
    assert.throws(() => policyPatch(current, ['consecutive']), /key=value/);
    const m = monitor();
    assert.throws(() => m.checkPolicy(policyPatch(m.policy, ['retrainWindow=ninety'])), /retrainWindow/);
  });
});
