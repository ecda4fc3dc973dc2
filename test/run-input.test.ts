import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRunInput } from '../pipelines/dsl/run-input';
import { hello } from '../pipelines/hello';

test('run input: defaults applied, run options split off, every bad field named', () => {
  assert.deepEqual(checkRunInput(hello, {}), { ok: true, params: { name: 'world', delayMs: 0 }, options: {} });
  assert.deepEqual(checkRunInput(hello, { name: 'A', _sluice: { force: ['greet'] } }), { ok: true, params: { name: 'A', delayMs: 0 }, options: { force: ['greet'] } });
  const bad = checkRunInput(hello, { name: 5, _sluice: { force: 'yes' } });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.message : '', /invalid params for pipeline hello: _sluice\.force: .*; name: /);
  const notObject = checkRunInput(hello, [1, 2]);
  assert.match(!notObject.ok ? notObject.message : '', /must be one JSON object, got an array/);
});
