import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRunInput, MAX_PARAMS_DEPTH, tooDeep } from '../pipelines/dsl/run-input';
import { hello } from '../pipelines/hello';
import { trainModel } from '../pipelines/train-model';

test('run input: defaults applied, run options split off, every bad field named', () => {
  assert.deepEqual(checkRunInput(hello, {}), { ok: true, params: { name: 'world', delayMs: 0 }, options: {} });
  assert.deepEqual(checkRunInput(hello, { name: 'A', _sluice: { force: ['greet'] } }), { ok: true, params: { name: 'A', delayMs: 0 }, options: { force: ['greet'] } });
  const bad = checkRunInput(hello, { name: 5, _sluice: { force: 'yes' } });
  assert.equal(bad.ok, false);
  assert.match(!bad.ok ? bad.message : '', /invalid params for pipeline hello: _sluice\.force: .*; name: /);
  const notObject = checkRunInput(hello, [1, 2]);
  assert.match(!notObject.ok ? notObject.message : '', /must be one JSON object, got an array/);
});

test('run input: an unknown key at any depth is named with where it is and the keys accepted there', () => {
  const message = (input: unknown) => {
    const r = checkRunInput(trainModel, input);
    assert.equal(r.ok, false);
    return r.ok ? '' : r.message;
  };
  // Top level, and the run options beside the params.
  assert.match(message({ holdoutFractoin: 0.2 }), /unknown key "holdoutFractoin" in params; accepted: model, source, dataset, .*target, .*holdoutFraction, orderBy, evaluation, seed/);
  assert.match(message({ _sluice: { forse: true } }), /unknown key "forse" in params\._sluice; accepted: force, cache$/);
  // Nested strict objects, through a union (the one branch the key could belong to) and an array.
  assert.equal(
    message({ evaluation: { column: 'date', from: '2015-04-01', form: '2015-05-01' } }),
    'invalid params for pipeline train-model: unknown key "form" in params.evaluation; accepted: column, from, to, trainFrom',
  );
  assert.match(message({ evaluation: { dataset: { name: 'flights', versoin: 2 } } }), /unknown key "versoin" in params\.evaluation\.dataset; accepted: name, version$/);
  assert.match(message({ evaluation: { source: { kind: 'file', path: 'may.csv' }, nmae: 'may' } }), /unknown key "nmae" in params\.evaluation; accepted: source, name$/);
  assert.match(message({ evaluation: { rows: 5 } }), /evaluation: expected \{ dataset: \{ name, version\? \} \} \(a registered dataset\), \{ source, name\? \}/);
  assert.match(
    message({ suite: { name: 's', expectations: [{ type: 'rowCountBetween', min: 1 }, { type: 'notNull', column: 'a', mostlyy: 0.5, sevrity: 'warn' }] } }),
    /unknown keys "mostlyy", "sevrity" in params\.suite\.expectations\[1\]; accepted: type, column, mostly, severity/,
  );
  // A misspelt training option fails the run instead of training on defaults.
  assert.match(message({ gbdt: { nEstimatorz: 5 } }), /unknown key "nEstimatorz" in params\.gbdt; accepted: task, nEstimators, learningRate, /);
  // Other problems keep their path and zod's message.
  assert.match(message({ evaluation: { column: 'date', from: 'April' } }), /evaluation\.from: expected an ISO 8601 date or time/);
  assert.match(message({ evaluation: { column: 'date', from: '2015-04-01' }, orderBy: 'date' }), /orderBy: orderBy orders a fractional split/);
  const ok = checkRunInput(trainModel, { evaluation: { column: 'date', from: '2015-04-01' } });
  assert.equal(ok.ok && (ok.params.evaluation as { from: string }).from, '2015-04-01');
});

test('run input: params nested deeper than the limit are refused with where, not left to the payload converter', () => {
  let deep: Record<string, unknown> = {};
  const root = deep;
  for (let i = 0; i < MAX_PARAMS_DEPTH + 5; i++) deep = deep.a = {} as Record<string, unknown>;
  const r = checkRunInput(hello, { name: 'x', deep: root });
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.message : '', new RegExp(`params of pipeline hello nest deeper than ${MAX_PARAMS_DEPTH} levels \\(at params\\.deep\\.a\\.a\\.a\\.a\\.a\\.….a\\)`));
  assert.equal(!r.ok && r.issues[0]!.path.length, MAX_PARAMS_DEPTH);
  // Arrays count as levels too, and a value at the limit itself is fine (then other checks apply).
  assert.deepEqual(tooDeep({ a: [[{ b: 1 }]] }, 3), ['a', '[0]', '[0]']);
  assert.equal(tooDeep({ a: [[{ b: 1 }]] }, 4), null);
  const atLimit = checkRunInput(hello, { name: 'x' });
  assert.equal(atLimit.ok, true);
});
