/**
 * Type-level tests of the validation suite builder: checked by `tsc -p tsconfig.json`, never run.
 * Each wrong call carries `@ts-expect-error`; if the builder stopped rejecting it, tsc would fail
 * with "Unused '@ts-expect-error' directive". Correct calls beside them must keep compiling.
 */
import { z } from 'zod';
import { pipeline } from '../../pipelines/dsl/pipeline';
import { step } from '../../pipelines/dsl/step';
import { datasetRef } from '../../pipelines/steps/dataset';
import { suite, validateDatasetStep, type Suite } from '../../pipelines/steps/validation';

export const ok: Suite = suite('types-ok', (e) => [
  e.columnExists('delay'),
  e.columnsMatchSet(['a', 'b'], { exactMatch: false }),
  e.rowCountBetween({ min: 1 }),
  e.rowCountBetween({ max: 10 }),
  e.notNull('origin', { mostly: 0.99, severity: 'warn' }),
  e.unique('id'),
  e.inSet('origin', ['SFO', 'LAX']),
  e.between('distance', { min: 0, max: 5000, strictMin: true }),
  e.between('distance', { max: 5000 }),
  e.matchRegex('code', '^[A-Z]{3}$'),
  e.lengthsBetween('code', { min: 3, max: 3 }),
  e.ofType('delay', 'float64'),
  e.ofType('delay', ['float64', 'int64']),
  e.meanBetween('delay', { min: -10, max: 60 }),
  e.stdevBetween('delay', { max: 100, name: 'delay spread' }),
  e.quantilesBetween('delay', [{ quantile: 0.5, min: 0 }, { quantile: 0.99, max: 300 }]),
  e.greaterThan('temp_max', 'temp_min', { orEqual: true, ignoreRowIf: 'either_value_is_missing' }),
]);

suite('types-bad', (e) => [
  // @ts-expect-error between needs min, max or both
  e.between('distance', {}),
  // @ts-expect-error strict flags alone are no bound
  e.meanBetween('delay', { strictMin: true }),
  // @ts-expect-error rowCountBetween needs a bound
  e.rowCountBetween({}),
  // @ts-expect-error a quantile range needs a bound
  e.quantilesBetween('delay', [{ quantile: 0.5 }]),
  // @ts-expect-error severity is 'error' or 'warn'
  e.notNull('origin', { severity: 'fatal' }),
  // @ts-expect-error 'float' is not a column type of the dataset contract
  e.ofType('delay', 'float'),
  // @ts-expect-error greaterThan compares two columns
  e.greaterThan('temp_max'),
  // @ts-expect-error bounds are numbers
  e.between('distance', { min: '0' }),
  // @ts-expect-error mostly is a share, a number
  e.unique('id', { mostly: '99%' }),
  // @ts-expect-error unknown option
  e.notNull('origin', { mostyl: 0.9 }),
]);

// In a pipeline: the dataset must come from something typed as a DatasetRef.
const ingest = step({ name: 'types.ingest', input: z.object({}), output: z.object({ dataset: datasetRef, note: z.string() }) });
export const p = pipeline({ name: 'types-validate', params: z.object({}) }, (_p, b) => {
  const i = b.step('ingest', ingest, {});
  const v = b.step('validate', validateDatasetStep, { dataset: i.output.dataset, suite: ok });
  b.step('validate-ref', validateDatasetStep, { dataset: i.output.dataset, suite: ok, reference: i.output.dataset, nullRateJump: 0.2 });
  // @ts-expect-error a string is no dataset
  b.step('validate-bad', validateDatasetStep, { dataset: i.output.note, suite: ok });
  return { success: v.output.success, report: v.output.html };
});
