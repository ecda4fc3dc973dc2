import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pl from 'nodejs-polars';
import { LocalArtifactStore } from '../infra/artifacts/index';
import { createPool, type Db } from '../infra/db/pool';
import { projectRoot } from '../infra/paths';
import { writeFrame } from '../activities/data/frames';
import type { DatasetRef } from '../pipelines/steps/dataset';
import { trainGbdtStep, trainLogisticStep } from '../pipelines/steps/training';
import { gbdtCheckpoint } from '../pipelines/steps/training-checkpoint';
import type { AnyStep } from '../pipelines/dsl/step';
import { createLogger, type Logger } from '../infra/log';
import type { TrainingHeartbeat } from '../activities/training/checkpoint';
import { runGbdt, runLogistic, trainGbdtImpl, trainLogisticImpl } from '../activities/training/index';
import { testStepContext } from './helpers/step-context';
import { tempDir } from './helpers/stack';

/**
 * A retried training resumes from the checkpoint its previous attempt heartbeated, and ends with
 * exactly the model an uninterrupted run makes. Checkpoints are taken from the heartbeats that
 * testStepContext records and passed through JSON, as Temporal would carry them.
 */

const DATA = path.join(projectRoot, 'node_modules', 'vega-datasets', 'data');

let store: LocalArtifactStore;
let db: Db;
let root: string;
let seattle: DatasetRef;
/** A first attempt, or a retry from the heartbeat details given, parsed as the step's runtime parses them. */
const ctx = <S extends AnyStep>(step: S, checkpoint?: unknown, log?: Logger) => testStepContext({ store, db }, { step, checkpoint, attempt: checkpoint ? 2 : 1, ...(log ? { log } : {}) });

before(async () => {
  root = tempDir('training-resume');
  store = await LocalArtifactStore.open(path.join(root, 'artifacts'));
  db = createPool('postgres://unused@127.0.0.1:1/unused'); // never connected: training does not use the database
  const rows = pl.readCSV(path.join(DATA, 'seattle-weather.csv')).toRecords() as Record<string, unknown>[];
  rows.forEach((r, i) => {
    if (i % 11 === 4) r.wind = null;
    if (i % 29 === 9) r.precipitation = null;
  });
  const df = pl.DataFrame(rows);
  const ref = await writeFrame(store, df);
  seattle = { ...ref, name: 'seattle', version: 1, rows: df.height, schema: [] };
});
after(async () => {
  await db.end();
  fs.rmSync(root, { recursive: true, force: true });
});

const beats = (c: { heartbeats: unknown[] }) => c.heartbeats as TrainingHeartbeat[];
const viaJson = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** The last heartbeat at or before `iteration` that carries a checkpoint taken at that round or earlier. */
function heartbeatAround(hbs: TrainingHeartbeat[], iteration: number): TrainingHeartbeat {
  const hb = [...hbs].reverse().find((h) => h.iteration <= iteration && (h.checkpoint || h.checkpointRef));
  assert.ok(hb, `no checkpoint by iteration ${iteration}`);
  return hb;
}

const checkpointIteration = async (hb: TrainingHeartbeat) =>
  hb.checkpoint ? hb.checkpoint.iteration : gbdtCheckpoint.checkpoint.parse(JSON.parse((await store.getBuffer(hb.checkpointRef!)).toString('utf8'))).iteration;

describe('gbdt resumes from a mid-way checkpoint', () => {
  const params = { nEstimators: 40, subsample: 0.8, colsample: 0.75, earlyStoppingRounds: 0, seed: 3 };
  const gbdt = (p: Record<string, unknown> = {}) =>
    trainGbdtStep.input.parse({ train: seattle, target: 'weather', features: ['precipitation', 'temp_max', 'temp_min', 'wind'], params: { ...params, ...p } });
  const opts = { checkpoint: { every: 5, minIntervalMs: 0 } };

  test('heartbeats report every round and carry the latest checkpoint; the resumed run continues from it and builds the same model', async () => {
    const full = ctx(trainGbdtStep);
    const a = await runGbdt(gbdt(), full, opts);
    const hbs = beats(full);
    assert.deepEqual(hbs.map((h) => h.iteration), Array.from({ length: 40 }, (_, i) => i + 1));
    assert.ok(hbs.every((h) => h.phase === 'training' && h.trainer === 'gbdt' && h.of === 40 && typeof h.trainLoss === 'number'));
    assert.equal(hbs[3]!.checkpoint, undefined, 'no checkpoint before round 5');
    assert.equal(hbs[4]!.checkpoint?.iteration, 5);
    assert.equal(hbs[6]!.checkpoint?.iteration, 5, 'the latest checkpoint rides on later heartbeats');
    assert.ok(JSON.stringify(hbs[39]).length < 1024 * 1024, 'checkpoints stay far below the payload limit');

    const mid = viaJson(heartbeatAround(hbs, 22));
    assert.equal(mid.checkpoint?.iteration, 20);
    const resumed = ctx(trainGbdtStep, mid);
    const b = await runGbdt(gbdt(), resumed, opts);
    assert.equal(beats(resumed)[0]!.iteration, 21, 'continues with round 21');
    assert.equal(beats(resumed).length, 20);
    assert.equal(b.model.sha256, a.model.sha256, 'same ONNX bytes as the uninterrupted run');
    assert.equal(b.modelJson.sha256, a.modelJson.sha256);
    assert.deepEqual(b.metrics, a.metrics);
  });

  test('a checkpoint too large for a heartbeat goes to the artifact store, and resuming from its ref works', async () => {
    const o = { checkpoint: { every: 5, minIntervalMs: 0, inlineLimit: 2048 } };
    const full = ctx(trainGbdtStep);
    const a = await runGbdt(gbdt(), full, o);
    const mid = viaJson(heartbeatAround(beats(full), 30));
    assert.equal(mid.checkpoint, undefined);
    assert.ok(mid.checkpointRef && (await store.exists(mid.checkpointRef)));
    assert.equal(await checkpointIteration(mid), 30);
    const resumed = ctx(trainGbdtStep, mid);
    const b = await runGbdt(gbdt(), resumed, o);
    assert.equal(beats(resumed)[0]!.iteration, 31);
    assert.equal(b.model.sha256, a.model.sha256);
  });

  test('with early stopping, resuming after the best round still returns the best model', async () => {
    const es = gbdt({ nEstimators: 300, learningRate: 0.3, earlyStoppingRounds: 8, validationFraction: 0.25 });
    const full = ctx(trainGbdtStep);
    const a = await runGbdt(es, full, opts);
    assert.ok(a.metrics.iterations < 300 && a.metrics.best_iteration < a.metrics.iterations);
    const mid = viaJson(heartbeatAround(beats(full), a.metrics.iterations - 1));
    assert.ok(mid.checkpoint!.iteration > a.metrics.best_iteration, 'checkpoint taken after the best round');
    const b = await runGbdt(es, ctx(trainGbdtStep, mid), opts);
    assert.equal(b.model.sha256, a.model.sha256);
    assert.deepEqual(b.metrics, a.metrics);
  });

  test('a checkpoint for other input is ignored (training starts over), and so is foreign heartbeat data', async () => {
    const full = ctx(trainGbdtStep);
    await runGbdt(gbdt(), full, opts);
    const mid = viaJson(heartbeatAround(beats(full), 20));
    const other = ctx(trainGbdtStep, mid);
    const changed = gbdt({ seed: 4 });
    const c = await runGbdt(changed, other, opts);
    assert.equal(beats(other)[0]!.iteration, 1);
    const fresh = await runGbdt(changed, ctx(trainGbdtStep), opts);
    assert.equal(c.model.sha256, fresh.model.sha256);
    const junk = ctx(trainGbdtStep, { progress: 0.5 });
    await runGbdt(gbdt(), junk, opts);
    assert.equal(beats(junk)[0]!.iteration, 1);
  });

  test('a checkpoint written by older code (format 1: trees without category sets) fails the step\'s schema: a warning, and training starts over', async () => {
    const full = ctx(trainGbdtStep);
    const a = await runGbdt(gbdt(), full, opts);
    const mid = viaJson(heartbeatAround(beats(full), 20));
    const older = { ...mid, checkpoint: { ...mid.checkpoint!, format: 'sluice.training-checkpoint/1' } };
    const lines: string[] = [];
    const retry = ctx(trainGbdtStep, older, createLogger({}, 'warn', (l) => void lines.push(l)));
    assert.equal(retry.checkpoint, undefined, 'the runtime hands over no checkpoint');
    assert.ok(lines.some((l) => l.includes('no checkpoint of step train.gbdt; starting over') && l.includes('checkpoint.format')), lines.join('\n'));
    const b = await runGbdt(gbdt(), retry, opts);
    assert.equal(beats(retry)[0]!.iteration, 1, 'starts over from round 1');
    assert.equal(b.model.sha256, a.model.sha256);
  });

  test('a stored checkpoint (by ref) of an older format is refused too, with a warning', async () => {
    const older = { format: 'sluice.training-checkpoint/1', trainer: 'gbdt', key: 'k', iteration: 5, state: { iteration: 5, trees: [] } };
    const checkpointRef = await store.putContent(JSON.stringify(older), { contentType: 'application/json' });
    const lines: string[] = [];
    const retry = ctx(trainGbdtStep, { phase: 'training', trainer: 'gbdt', iteration: 7, of: 40, checkpointRef }, createLogger({}, 'warn', (l) => void lines.push(l)));
    assert.deepEqual(retry.checkpoint, { checkpointRef }, 'the heartbeat itself fits: the ref is read when training starts');
    await runGbdt(gbdt(), retry, opts);
    assert.equal(beats(retry)[0]!.iteration, 1);
    assert.ok(lines.some((l) => l.includes('stored training checkpoint does not fit')), lines.join('\n'));
  });

  test('the registered implementation heartbeats checkpoints with its defaults', async () => {
    const c = ctx(trainGbdtStep);
    await trainGbdtImpl.run(gbdt(), c);
    const hbs = beats(c);
    assert.equal(hbs.length, 40);
    assert.equal(hbs[9]!.checkpoint?.iteration, 10);
  });
});

describe('logistic regression resumes from a mid-way checkpoint', () => {
  test('weights + L-BFGS memory + iteration: the resumed run ends where the uninterrupted one does', async () => {
    const input = trainLogisticStep.input.parse({ train: seattle, target: 'weather', features: ['precipitation', 'temp_max', 'temp_min', 'wind'], params: { tol: 1e-9, maxIter: 300 } });
    const opts = { checkpoint: { every: 3, minIntervalMs: 0 } };
    const full = ctx(trainLogisticStep);
    const a = await runLogistic(input, full, opts);
    const hbs = beats(full);
    assert.ok(a.metrics.iterations >= 10, `enough iterations to interrupt (${a.metrics.iterations})`);
    const at = Math.floor(a.metrics.iterations / 2);
    const mid = viaJson(heartbeatAround(hbs, at));
    const from = mid.checkpoint!.iteration;
    const resumed = ctx(trainLogisticStep, mid);
    const state = resumed.checkpoint?.checkpoint?.state;
    assert.equal(state?.iteration, from);
    assert.ok(state && state.w.length > 0);
    const b = await runLogistic(input, resumed, opts);
    assert.equal(beats(resumed)[0]!.iteration, from + 1);
    assert.equal(b.model.sha256, a.model.sha256);
    assert.deepEqual(b.metrics, a.metrics);

    // and through the registered implementation (default cadence)
    const c = ctx(trainLogisticStep);
    const d = await trainLogisticImpl.run(input, c);
    assert.equal(d.model.sha256, a.model.sha256);
  });
});
