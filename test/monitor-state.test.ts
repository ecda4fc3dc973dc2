import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorStart, type MonitorStart } from '../pipelines/monitor/protocol';
import type { DatasetRef } from '../pipelines/steps/dataset';
import type { DetectDriftOutput } from '../pipelines/steps/drift';
import { MonitorState, type RetrainResult } from '../workflows/monitor/monitor-state';

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
});
