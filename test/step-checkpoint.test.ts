import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCheckpoint } from '../activities/runtime/read-checkpoint';
import { greetStep } from '../pipelines/hello';
import { passStep } from '../pipelines/util/steps';
import { ingestStep } from '../pipelines/steps/ingestion';
import { scoreChunkStep, scoringPlanStep } from '../pipelines/steps/scoring';
import { resolveEvaluationDataStep } from '../pipelines/steps/evaluation-data';
import { trainGbdtGpuStep, trainGbdtStep, trainLinearStep, trainLogisticStep } from '../pipelines/steps/training';
import { packTrees } from '../activities/training/gbdt/model';

/** The step runtime parses the previous attempt's heartbeat once, with the step's checkpoint schema. */
const log = { warnings: [] as string[], warn(msg: string) { this.warnings.push(msg); } };

test('a heartbeat that fits the step’s checkpoint schema is handed over parsed', () => {
  assert.deepEqual(readCheckpoint(greetStep, { elapsedMs: 1200, extra: 'dropped' }, log), { elapsedMs: 1200 });
});

test('one that does not fit is dropped with a warning naming the step, so the step starts over', () => {
  log.warnings.length = 0;
  assert.equal(readCheckpoint(greetStep, { elapsedMs: 'soon' }, log), undefined);
  assert.equal(readCheckpoint(greetStep, 'junk', log), undefined);
  assert.equal(log.warnings.length, 2);
  assert.match(log.warnings[0]!, /step hello\.greet; starting over/);
  assert.equal(readCheckpoint(greetStep, undefined, log), undefined, 'no heartbeat: no checkpoint, no warning');
  assert.equal(log.warnings.length, 2);
});

test('a step without a schema gets the details as they were', () => {
  const raw = { anything: [1, 2] };
  assert.equal(readCheckpoint(passStep, raw, log), raw);
  assert.equal(trainLinearStep.checkpoint, undefined, 'train.linear has nothing to resume from');
});

// ---------------------------------------------------------------------------------------------
// The checkpoints the resumable steps declare: what their implementations write parses, and
// what older code wrote (or another step's heartbeat) is refused.

const ref = (c: string) => ({ uri: `cas/${c}`, sha256: c.repeat(64), size: 10 });

test('training: the current formats parse, a GBDT checkpoint of format 1 (before category sets) does not', () => {
  const tree = { feature: [0, -1, -1], bin: [0, 0, 0], cats: [Uint8Array.from([1, 0, 1]), null, null], threshold: [0, 0, 0], left: [1, -1, -1], right: [2, -1, -1], missingLeft: [false, false, false], value: [0, 0.5, -0.5] };
  const state = { iteration: 1, rng: [1, 2, 3, 4], trees: packTrees([tree]), bestIteration: 1, bestLoss: 0.4, history: { train: [0.5], validation: [0.4] }, stopped: false };
  const checkpoint = { format: 'sluice.training-checkpoint/2', trainer: 'gbdt', key: 'k', iteration: 1, state };
  const heartbeat = { phase: 'training', trainer: 'gbdt', iteration: 3, of: 10, trainLoss: 0.45, checkpoint };
  for (const step of [trainGbdtStep, trainGbdtGpuStep]) {
    const parsed = readCheckpoint(step, heartbeat, log);
    assert.deepEqual(parsed, { checkpoint }, 'progress fields are dropped, the checkpoint kept');
    assert.equal(parsed?.checkpoint?.state.trees, state.trees);
  }
  assert.deepEqual(readCheckpoint(trainGbdtStep, { phase: 'training', trainer: 'gbdt', iteration: 2, of: 10 }, log), {}, 'no checkpoint due yet: none');
  assert.deepEqual(readCheckpoint(trainGbdtStep, { checkpointRef: ref('a') }, log), { checkpointRef: ref('a') });

  log.warnings.length = 0;
  const older = { ...heartbeat, checkpoint: { ...checkpoint, format: 'sluice.training-checkpoint/1' } };
  assert.equal(readCheckpoint(trainGbdtStep, older, log), undefined);
  assert.equal(readCheckpoint(trainGbdtStep, { checkpoint: { ...checkpoint, state: { ...state, trees: [tree] } } }, log), undefined, 'trees must be packed');
  assert.equal(readCheckpoint(trainLogisticStep, heartbeat, log), undefined, 'a GBDT checkpoint is no logistic one');
  assert.equal(log.warnings.length, 3);

  const logistic = { format: 'sluice.training-checkpoint/1', trainer: 'logistic', key: 'k', iteration: 2, state: { iteration: 2, w: [0.1, 0.2], s: [[1, 2]], y: [[3, 4]], done: false } };
  assert.deepEqual(readCheckpoint(trainLogisticStep, { phase: 'training', checkpoint: logistic }, log), { checkpoint: logistic });
});

test('ingestion (and the steps that ingest on the way): the conversion left, or nothing yet', () => {
  const converted = { fingerprint: 'f', name: 'ds', data: ref('b'), draft: [{ name: 'a', type: 'int64' }], badRows: 0, filteredRows: 0, sourceRows: 3 };
  const heartbeat = { phase: 'converted', sourceBytes: 12, converted };
  for (const step of [ingestStep, scoringPlanStep, resolveEvaluationDataStep]) {
    assert.deepEqual(readCheckpoint(step, heartbeat, log), { converted });
    assert.deepEqual(readCheckpoint(step, { phase: 'reading source', sourceBytes: 3 }, log), {}, 'before the conversion: nothing to resume');
  }
  // attempts from before filteredRows was counted: still resumable, with 0
  const { filteredRows: _, ...beforeFilters } = converted;
  assert.equal(readCheckpoint(ingestStep, { converted: beforeFilters }, log)?.converted?.filteredRows, 0);
  log.warnings.length = 0;
  assert.equal(readCheckpoint(ingestStep, { converted: { ...converted, data: 'file:///x.parquet' } }, log), undefined, 'data is a ref');
  assert.equal(log.warnings.length, 1);
});

test('scoring.chunk: the parts so far, as refs', () => {
  const checkpoint = { key: 'k', chunk: 0, rowsDone: 50, rows: 200, batches: [{ ...ref('c'), rows: 50 }] };
  assert.deepEqual(readCheckpoint(scoreChunkStep, checkpoint, log), checkpoint);
  log.warnings.length = 0;
  assert.equal(readCheckpoint(scoreChunkStep, { ...checkpoint, batches: [ref('c')] }, log), undefined, 'a part without its row count (older parts)');
  assert.equal(log.warnings.length, 1);
});
