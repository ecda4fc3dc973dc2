import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import pl from 'nodejs-polars';
import { Worker } from '@temporalio/worker';
import { findTemporalCli } from '../infra/setup/temporal-cli';
import { run as run_ } from '../infra/stack/process';
import { ensureMonitor, monitorStatus, policyPatch, requestRetrain, sendBatchScored, sendLabels, setPolicy } from '../cli/monitor';
import { createSchedule } from '../cli/schedules';
import { monitorStartFor } from '../cli/commands/monitor';
import { loadRegistry } from '../workers/registry';
import { projectRoot } from '../infra/paths';
import type { AnyPipeline } from '../pipelines/dsl/pipeline';
import type { RunParams } from '../pipelines/dsl/start';
import { batchScoring } from '../pipelines/batch-scoring';
import { ingestValidate } from '../pipelines/ingest-validate';
import { trainModel } from '../pipelines/train-model';
import type { MonitorStart } from '../pipelines/monitor/protocol';
import { batchScored, setPolicyUpdate } from '../pipelines/monitor/messages';
import { stepOptions } from '../pipelines/dsl/step';
import { nonRetryableErrorTypes } from '../pipelines/failures';
import { detectDriftStep } from '../pipelines/steps/drift';
import { durationMs } from '../pipelines/vocab/duration';
import { startRun } from './helpers/runs';
import { startTestStack, type TestStack, uniqueId } from './helpers/stack';
import { waitFor } from './helpers/wait-for';

/**
 * End to end on a real, time-ordered dataset (Seattle weather): train on the 2012-13 winters (even
 * days), then score the other days of those winters (no shift: nothing starts) and the summers of
 * 2013-15 (shifted: drift, a retrain starts by itself on the newest data, and the new version
 * becomes champion). File labels: winter-2012 (training), winter-2013 (calm), summer-2012 (shifted).
 */
let stack: TestStack;
const dir = path.join(projectRoot, '.sluice', 'test-generated', uniqueId('weather-'));

before(async () => {
  fs.mkdirSync(dir, { recursive: true });
  // The model tells rain from sun (the two kinds every season has, so champion and challenger
  // predict the same classes and can be compared on one holdout).
  const weather = pl.readCSV(path.join(projectRoot, 'node_modules', 'vega-datasets', 'data', 'seattle-weather.csv')).filter(pl.col('weather').isIn(['rain', 'sun']));
  const month = pl.col('date').str.slice(5, 2).cast(pl.Int32);
  const year = pl.col('date').str.slice(0, 4).cast(pl.Int32);
  const season = (months: number[], years: number[]) => weather.filter(month.isIn(months).and(year.isIn(years)));
  const evenDay = pl.col('date').str.slice(8, 2).cast(pl.Int32).modulo(2).eq(0);
  // Training: even days of the 2012-13 winters; the calm batch: the odd days of the same winters
  // (later winters really were warmer in Seattle, 2015 most of all, so they drift for real).
  season([11, 12, 1, 2, 3], [2012, 2013]).filter(evenDay).writeCSV(path.join(dir, 'winter-2012.csv'));
  season([11, 12, 1, 2, 3], [2012, 2013]).filter(evenDay.not()).writeCSV(path.join(dir, 'winter-2013.csv'));
  season([5, 6, 7, 8, 9], [2013, 2014, 2015]).writeCSV(path.join(dir, 'summer-2012.csv'));
  stack = await startTestStack(); // both workers: train-model's trials run on the GPU queue
});
after(async () => {
  await stack?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const run = async <P extends AnyPipeline>(pipeline: P, params: RunParams<P>) => (await startRun(stack, pipeline, params)).result();
const ingest = async (file: string, name: string) =>
  (await run(ingestValidate, { source: { kind: 'file', path: path.join(dir, file) }, name, suite: { name: 'basic', expectations: [{ type: 'rowCountBetween', min: 30, severity: 'error' }] } })).outputs.dataset;
const champion = async (model: string) => (await stack.db.query(`SELECT version FROM model_aliases WHERE model_name = $1 AND alias = 'champion'`, [model])).rows[0]?.version as number | undefined;

test('drift on a shifted period starts a retrain by itself and the new version becomes champion', async () => {
  const model = 'weather-e2e';
  const trainingParams = { model, target: 'weather', search: {}, gbdt: { nEstimators: 40, minDataInLeaf: 5 }, gates: [{ metric: 'accuracy', op: '>=' as const, value: 0 }], promoteMetric: 'log_loss', holdoutFraction: 0.3 };
  const first = await run(trainModel, { ...trainingParams, source: { kind: 'file', path: path.join(dir, 'winter-2012.csv') }, dataset: 'weather-winter-2012' });
  assert.equal(first.outputs.promoted, true);
  assert.equal(await champion(model), 1);

  // As `sluice monitor start` without --training-params: retrains take the champion's training
  // run's params (and its target), less the source it read.
  const reference = `${first.outputs.trainingData.name}@${first.outputs.trainingData.version}`;
  const start: MonitorStart = await monitorStartFor(stack.db, model, {
    reference,
    pipeline: 'train-model',
    policy: { consecutive: 1, driftShare: 0.75, cooldown: '1h', dailyCap: 3, columns: ['precipitation', 'temp_max', 'temp_min', 'wind'] },
  });
  assert.equal(start.target, 'weather');
  assert.match(start.trainingParamsFrom!, new RegExp(`^the champion ${model} v1's training run ${first.runId} `));
  const fromChampion = start.trainingParams as Record<string, unknown>;
  assert.deepEqual(
    [fromChampion.model, fromChampion.promoteMetric, fromChampion.holdoutFraction, (fromChampion.gbdt as { nEstimators?: number }).nEstimators, fromChampion.source, fromChampion.dataset],
    [model, 'log_loss', 0.3, 40, undefined, undefined],
  );
  const imported = await monitorStartFor(stack.db, 'no-such-model', { reference, pipeline: 'train-model' });
  assert.deepEqual([imported.trainingParams, imported.trainingParamsFrom], [{ model: 'no-such-model' }, "train-model's defaults (no-such-model has no champion)"]);
  // Without --reference: the champion's training data, from its registry lineage.
  const byLineage = await monitorStartFor(stack.db, model, { pipeline: 'train-model' });
  assert.deepEqual([byLineage.reference.name, byLineage.reference.version, byLineage.reference.sha256], [first.outputs.trainingData.name, first.outputs.trainingData.version, first.outputs.trainingData.sha256]);
  await assert.rejects(monitorStartFor(stack.db, 'no-such-model', { pipeline: 'train-model' }), /no-such-model has no champion to take the reference data from: pass --reference/);

  // Same season a year later: a wetter, windier winter moves two of four columns, below the
  // policy's share of 0.75, so the batch does not drift and nothing starts.
  await sendBatchScored(stack.client, stack.workers.config, start, { batchId: 'winter-2013', dataset: await ingest('winter-2013.csv', 'weather-winter-2013') });
  const calm = await waitFor('the winter batch to be checked', async () => {
    const s = await monitorStatus(stack.client, model);
    return s.recent.length === 1 ? s : undefined;
  });
  assert.equal(calm.recent[0]!.datasetDrift, false, `winter 2013 drifted columns: ${calm.recent[0]!.drifted.join(', ')}`);
  assert.equal(calm.inFlight, null);
  assert.ok(!calm.decisions.some((d) => d.kind === 'retrain-started'));

  // Summer: temperatures and rain shift; a retrain starts on the rows that batch scored (the 2014
  // and 2015 summers of the dataset, as a scheduled run's window says) and wins.
  const summer = await ingest('summer-2012.csv', 'weather-summer-2012');
  const scoredSummers = { batchId: 'summer-2012', dataset: summer, window: { column: 'date', start: '2014-01-01T00:00:00.000Z', end: '2016-01-01T00:00:00.000Z' }, predictions: summer };
  await sendBatchScored(stack.client, stack.workers.config, start, scoredSummers);
  await sendBatchScored(stack.client, stack.workers.config, start, scoredSummers); // a duplicate: ignored
  const finished = await waitFor('the retrain to finish', async () => {
    const s = await monitorStatus(stack.client, model);
    return s.decisions.some((d) => d.kind === 'retrain-finished') ? s : undefined;
  });
  const drifted = finished.recent.find((r) => r.batchId === 'summer-2012')!;
  assert.equal(drifted.datasetDrift, true);
  assert.ok(drifted.drifted.includes('temp_max'), `drifted: ${drifted.drifted.join(', ')}`);
  assert.equal(finished.decisions.filter((d) => d.kind === 'retrain-started').length, 1, 'one retrain, duplicate signal ignored');
  assert.ok(finished.decisions.some((d) => d.kind === 'duplicate-ignored'));
  const done = finished.decisions.find((d) => d.kind === 'retrain-finished')!;
  const why = (await stack.db.query(`SELECT outcome, metric, challenger_value, champion_value, reason FROM model_decisions WHERE model_name = $1 ORDER BY id DESC LIMIT 1`, [model])).rows[0];
  assert.equal(done.numbers?.promoted, true, `retrain outcome: ${done.reason} ${JSON.stringify(why)}`);
  assert.equal(await champion(model), 2, 'the retrained version is champion');
  assert.equal(finished.reference.name, 'weather-e2e-data.train', 'new batches are now compared with the new training data');
  const retrainRun = (await stack.db.query('SELECT params FROM runs WHERE workflow_id = $1', [finished.decisions.find((d) => d.kind === 'retrain-started')!.numbers?.workflowId])).rows[0];
  assert.deepEqual([retrainRun.params.promoteMetric, retrainRun.params.holdoutFraction], ['log_loss', 0.3], 'trained like the champion');
  const retrainData = (await stack.db.query(`SELECT rows FROM dataset_versions WHERE name = 'weather-e2e-data' ORDER BY version DESC LIMIT 1`)).rows[0];
  const summers = pl.readCSV(path.join(dir, 'summer-2012.csv')).filter(pl.col('date').str.slice(0, 4).cast(pl.Int32).gtEq(2014)).height;
  assert.equal(retrainData.rows, summers, 'the scored window only, not the 2013 summer the dataset also holds');

  // Results and decisions are kept in PostgreSQL.
  const results = await stack.db.query('SELECT batch_id, dataset_drift FROM drift_results WHERE model = $1 ORDER BY checked_at', [model]);
  assert.deepEqual(results.rows, [{ batch_id: 'winter-2013', dataset_drift: false }, { batch_id: 'summer-2012', dataset_drift: true }]);
  const decisions = await stack.db.query(`SELECT kind FROM monitor_decisions WHERE model = $1 ORDER BY seq`, [model]);
  assert.ok(decisions.rows.map((r) => r.kind).includes('retrain-started'));

  // A manual retrain sent twice with one request id starts one retrain (cooldown does not apply to people).
  await requestRetrain(stack.client, model, { reason: 'new labels', by: 'alice', requestId: 'req-1' });
  await requestRetrain(stack.client, model, { reason: 'new labels', by: 'alice', requestId: 'req-1' });
  const manual = await waitFor('the manual retrain to finish', async () => {
    const s = await monitorStatus(stack.client, model);
    return s.decisions.filter((d) => d.kind === 'retrain-finished').length === 2 ? s : undefined;
  });
  assert.equal(manual.decisions.filter((d) => d.kind === 'retrain-started').length, 2);

  // Three different requests at once, from parallel clients: exactly one retrain starts; the
  // others are refused while it runs (or by the daily cap of 3), each decision recorded.
  await Promise.all(['c-1', 'c-2', 'c-3'].map((id) => requestRetrain(stack.client, model, { reason: `burst ${id}`, by: 'bob', requestId: id })));
  const burst = await waitFor('the burst to be decided', async () => {
    const s = await monitorStatus(stack.client, model);
    const burstDecisions = s.decisions.filter((d) => d.reason.includes('burst'));
    return burstDecisions.length === 3 ? s : undefined;
  });
  assert.equal(burst.decisions.filter((d) => d.kind === 'retrain-started').length, 3, 'one more retrain, not three');
  assert.equal(burst.decisions.filter((d) => d.kind === 'retrain-skipped' && d.reason.includes('burst')).length, 2);

  // Batch scoring tells the monitor by itself when it ends.
  const scoring = await startRun(stack, batchScoring, { model: `${model}@champion`, dataset: { name: 'weather-winter-2013' } });
  const scored = await scoring.result();
  assert.equal(scored.outputs.monitorNotified, true);
  await waitFor('the scored batch to reach the monitor', async () => {
    const s = await monitorStatus(stack.client, model);
    return s.recent.some((r) => r.batchId === scoring.workflowId) ? true : undefined;
  });

  // The policy update is validated.
  const handle = stack.client.workflow.getHandle(`drift-monitor-${model}`);
  await assert.rejects(handle.executeUpdate(setPolicyUpdate, { args: [{ driftShare: 2 }] }), (e: Error) => /driftShare/.test(String((e.cause as Error | undefined)?.message)));
  const updated = await handle.executeUpdate(setPolicyUpdate, { args: [{ consecutive: 3 }] });
  assert.equal(updated.consecutive, 3);

  // The monitor's real history (signals, drift checks, two child retrains, an update) replays
  // against the current workflow code; SLUICE_RECORD_FIXTURES=1 also keeps it as a fixture.
  const json = await run_(findTemporalCli()!, ['workflow', 'show', '--address', stack.temporal.address, '-w', handle.workflowId, '--output', 'json']);
  // The monitor calls detect-drift through callStep, so with the signature's own options (it once
  // built the call by hand, with another heartbeat timeout and a shorter non-retryable list).
  type Scheduled = { activityType: { name: string }; startToCloseTimeout: string; heartbeatTimeout: string; retryPolicy: { maximumAttempts: number; nonRetryableErrorTypes: string[] } };
  const checks = (JSON.parse(json) as { events: { activityTaskScheduledEventAttributes?: Scheduled }[] }).events
    .flatMap((e) => (e.activityTaskScheduledEventAttributes?.activityType.name === detectDriftStep.name ? [e.activityTaskScheduledEventAttributes] : []));
  const declared = stepOptions(detectDriftStep);
  const seconds = (d: string) => `${durationMs(d) / 1000}s`;
  assert.ok(checks.length >= 2, `drift checks scheduled: ${checks.length}`);
  for (const a of checks) {
    assert.equal(a.startToCloseTimeout, seconds(declared.startToCloseTimeout));
    assert.equal(a.heartbeatTimeout, seconds(declared.heartbeatTimeout!));
    assert.equal(a.retryPolicy.maximumAttempts, declared.retry.maximumAttempts);
    assert.deepEqual(a.retryPolicy.nonRetryableErrorTypes, nonRetryableErrorTypes(declared.retry.nonRetryableErrorTypes));
  }
  const bundle = process.env.SLUICE_WORKFLOW_BUNDLE;
  await Worker.runReplayHistory(bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: path.join(projectRoot, 'workflows', 'index.ts') }, JSON.parse(json), handle.workflowId);
  if (process.env.SLUICE_RECORD_FIXTURES) fs.writeFileSync(path.join(projectRoot, 'test', 'fixtures', 'histories', `${handle.workflowId}.json`), json);
});

test('scheduled scoring windows drift differently; labels with a shifted outcome rate retrain on the accumulated window', async () => {
  const model = 'weather-windows';
  const features = ['precipitation', 'temp_max', 'temp_min', 'wind'];
  const weather = pl.readCSV(path.join(projectRoot, 'node_modules', 'vega-datasets', 'data', 'seattle-weather.csv')).filter(pl.col('weather').isIn(['rain', 'sun']));
  const between = (from: string, to: string) => weather.filter(pl.col('date').gtEq(pl.lit(from)).and(pl.col('date').lt(pl.lit(to))));
  between('2012-01-01', '2013-01-01').writeCSV(path.join(dir, 'weather-2012.csv'));
  weather.writeCSV(path.join(dir, 'weather-all.csv'));
  // Quarterly runs score [scheduled − 91d, scheduled): Q1 = [2012-12-31, 2013-04-01), Q2 = [2013-04-01, 2013-07-01).
  const q1 = between('2012-12-31', '2013-04-01');
  const q2 = between('2013-04-01', '2013-07-01');
  // Labels: Q1 as observed; Q2's inputs as they were, but every outcome rain (the outcome rate moved, the inputs did not).
  q1.select('date', 'weather').writeCSV(path.join(dir, 'labels-q1.csv'));
  q2.select(pl.col('date'), pl.lit('rain').alias('weather')).writeCSV(path.join(dir, 'labels-q2.csv'));

  const trainingParams = { model, target: 'weather', features, search: {}, gbdt: { nEstimators: 30, minDataInLeaf: 5 }, gates: [{ metric: 'accuracy', op: '>=' as const, value: 0 }], promoteMetric: 'accuracy' };
  const first = await run(trainModel, { ...trainingParams, source: { kind: 'file', path: path.join(dir, 'weather-2012.csv') }, dataset: 'weather-windows-2012' });
  assert.equal(first.outputs.promoted, true);
  await ensureMonitor(stack.client, stack.workers.config, {
    model,
    reference: first.outputs.trainingData,
    target: 'weather',
    trainingParams,
    policy: { consecutive: 10, driftShare: 0.75, columns: features, retrainWindow: '182d', labelDrift: false, performance: { metric: 'accuracy', minValue: 0.5 } },
  });
  const all = await ingest('weather-all.csv', 'weather-all');

  // A quarterly schedule, backfilled over two quarters: each run scores its own window and tells the monitor.
  const schedule = await createSchedule(stack.client, stack.workers.config, await loadRegistry(stack.workers.config), {
    id: uniqueId('weather-quarterly-'),
    pipeline: 'batch-scoring',
    cron: '0 0 1 1,4,7,10 *',
    input: { model: `${model}@champion`, dataset: { name: 'weather-all' }, partition: { timeColumn: 'date', window: '91d' }, keep: ['date'] },
    paused: true,
  });
  await schedule.backfill({ start: new Date('2013-03-31T12:00:00Z'), end: new Date('2013-07-01T12:00:00Z'), overlap: 'ALLOW_ALL' });
  const scored = await waitFor('both scheduled runs to be checked', async () => {
    const s = await monitorStatus(stack.client, model);
    return s.recent.length === 2 && s.scored?.length === 2 ? s : undefined;
  }, 240_000);
  await schedule.delete();
  const byEnd = new Map(scored.scored!.map((b) => [b.window?.end, b]));
  const b1 = byEnd.get('2013-04-01T00:00:00.000Z')!;
  const b2 = byEnd.get('2013-07-01T00:00:00.000Z')!;
  assert.ok(b1 && b2, `windows: ${scored.scored!.map((b) => JSON.stringify(b.window)).join(' ')}`);
  assert.deepEqual([b1.window?.start, b1.rows, b2.rows], ['2012-12-31T00:00:00.000Z', q1.height, q2.height], 'each batch is the rows its run scored');
  assert.equal(b1.dataset.name, all.name);
  const results = await stack.db.query('SELECT batch_id, columns, report_uri FROM drift_results WHERE model = $1', [model]);
  const drift1 = results.rows.find((r) => r.batch_id === b1.batchId)!;
  const drift2 = results.rows.find((r) => r.batch_id === b2.batchId)!;
  // Drift compared exactly each window with the reference, so the two quarters' reports differ.
  assert.equal(drift1.columns.temp_max.currentCount, q1.height);
  assert.equal(drift2.columns.temp_max.currentCount, q2.height);
  assert.notEqual(drift1.columns.temp_max.statistic, drift2.columns.temp_max.statistic);
  assert.notEqual(drift1.report_uri, drift2.report_uri);

  // Q1's labels as observed: accuracy measured on Q1's predictions, nothing starts.
  await sendLabels(stack.client, model, { batchId: 'labels-q1', labels: { source: { path: path.join(dir, 'labels-q1.csv') }, key: 'date' } });
  const afterQ1 = await waitFor('Q1 labels to be checked', async () => {
    const s = await monitorStatus(stack.client, model);
    return s.decisions.find((d) => d.kind === 'labels-checked' || (d.kind === 'rejected' && d.reason.includes('labels-q1'))) ? s : undefined;
  });
  const q1Check = afterQ1.decisions.find((d) => d.kind === 'labels-checked');
  assert.ok(q1Check, `labels decision: ${JSON.stringify(afterQ1.decisions.at(-1))}`);
  const q1Batches = q1Check.numbers?.batches as { batchId: string; rows: number; metrics: Record<string, number>; labelDrift: { drift: boolean } }[];
  assert.deepEqual(
    q1Batches.map((b) => [b.batchId, b.rows]),
    [[b1.batchId, q1.height]],
    'Q1 labels join Q1 predictions only',
  );
  assert.ok(q1Batches[0]!.metrics.accuracy! > 0.5 && q1Batches[0]!.metrics.roc_auc! > 0.5, JSON.stringify(q1Batches[0]!.metrics));
  assert.ok(!afterQ1.decisions.some((d) => d.kind === 'retrain-started'));

  // monitor policy --set: label drift on, a lower bar for accuracy (nested key), round-tripped; a bad value is refused naming its key.
  const policy = await setPolicy(stack.client, model, policyPatch(afterQ1.policy, ['labelDrift=true', 'performance.minValue=0.3']));
  assert.deepEqual([policy.labelDrift, policy.performance, policy.retrainWindow], [true, { metric: 'accuracy', minValue: 0.3 }, '182d']);
  assert.deepEqual((await monitorStatus(stack.client, model)).policy, policy);
  await assert.rejects(setPolicy(stack.client, model, policyPatch(policy, ['retrainWindow=ninety'])), (e: Error) => /retrainWindow/.test(String((e.cause as Error | undefined)?.message)));

  // A payload that does not fit is recorded as rejected, naming the field; the monitor goes on.
  await stack.client.workflow.getHandle(`drift-monitor-${model}`).signal(batchScored, { batchId: '', dataset: all } as never);
  const rejected = await waitFor('the bad signal to be rejected', async () => (await monitorStatus(stack.client, model)).decisions.find((d) => d.kind === 'rejected'));
  assert.match(rejected.reason, /batchScored signal rejected: batchId: /);

  // Q2's labels say it always rained: the outcome rate drifted from the reference's, a retrain starts.
  await sendLabels(stack.client, model, { batchId: 'labels-q2', labels: { source: { path: path.join(dir, 'labels-q2.csv') }, key: 'date' } });
  const retrained = await waitFor('the label-drift retrain to finish', async () => {
    const s = await monitorStatus(stack.client, model);
    return s.decisions.some((d) => d.kind === 'retrain-finished') ? s : undefined;
  }, 240_000);
  const q2Check = retrained.decisions.filter((d) => d.kind === 'labels-checked').at(-1)!;
  const q2Batch = (q2Check.numbers?.batches as { batchId: string; labelDrift: { drift: boolean; currentRate: Record<string, number> } }[]).find((b) => b.batchId === b2.batchId)!;
  assert.equal(q2Batch.labelDrift.drift, true, q2Check.reason);
  assert.deepEqual(q2Batch.labelDrift.currentRate, { rain: 1 });
  const started = retrained.decisions.find((d) => d.kind === 'retrain-started')!;
  assert.equal(started.numbers?.trigger, 'label-drift', started.reason);

  // The retrain learns from the accumulated labelled window (Q1 and Q2), evaluated on the newest quarter.
  const labelled = (await stack.db.query(`SELECT version, uri, rows FROM dataset_versions WHERE name = $1 ORDER BY version DESC LIMIT 1`, [`${model}.labelled`])).rows[0];
  assert.equal(labelled.rows, q1.height + q2.height, 'both labelled quarters accumulated');
  const child = (await stack.db.query('SELECT params FROM runs WHERE workflow_id = $1', [started.numbers?.workflowId])).rows[0];
  assert.deepEqual(child.params.source, { kind: 'artifact', uri: labelled.uri, format: 'parquet' });
  assert.deepEqual(child.params.evaluation, { column: 'date', from: '2013-04-01T00:00:00.000Z', to: '2013-07-01T00:00:00.000Z', trainFrom: new Date(Date.parse('2013-07-01T00:00:00Z') - 182 * 86_400_000).toISOString() });
  const done = retrained.decisions.find((d) => d.kind === 'retrain-finished')!;
  assert.doesNotMatch(done.reason, /failed/, done.reason);
  const trainRows = (await stack.db.query(`SELECT rows FROM dataset_versions WHERE name = $1 ORDER BY version DESC LIMIT 1`, [`${model}-data.train`])).rows[0]?.rows;
  assert.equal(trainRows, q1.height, 'trained on the window before the newest quarter (Q1 within the 182 days)');
});
