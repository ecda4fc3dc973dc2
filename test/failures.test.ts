import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { toTemporalFailure } from '../activities/runtime/step-activity';
import { DriftInputError } from '../activities/drift/dataset-drift';
import { RegistryError } from '../infra/db/registry';
import { FAILURES, failure, invalidInput, isRetryable, NON_RETRYABLE_FAILURE_TYPES, nonRetryableErrorTypes, SluiceFailure } from '../pipelines/failures';

test('failures: the step runtime turns a domain failure into an ApplicationFailure typed and made non-retryable by the table', () => {
  const f = toTemporalFailure(invalidInput('column "x" is missing', { column: 'x' }));
  assert.ok(f instanceof ApplicationFailure);
  assert.equal(f.type, 'InvalidInput');
  assert.equal(f.nonRetryable, true);
  assert.equal(f.message, 'column "x" is missing');
  assert.deepEqual(f.details, [{ column: 'x' }]);
  assert.deepEqual((toTemporalFailure(invalidInput('no details')) as ApplicationFailure).details, []);

  // Domain error classes are failures of the table too.
  const notFound = toTemporalFailure(new RegistryError('NOT_FOUND', 'no model "m"')) as ApplicationFailure;
  assert.deepEqual([notFound.type, notFound.nonRetryable, notFound.message], ['RegistryNotFound', true, 'no model "m"']);
  assert.equal((toTemporalFailure(new RegistryError('INVALID', 'bad')) as ApplicationFailure).type, 'InvalidInput');
  assert.equal((toTemporalFailure(new RegistryError('CONFLICT', 'stale')) as ApplicationFailure).type, 'RegistryConflict');
  assert.equal((toTemporalFailure(new DriftInputError('columns listed twice: a')) as ApplicationFailure).type, 'InvalidInput');

  // Anything else passes through untouched: infrastructure faults stay retryable.
  const fault = new Error('connection reset');
  assert.equal(toTemporalFailure(fault), fault);
  const already = ApplicationFailure.retryable('busy', 'Busy');
  assert.equal(toTemporalFailure(already), already);
});

test('failures: retryability and the engine retry list come from one table', () => {
  for (const [type, kind] of Object.entries(FAILURES)) {
    assert.ok(kind.meaning.length > 10, `${type} says what it means`);
  }
  assert.equal(isRetryable('SomethingElse'), true, 'a type outside the table is retried, as Temporal does');
  assert.equal(isRetryable(undefined), true);
  for (const t of ['InvalidInput', 'InvalidParams', 'UnknownPipeline', 'StepVersionMismatch']) assert.ok(NON_RETRYABLE_FAILURE_TYPES.includes(t as keyof typeof FAILURES), t);

  const list = nonRetryableErrorTypes(['ValidationFailed', 'Custom']);
  assert.deepEqual(list.slice(0, 2), ['ValidationFailed', 'Custom'], "a step's own types first");
  assert.equal(new Set(list).size, list.length, 'no type twice');
  assert.ok(list.includes('InvalidInput') && list.includes('StepVersionMismatch'));

  // A failure that escapes the runtime unmapped is still named by its type (Temporal names a plain Error by `name`).
  const f = failure('StepVersionMismatch', 'node a wants step s@2');
  assert.ok(f instanceof SluiceFailure && f instanceof Error);
  assert.equal(f.name, 'StepVersionMismatch');
  assert.equal(f.retryable, false);
});
