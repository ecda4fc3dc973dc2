import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCheckpoint } from '../activities/runtime/step-activity';
import { greetStep } from '../pipelines/hello';
import { passStep } from '../pipelines/util/steps';

/** The step runtime parses the previous attempt's heartbeat once, with the step's checkpoint schema. */
const log = { notes: [] as string[], info(msg: string) { this.notes.push(msg); } };

test('a heartbeat that fits the step’s checkpoint schema is handed over parsed', () => {
  assert.deepEqual(readCheckpoint(greetStep, { elapsedMs: 1200, extra: 'dropped' }, log), { elapsedMs: 1200 });
});

test('one that does not fit is dropped with a note, so the step starts over', () => {
  log.notes.length = 0;
  assert.equal(readCheckpoint(greetStep, { elapsedMs: 'soon' }, log), undefined);
  assert.equal(readCheckpoint(greetStep, 'junk', log), undefined);
  assert.equal(log.notes.length, 2);
  assert.equal(readCheckpoint(greetStep, undefined, log), undefined, 'no heartbeat: no checkpoint, no note');
  assert.equal(log.notes.length, 2);
});

test('a step without a schema gets the details as they were', () => {
  const raw = { anything: [1, 2] };
  assert.equal(readCheckpoint(passStep, raw, log), raw);
});
