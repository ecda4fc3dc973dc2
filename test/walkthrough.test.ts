import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { resolveEvaluationData } from '../activities/data/resolve-evaluation';
import { monitorStatus } from '../cli/monitor';
import { openArtifactStore } from '../infra/artifacts';
import { projectRoot } from '../infra/paths';
import type { MonitorDecision, MonitorStatus } from '../pipelines/monitor/protocol';
import { resolveEvaluationDataStep } from '../pipelines/steps/evaluation-data';
import { testStepContext } from './helpers/step-context';
import { startTestStack, tempDir, type TestStack } from './helpers/stack';
import { waitFor } from './helpers/wait-for';
/** The walk-through's stages (a schedule's backfill, a retrain) take minutes on a loaded machine. */
const waitForLong = <T>(what: string, fn: () => Promise<T | undefined>) => waitFor(what, fn, 180_000);

/**
 * The README's walk-through, run as written: its JSON files and `npx sluice …` commands are read
 * from the README section itself, so the README stays true. A real public dataset (vega-datasets'
 * flights-10k, January to March 2001) goes from the raw file to a scheduled, monitored model that
 * retrains itself: derived features, label and key; an explicit evaluation week; a weekly
 * schedule backfilled over three weeks, each scoring its own week (the drift reports differ);
 * labels arriving; a retrain started by the policy on the accumulated window, promoted only if
 * it beats the champion.
 */
const SECTION = 'Walk-through: your own data, end to end';
const MODEL = 'flight-delays';

let stack: TestStack;
let dir: string;

before(async () => {
  dir = tempDir('walkthrough');
  stack = await startTestStack(); // both workers: train-model's trials run on the GPU queue
});
after(async () => {
  await stack?.client.schedule.getHandle('flights-weekly').delete().catch(() => undefined);
  await stack?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The walk-through as the README has it: its params files by name and its commands in order. */
function readWalkthrough(): { files: Map<string, unknown>; commands: string[][] } {
  const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${SECTION}\n`);
  assert.ok(start >= 0, `README has a section "${SECTION}"`);
  const end = readme.indexOf('\n## ', start + 1);
  const text = readme.slice(start, end < 0 ? undefined : end);
  const files = new Map<string, unknown>();
  // A file is a ```json block after the last `name.json` named before it.
  let named: string | undefined;
  for (const m of text.matchAll(/`([\w.-]+\.json)`|```json\n([\s\S]*?)\n```/g)) {
    if (m[1]) named = m[1];
    else {
      assert.ok(named, 'every JSON block of the walk-through is named by a file before it');
      files.set(named, JSON.parse(m[2]!));
      named = undefined;
    }
  }
  const commands: string[][] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)\n```/g)) {
    for (const line of block[1]!.split('\n')) {
      if (!line.startsWith('npx sluice ')) continue;
      const words = [...line.slice('npx sluice '.length).matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((w) => w[1] ?? w[2] ?? w[3]!);
      const comment = words.findIndex((w) => w.startsWith('#'));
      commands.push(comment < 0 ? words : words.slice(0, comment));
    }
  }
  return { files, commands };
}

interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** `npx sluice …` as a user runs it, against the test stack; file names of the walk-through are its files. */
function sluice(args: string[], files: Map<string, unknown>): Promise<CliResult> {
  const argv = args.map((a) => (files.has(a) ? path.join(dir, a) : a));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(projectRoot, 'cli', 'sluice.mjs'), ...argv], { cwd: projectRoot, env: { ...stack.workers.env, SLUICE_USER: 'ada' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}


/** The raw file as plain rows, to count what each stage must have kept. */
interface Flight {
  date: string;
  delay: number;
  distance: number;
  origin: string;
  destination: string;
}
const flights = JSON.parse(fs.readFileSync(path.join(projectRoot, 'node_modules', 'vega-datasets', 'data', 'flights-10k.json'), 'utf8')) as Flight[];
/** `2001/01/14 21:55` (UTC) as epoch ms. */
const timeOf = (f: Flight) => Date.parse(`${f.date.replace(/\//g, '-').replace(' ', 'T')}:00Z`);
const kept = flights.filter((f) => f.distance >= 100);
const within = (from: string, to: string) => kept.filter((f) => timeOf(f) >= Date.parse(`${from}T00:00:00Z`) && timeOf(f) < Date.parse(`${to}T00:00:00Z`));

test('the README walk-through: raw flights to a scheduled, monitored model that retrains itself', async (t) => {
  const began = Date.now();
  /** Where the time goes (the walk-through is the suite's longest single scenario). */
  const mark = (what: string) => t.diagnostic(`${((Date.now() - began) / 1000).toFixed(1)} s: ${what}`);
  const { files, commands } = readWalkthrough();
  for (const [name, body] of files) fs.writeFileSync(path.join(dir, name), JSON.stringify(body));
  const used = new Set<number>();
  /** Runs the README's next command that starts with `prefix` (each one once, in the README's order). */
  const step = async (prefix: string): Promise<CliResult> => {
    const i = commands.findIndex((c, j) => !used.has(j) && c.join(' ').startsWith(prefix));
    assert.ok(i >= 0, `the walk-through has a command "sluice ${prefix} …"`);
    assert.ok([...used].every((j) => j < i), `"sluice ${commands[i]!.join(' ')}" comes after the commands run before it`);
    used.add(i);
    return sluice(commands[i]!, files);
  };
  const db = stack.db;
  const status = () => monitorStatus(stack.client, MODEL);

  // 1. Train from the raw file: derived features, label and key, short hops filtered out, an explicit evaluation week.
  const trained = await step('run train-model');
  assert.equal(trained.code, 0, trained.err);
  const result = JSON.parse(trained.out.slice(trained.out.indexOf('\n{') + 1, trained.out.lastIndexOf('\n}') + 2)) as {
    outputs: { version: number; promoted: boolean; holdout: Record<string, number>; trainingData: { name: string; version: number; rows: number } };
  };
  assert.deepEqual([result.outputs.version, result.outputs.promoted], [1, true]);
  const ingested = (await db.query(`SELECT rows, schema, source FROM dataset_versions WHERE name = 'flights' ORDER BY version DESC LIMIT 1`)).rows[0];
  assert.equal(ingested.rows, kept.length, 'every flight of 100 miles or more');
  const types = Object.fromEntries((ingested.schema as { name: string; type: string }[]).map((c) => [c.name, c.type]));
  assert.deepEqual([types.date, types.hour, types.weekday, types.late, types.flight], ['timestamp', 'int64', 'int64', 'bool', 'string'], JSON.stringify(types));
  assert.equal(result.outputs.trainingData.rows, within('2001-01-01', '2001-01-22').length, 'trained on the three weeks before the evaluation week');
  const holdout = (await db.query(`SELECT rows FROM dataset_versions WHERE name = 'flights.holdout' ORDER BY version DESC LIMIT 1`)).rows[0];
  assert.equal(holdout.rows, within('2001-01-22', '2001-01-29').length, 'evaluated on January 22-28');
  assert.ok(result.outputs.holdout.roc_auc! >= 0.5, `registered past its gate: ${JSON.stringify(result.outputs.holdout)}`);
  t.diagnostic(`champion's holdout: ${JSON.stringify(result.outputs.holdout)}`);
  assert.equal(`${result.outputs.trainingData.name}@${result.outputs.trainingData.version}`, 'flights.train@1');

  mark('trained');
  // 2. The monitor and its policy; a retrain asked for before anything was scored says why it cannot start.
  const monitored = await step('monitor start');
  assert.equal(monitored.code, 0, monitored.err);
  // Independent of each other: run at once (each `sluice` process costs seconds of CPU).
  const [early, policy, created] = await Promise.all([step('retrain'), step('monitor policy'), step('schedule create')]);
  assert.equal(early.code, 1, early.out);
  assert.match(early.err, /retrain of flight-delays not started: no data to retrain on yet/);
  assert.ok((await status()).decisions.some((d) => d.kind === 'retrain-skipped' && /no data to retrain on yet/.test(d.reason)));
  assert.equal(policy.code, 0, policy.err);
  const set = JSON.parse(policy.out) as MonitorStatus['policy'];
  assert.deepEqual([set.consecutive, set.performance, set.retrainWindow], [4, { metric: 'roc_auc', minValue: 0.7 }, '21d']);
  // Without columns in a policy, drift compares the training params' features, their declared categoricals as categories.
  assert.deepEqual([set.columns, set.categorical], [['hour', 'weekday', 'distance', 'origin'], ['weekday']]);
  mark('monitor started, early retrain refused, policy set');

  // 3. A weekly schedule, backfilled over three weeks: each run scores its own week and tells the monitor.
  assert.equal(created.code, 0, created.err);
  const backfilled = await step('schedule backfill');
  assert.equal(backfilled.code, 0, backfilled.err);
  const weeks = [
    ['2001-01-29', '2001-02-05'],
    ['2001-02-05', '2001-02-12'],
    ['2001-02-12', '2001-02-19'],
  ] as const;
  mark('schedule created and backfilled');
  const scored = await waitForLong('three scored weeks to be checked for drift', async () => {
    const s = await status();
    return s.recent.length === 3 && s.scored?.length === 3 ? s : undefined;
  });
  const byStart = new Map(scored.scored!.map((b) => [b.window?.start.slice(0, 10), b]));
  for (const [from, to] of weeks) {
    const b = byStart.get(from);
    assert.ok(b, `a batch for the week from ${from}: ${scored.scored!.map((x) => JSON.stringify(x.window)).join(' ')}`);
    assert.deepEqual([b.window?.end.slice(0, 10), b.rows], [to, within(from, to).length], `the week from ${from} scored its own rows`);
  }
  const drift = (await db.query('SELECT batch_id, columns, report_uri FROM drift_results WHERE model = $1', [MODEL])).rows as { batch_id: string; columns: Record<string, { kind: string; statistic: number; currentCount: number }>; report_uri: string }[];
  const reportOf = (from: string) => drift.find((r) => r.batch_id === byStart.get(from)!.batchId)!;
  const [w1, w2] = [reportOf(weeks[0][0]), reportOf(weeks[1][0])];
  assert.deepEqual([w1.columns.hour!.currentCount, w2.columns.hour!.currentCount], [within(...weeks[0]).length, within(...weeks[1]).length], 'each report compared its own week');
  assert.notEqual(w1.columns.distance!.statistic, w2.columns.distance!.statistic);
  assert.deepEqual(Object.keys(w1.columns).sort(), ['distance', 'hour', 'origin', 'weekday'], "the model's inputs, not the time column, the key or the outcome");
  assert.deepEqual([w1.columns.weekday!.kind, w1.columns.origin!.kind, w1.columns.hour!.kind], ['categorical', 'categorical', 'numeric']);
  assert.notEqual(w1.report_uri, w2.report_uri, "two weeks' drift reports differ");
  assert.ok(!scored.decisions.some((d) => d.kind === 'retrain-started'), 'drift alone starts nothing (4 drifted weeks in a row are needed)');

  mark('three weeks scored and checked');
  // 4. Labels arrive: weeks below the policy's bar start a retrain on the accumulated window.
  const labels = await step('monitor labels');
  assert.equal(labels.code, 0, labels.err);
  mark('labels sent');
  const finished = await waitForLong('the retrain to finish', async () => {
    const s = await status();
    return s.decisions.some((d) => d.kind === 'retrain-finished') ? s : undefined;
  });
  const checked = finished.decisions.find((d) => d.kind === 'labels-checked');
  assert.ok(checked, JSON.stringify(finished.decisions.map((d) => [d.kind, d.reason])));
  const perWeek = checked.numbers!.batches as { batchId: string; rows: number; window: { start: string } | null; metrics: Record<string, number> }[];
  assert.deepEqual(
    perWeek.map((b) => [b.window?.start.slice(0, 10), b.rows]),
    weeks.map(([from, to]) => [from, within(from, to).length]),
    'each week joined its labels, oldest first (the last is the newest window, whatever order the runs ended in)',
  );
  for (const b of perWeek) assert.ok(b.metrics.roc_auc! >= 0 && b.metrics.roc_auc! <= 1 && b.metrics.accuracy! >= 0, `week ${b.batchId}: ${JSON.stringify(b.metrics)}`);
  assert.ok(perWeek.some((b) => b.metrics.roc_auc! < 0.7), 'a week below the bar');
  const started = finished.decisions.find((d): d is MonitorDecision => d.kind === 'retrain-started')!;
  assert.equal(started.numbers?.trigger, 'performance', started.reason);
  assert.deepEqual(started.numbers?.evaluation, { column: 'date', from: '2001-02-12T00:00:00.000Z', to: '2001-02-19T00:00:00.000Z', trainFrom: '2001-01-29T00:00:00.000Z' });
  const labelled = (await db.query(`SELECT rows FROM dataset_versions WHERE name = $1 ORDER BY version DESC LIMIT 1`, [`${MODEL}.labelled`])).rows[0];
  assert.equal(labelled.rows, within('2001-01-29', '2001-02-19').length, 'the three labelled weeks accumulated');
  const done = finished.decisions.find((d) => d.kind === 'retrain-finished')!;
  assert.doesNotMatch(done.reason, /failed/, done.reason);
  const retrainRows = (await db.query(`SELECT rows FROM dataset_versions WHERE name = $1 ORDER BY version DESC LIMIT 1`, [`${MODEL}-data.train`])).rows[0];
  assert.equal(retrainRows.rows, within('2001-01-29', '2001-02-12').length, 'the retrain learned from the two weeks before the newest');

  mark('retrain finished');
  // Promoted only if it beats the champion on the newest week: the decision and its numbers.
  const decision = (await db.query(`SELECT challenger_version, champion_version, outcome, metric, challenger_value, champion_value FROM model_decisions WHERE model_name = $1 ORDER BY id DESC LIMIT 1`, [MODEL])).rows[0];
  assert.deepEqual([decision.challenger_version, decision.champion_version, decision.metric], [2, 1, 'roc_auc'], JSON.stringify(decision));
  t.diagnostic(`retrain decision: ${JSON.stringify(decision)}; weeks: ${JSON.stringify(perWeek.map((b) => b.metrics))}`);
  const beats = decision.challenger_value > decision.champion_value;
  assert.equal(decision.outcome, beats ? 'promoted' : 'rejected', JSON.stringify(decision));
  assert.equal(done.numbers?.promoted, beats);
  const champion = (await db.query(`SELECT version FROM model_aliases WHERE model_name = $1 AND alias = 'champion'`, [MODEL])).rows[0]?.version;
  assert.equal(champion, beats ? 2 : 1);
  assert.equal((finished as MonitorStatus).reference.name, beats ? `${MODEL}-data.train` : 'flights.train', 'a promoted retrain becomes the reference');

  // What the user reads: the monitor's status and the model's decisions.
  const [shown, model] = await Promise.all([step('monitor status'), step('models show')]);
  assert.equal(shown.code, 0, shown.err);
  assert.match(shown.out, /labels-checked/);
  assert.match(shown.out, /retrain-finished/);
  assert.equal(model.code, 0, model.err);
  assert.match(model.out, /promotion decisions/);
  mark('status and decisions shown');
  assert.equal(used.size, commands.length, `every command of the walk-through ran: ${commands.filter((_, i) => !used.has(i)).map((c) => c.join(' ')).join('; ')}`);
});

test("an evaluation source is ingested as the training source is: its types, derived label and filter", async () => {
  // train-model hands its schema, derive and filter to dataset.resolve-evaluation: the walk-through's
  // params with the raw file as `evaluation.source` give an evaluation set that has the label.
  const train = readWalkthrough().files.get('flights-train.json') as Pick<z.input<typeof resolveEvaluationDataStep.input>, 'schema' | 'derive' | 'filter'> & { source: unknown };
  const store = await openArtifactStore(stack.workers.config.artifacts);
  const input = resolveEvaluationDataStep.input.parse({ evaluation: { source: train.source, name: 'flights-evaluation' }, dataset: 'flights', schema: train.schema, derive: train.derive, filter: train.filter });
  const out = await resolveEvaluationData.run(input, testStepContext({ store, db: stack.db }, { step: resolveEvaluationDataStep }));
  assert.equal(out.dataset?.rows, kept.length, 'filtered as the training rows are');
  const types = Object.fromEntries(out.dataset!.schema.map((c) => [c.name, c.type]));
  assert.deepEqual([types.date, types.late, types.hour, types.flight], ['timestamp', 'bool', 'int64', 'string'], JSON.stringify(types));
});
