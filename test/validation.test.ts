import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { SluiceFailure } from '../pipelines/failures';
import pl from 'nodejs-polars';
import { openArtifactStore, type ArtifactStore } from '../infra/artifacts';
import { migrate } from '../infra/db/migrate';
import { createPool, type Db } from '../infra/db/pool';
import { getValidationReport, listValidationReports } from '../infra/db/validation';
import { writeFrame } from '../activities/data/frames';
import { columnTypeOf } from '../activities/validation/columns';
import { evaluateExpectation, prepareFrame, SAMPLE_SIZE, type ExpectationResult } from '../activities/validation/expectations';
import { esc } from '../activities/validation/html';
import { describeFailure } from '../activities/validation/report';
import { validationImplementations, type ValidationReport } from '../activities/validation/index';
import { validateDataset } from '../activities/validation/validate';
import type { DatasetRef } from '../pipelines/steps/dataset';
import {
  expectationIds,
  expectations as e,
  suite,
  suiteSchema,
  validateDatasetStep,
  type Expectation,
  type Suite,
} from '../pipelines/steps/validation';
import { tempDir, usePostgres } from './helpers/stack';
import { testStepContext } from './helpers/step-context';

// ---------------------------------------------------------------------------------------------
// Expectations, one by one, against small in-memory frames (hand-computed results)
// ---------------------------------------------------------------------------------------------

const evalOn = (df: pl.DataFrame, x: Expectation): Promise<ExpectationResult> => evaluateExpectation(prepareFrame(df), x, 'under-test');

describe('table expectations', () => {
  const df = pl.DataFrame({ a: [1, 2, 3, 4, 5], b: ['x', 'y', 'z', 'x', 'y'], c: [0.5, 1.5, 2.5, 3.5, 4.5] });

  test('columnExists', async () => {
    assert.equal((await evalOn(df, e.columnExists('a'))).success, true);
    const r = await evalOn(df, e.columnExists('nope'));
    assert.equal(r.success, false);
    assert.deepEqual(r.result.details, { columns: ['a', 'b', 'c'] });
  });

  test('columnsMatchSet: exact by default, superset allowed with exactMatch: false', async () => {
    assert.equal((await evalOn(df, e.columnsMatchSet(['c', 'b', 'a']))).success, true, 'order does not matter');
    const extra = await evalOn(df, e.columnsMatchSet(['a', 'b']));
    assert.equal(extra.success, false);
    assert.deepEqual(extra.result.observed_value, ['a', 'b', 'c']);
    assert.deepEqual(extra.result.details, { mismatched: { missing: [], unexpected: ['c'] } });
    assert.equal((await evalOn(df, e.columnsMatchSet(['a', 'b'], { exactMatch: false }))).success, true);
    const missing = await evalOn(df, e.columnsMatchSet(['a', 'b', 'c', 'd'], { exactMatch: false }));
    assert.equal(missing.success, false);
    assert.deepEqual(missing.result.details, { mismatched: { missing: ['d'], unexpected: [] } });
  });

  test('columnsMatchOrderedList', async () => {
    assert.equal((await evalOn(df, e.columnsMatchOrderedList(['a', 'b', 'c']))).success, true);
    const r = await evalOn(df, e.columnsMatchOrderedList(['a', 'c', 'b']));
    assert.equal(r.success, false);
    assert.deepEqual(r.result.details, {
      mismatched: [
        { position: 1, expected: 'c', found: 'b' },
        { position: 2, expected: 'b', found: 'c' },
      ],
    });
  });

  test('rowCountBetween: inclusive, one bound enough', async () => {
    assert.deepEqual((await evalOn(df, e.rowCountBetween({ min: 5, max: 5 }))).result, { observed_value: 5 });
    assert.equal((await evalOn(df, e.rowCountBetween({ min: 5, max: 5 }))).success, true);
    assert.equal((await evalOn(df, e.rowCountBetween({ min: 1 }))).success, true);
    assert.equal((await evalOn(df, e.rowCountBetween({ max: 4 }))).success, false);
    assert.equal((await evalOn(df, e.rowCountBetween({ min: 6 }))).success, false);
  });
});

describe('map expectations', () => {
  test('notNull counts over all rows; mostly edge: 9 of 10 passes at 0.9, fails at 0.91', async () => {
    const df = pl.DataFrame({ x: [1, 2, null, 4, 5, 6, 7, 8, 9, 10] });
    const at = await evalOn(df, e.notNull('x', { mostly: 0.9 }));
    assert.equal(at.success, true);
    assert.equal(at.result.element_count, 10);
    assert.equal(at.result.unexpected_count, 1);
    assert.equal(at.result.unexpected_percent, 10);
    assert.deepEqual(at.result.partial_unexpected_list, [null]);
    assert.deepEqual(at.result.partial_unexpected_index_list, [2]);
    assert.equal(at.result.missing_count, undefined, 'null checks have no "missing" values');
    assert.equal((await evalOn(df, e.notNull('x', { mostly: 0.91 }))).success, false);
    assert.equal((await evalOn(df, e.notNull('x'))).success, false, 'default mostly is 1');
  });

  test('notNull: NaN in a float column is missing, as in pandas', async () => {
    const r = await evalOn(pl.DataFrame({ f: [1.5, NaN, 3.5] }), e.notNull('f'));
    assert.equal(r.success, false);
    assert.equal(r.result.unexpected_count, 1);
    assert.deepEqual(r.result.partial_unexpected_list, ['NaN']);
    assert.deepEqual(r.result.partial_unexpected_index_list, [1]);
  });

  test('unique: every occurrence of a repeated value is unexpected; nulls excluded (two nulls are no duplicate)', async () => {
    const df = pl.DataFrame({ s: ['a', 'b', 'a', null, null, 'c'] });
    const r = await evalOn(df, e.unique('s'));
    assert.equal(r.success, false);
    assert.deepEqual(
      { ...r.result },
      {
        element_count: 6,
        missing_count: 2,
        missing_percent: (2 / 6) * 100,
        unexpected_count: 2,
        unexpected_percent: 50,
        unexpected_percent_total: (2 / 6) * 100,
        unexpected_percent_nonmissing: 50,
        partial_unexpected_list: ['a', 'a'],
        partial_unexpected_index_list: [0, 2],
        partial_unexpected_counts: [{ value: 'a', count: 2 }],
      },
    );
    assert.equal((await evalOn(df, e.unique('s', { mostly: 0.5 }))).success, true, '(4 − 2) / 4 = 0.5');
    assert.equal((await evalOn(pl.DataFrame({ s: ['a', null, null] }), e.unique('s'))).success, true);
  });

  test('inSet: nulls excluded from the denominator; mostly edge 3/5 = 0.6', async () => {
    const df = pl.DataFrame({ origin: ['SFO', 'LAX', null, 'JFK', 'SFO', '<script>'] });
    const r = await evalOn(df, e.inSet('origin', ['SFO', 'LAX']));
    assert.equal(r.success, false);
    assert.equal(r.result.element_count, 6);
    assert.equal(r.result.missing_count, 1);
    assert.equal(r.result.unexpected_count, 2);
    assert.equal(r.result.unexpected_percent, 40);
    assert.deepEqual(r.result.partial_unexpected_list, ['JFK', '<script>']);
    assert.deepEqual(r.result.partial_unexpected_index_list, [3, 5]);
    assert.deepEqual(r.result.partial_unexpected_counts, [
      { value: '<script>', count: 1 },
      { value: 'JFK', count: 1 },
    ]);
    assert.equal((await evalOn(df, e.inSet('origin', ['SFO', 'LAX'], { mostly: 0.6 }))).success, true);
    assert.equal((await evalOn(df, e.inSet('origin', ['SFO', 'LAX'], { mostly: 0.61 }))).success, false);
  });

  test('inSet: numbers compare by value (1.5 never equals an integer); values of another kind are ignored and said so', async () => {
    const df = pl.DataFrame({ n: pl.Series('n', [1, 2, 3], pl.Int64), cat: pl.Series('cat', ['a', 'b', 'a']).cast(pl.Categorical) });
    const r = await evalOn(df, e.inSet('n', [1, 2.5, '3']));
    assert.deepEqual(r.result.partial_unexpected_list, [2, 3]);
    assert.deepEqual(r.result.details, { ignored_values: ['3'], reason: 'not comparable with a int64 column' });
    const c = await evalOn(df, e.inSet('cat', ['a']));
    assert.deepEqual(c.result.partial_unexpected_list, ['b'], 'categoricals compare as their strings');
  });

  test('between: inclusive by default; strictMin / strictMax exclude the bound; nulls and NaN excluded', async () => {
    const df = pl.DataFrame({ x: [0, 5, 10, null, -1, 11, NaN] });
    const inclusive = await evalOn(df, e.between('x', { min: 0, max: 10 }));
    assert.equal(inclusive.result.element_count, 7);
    assert.equal(inclusive.result.missing_count, 2);
    assert.deepEqual(inclusive.result.partial_unexpected_index_list, [4, 5]);
    assert.deepEqual(inclusive.result.partial_unexpected_list, [-1, 11]);
    assert.equal(inclusive.result.unexpected_percent, 40);
    const strictMin = await evalOn(df, e.between('x', { min: 0, max: 10, strictMin: true }));
    assert.deepEqual(strictMin.result.partial_unexpected_index_list, [0, 4, 5]);
    const strictBoth = await evalOn(df, e.between('x', { min: 0, max: 10, strictMin: true, strictMax: true }));
    assert.deepEqual(strictBoth.result.partial_unexpected_index_list, [0, 2, 4, 5]);
    const onlyMax = await evalOn(df, e.between('x', { max: 5 }));
    assert.deepEqual(onlyMax.result.partial_unexpected_list, [10, 11]);
    assert.equal((await evalOn(df, e.between('x', { min: -1, max: 11 }))).success, true);
    assert.equal((await evalOn(df, e.between('x', { min: 0, max: 10, mostly: 0.6 }))).success, true, '(5 − 2) / 5 = 0.6');
  });

  test('matchRegex searches anywhere (anchor for a full match); only string columns; a bad regex is an exception', async () => {
    const df = pl.DataFrame({ code: ['ABC', 'abc', 'AB1', null, 'XYZ'], n: pl.Series('n', [1, 2, 3, 4, 5], pl.Int64) });
    const r = await evalOn(df, e.matchRegex('code', '^[A-Z]{3}$'));
    assert.deepEqual(r.result.partial_unexpected_list, ['abc', 'AB1']);
    assert.deepEqual(r.result.partial_unexpected_index_list, [1, 2]);
    assert.equal(r.result.missing_count, 1);
    assert.equal((await evalOn(df, e.matchRegex('code', '[A-Z]', { mostly: 0.75 }))).success, true, 'only "abc" lacks a capital: 3/4');
    const wrongType = await evalOn(df, e.matchRegex('n', '1'));
    assert.equal(wrongType.success, false);
    assert.match(wrongType.exception_info?.exception_message ?? '', /column "n" is int64: this expectation needs a string column/);
    const bad = await evalOn(df, e.matchRegex('code', '('));
    assert.equal(bad.success, false);
    assert.match(bad.exception_info?.exception_message ?? '', /regex/);
  });

  test('lengthsBetween counts characters', async () => {
    const r = await evalOn(pl.DataFrame({ s: ['a', 'abcd', '東京', 'abc', null] }), e.lengthsBetween('s', { min: 2, max: 3 }));
    assert.deepEqual(r.result.partial_unexpected_list, ['a', 'abcd']);
    assert.deepEqual(r.result.partial_unexpected_index_list, [0, 1]);
  });

  test('greaterThan: rows with both values missing ignored by default; one missing is unexpected; orEqual; ignoreRowIf', async () => {
    const df = pl.DataFrame({ a: [5, 3, 2, null, null, 4], b: [1, 3, 5, 1, null, null] });
    const r = await evalOn(df, e.greaterThan('a', 'b'));
    assert.equal(r.id, 'under-test');
    assert.equal(r.result.element_count, 6);
    assert.equal(r.result.missing_count, 1);
    assert.equal(r.result.unexpected_count, 4);
    assert.deepEqual(r.result.partial_unexpected_index_list, [1, 2, 3, 5]);
    assert.deepEqual(r.result.partial_unexpected_list, [
      [3, 3],
      [2, 5],
      [null, 1],
      [4, null],
    ]);
    assert.deepEqual((await evalOn(df, e.greaterThan('a', 'b', { orEqual: true }))).result.partial_unexpected_index_list, [2, 3, 5]);
    const either = await evalOn(df, e.greaterThan('a', 'b', { ignoreRowIf: 'either_value_is_missing' }));
    assert.equal(either.result.missing_count, 3);
    assert.deepEqual(either.result.partial_unexpected_index_list, [1, 2]);
    const eitherOrEqual = await evalOn(df, e.greaterThan('a', 'b', { ignoreRowIf: 'either_value_is_missing', orEqual: true, mostly: 2 / 3 }));
    assert.equal(eitherOrEqual.result.unexpected_count, 1);
    assert.equal(eitherOrEqual.success, true, '(3 − 1) / 3 >= 2/3');
    const mismatch = await evalOn(pl.DataFrame({ a: [1], s: ['x'] }), e.greaterThan('a', 's'));
    assert.match(mismatch.exception_info?.exception_message ?? '', /cannot be compared/);
  });

  test(`unexpected samples stop at ${SAMPLE_SIZE}, in row order, with their row indexes; counts stay exact`, async () => {
    const df = pl.DataFrame({ x: Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? 100 + i : 1)) });
    const r = await evalOn(df, e.between('x', { max: 10 }));
    assert.equal(r.result.unexpected_count, 25);
    assert.equal(r.result.partial_unexpected_list?.length, 20);
    assert.deepEqual(
      r.result.partial_unexpected_index_list,
      Array.from({ length: 20 }, (_, i) => 2 * i),
    );
    assert.deepEqual(
      r.result.partial_unexpected_list,
      Array.from({ length: 20 }, (_, i) => 100 + 2 * i),
    );
    assert.equal(r.result.partial_unexpected_counts?.length, 20);
  });

  test('no row to judge is a vacuous success', async () => {
    const r = await evalOn(pl.DataFrame({ x: pl.Series('x', [null, null], pl.Float64) }), e.between('x', { min: 0 }));
    assert.equal(r.success, true);
    assert.equal(r.result.unexpected_percent, null);
  });

  test('a missing column is an exception result, not a crash', async () => {
    const r = await evalOn(pl.DataFrame({ x: [1] }), e.notNull('nope', { severity: 'warn' }));
    assert.equal(r.success, false);
    assert.equal(r.severity, 'warn');
    assert.deepEqual(r.exception_info, { raised_exception: true, exception_message: 'column "nope" not found' });
  });
});

describe('type and aggregate expectations', () => {
  // Non-missing values 1, 2, 3, 4, 10: mean 4, median 3, min 1, max 10, sample stdev sqrt(50 / 4).
  const df = pl.DataFrame({ x: [1, 2, null, 3, 4, NaN, 10], s: ['a', 'b', 'c', 'd', 'e', 'f', 'g'], none: pl.Series('none', Array(7).fill(null), pl.Float64) });

  test('ofType maps polars types onto the dataset contract', async () => {
    assert.equal((await evalOn(df, e.ofType('x', 'float64'))).success, true);
    const r = await evalOn(df, e.ofType('x', 'int64'));
    assert.equal(r.success, false);
    assert.equal(r.result.observed_value, 'float64');
    assert.equal((await evalOn(df, e.ofType('s', ['int64', 'string']))).success, true);
    const types = pl.DataFrame({ i: pl.Series('i', [1], pl.Int32), b: [true], d: [new Date(0)], c: pl.Series('c', ['a']).cast(pl.Categorical) });
    assert.deepEqual(
      types.dtypes.map((d) => columnTypeOf(d)),
      ['int64', 'bool', 'timestamp', 'category'],
    );
  });

  test('observed values skip nulls and NaN', async () => {
    const observed = async (x: Expectation) => (await evalOn(df, x)).result.observed_value;
    assert.equal(await observed(e.meanBetween('x', { min: 0 })), 4);
    assert.equal(await observed(e.medianBetween('x', { min: 0 })), 3);
    assert.equal(await observed(e.minBetween('x', { min: 0 })), 1);
    assert.equal(await observed(e.maxBetween('x', { min: 0 })), 10);
    const sd = (await observed(e.stdevBetween('x', { min: 0 }))) as number;
    assert.ok(Math.abs(sd - Math.sqrt(12.5)) < 1e-12, `stdev ${sd}`);
  });

  test('aggregate bounds: inclusive unless strict', async () => {
    assert.equal((await evalOn(df, e.meanBetween('x', { min: 4, max: 4 }))).success, true);
    assert.equal((await evalOn(df, e.meanBetween('x', { min: 4, strictMin: true }))).success, false);
    assert.equal((await evalOn(df, e.maxBetween('x', { max: 10, strictMax: true }))).success, false);
    assert.equal((await evalOn(df, e.minBetween('x', { min: 0, max: 1 }))).success, true);
    assert.equal((await evalOn(df, e.stdevBetween('x', { max: 3 }))).success, false);
  });

  test('an all-missing column has no observed value and fails; a string column is an exception', async () => {
    const r = await evalOn(df, e.meanBetween('none', { min: 0 }));
    assert.equal(r.success, false);
    assert.equal(r.result.observed_value, null);
    const s = await evalOn(df, e.meanBetween('s', { min: 0 }));
    assert.match(s.exception_info?.exception_message ?? '', /needs a numeric column/);
  });

  test('quantilesBetween: nearest-rank quantiles, each against its own range', async () => {
    const q = pl.DataFrame({ x: [9, 1, 8, 2, null, 7, 3, 6, 4, 5] });
    const r = await evalOn(
      q,
      e.quantilesBetween('x', [
        { quantile: 0, min: 1, max: 1 },
        { quantile: 0.25, min: 2, max: 3 },
        { quantile: 0.5, max: 5 },
        { quantile: 1, min: 10 },
      ]),
    );
    assert.deepEqual(r.result.observed_value, { quantiles: [0, 0.25, 0.5, 1], values: [1, 3, 5, 9] });
    assert.deepEqual(r.result.details, { success_details: [true, true, true, false] });
    assert.equal(r.success, false);
    assert.equal(describeFailure(r), 'q1 = 9 outside [10, inf]');
  });

  test('failure lines say why, in one bounded line', async () => {
    assert.equal(describeFailure(await evalOn(df, e.meanBetween('x', { min: 4, max: 5, strictMin: true }))), 'observed 4, expected (4, 5]');
    assert.equal(describeFailure(await evalOn(df, e.ofType('x', ['int64', 'bool']))), 'type is float64, expected int64 or bool');
    assert.equal(describeFailure(await evalOn(df, e.rowCountBetween({ min: 10 }))), '7 rows, expected [10, inf]');
    assert.equal(describeFailure(await evalOn(df, e.columnExists('y'))), 'column "y" not found');
    const long = await evalOn(pl.DataFrame({ s: ['x'.repeat(10_000)] }), e.inSet('s', ['a']));
    assert.equal(describeFailure(long), `1 unexpected of 1 (100.00%), e.g. "${'x'.repeat(58)}…`);
  });
});

// ---------------------------------------------------------------------------------------------
// The suite DSL
// ---------------------------------------------------------------------------------------------

describe('suite DSL', () => {
  const flights = suite('flights', (x) => [
    x.columnExists('delay'),
    x.notNull('origin', { mostly: 0.99 }),
    x.between('distance', { min: 0, max: 5000 }),
    x.inSet('origin', ['SFO', 'LAX']),
    x.meanBetween('delay', { min: -10, max: 60 }),
    x.greaterThan('temp_max', 'temp_min', { orEqual: true }),
    x.rowCountBetween({ min: 1 }),
    x.between('distance', { max: 10_000, severity: 'warn', name: 'distance sane' }),
    x.between('distance', { min: 1 }),
  ]);

  test('produces plain JSON that survives a round trip through history', () => {
    const back = suiteSchema.parse(JSON.parse(JSON.stringify(flights)));
    assert.deepEqual(back, flights);
    assert.equal(flights.expectations[1]!.severity, 'error', 'severity defaults to error');
    assert.deepEqual(flights.expectations[2], { type: 'between', column: 'distance', min: 0, max: 5000, strictMin: false, strictMax: false, severity: 'error' });
  });

  test('labels are unique within a suite', () => {
    assert.deepEqual(expectationIds(flights.expectations), [
      'columnExists(delay)',
      'notNull(origin)',
      'between(distance)',
      'inSet(origin)',
      'meanBetween(delay)',
      'greaterThan(temp_max, temp_min)',
      'rowCountBetween',
      'distance sane',
      'between(distance)#2',
    ]);
  });

  test('bad arguments are refused when declared, and in JSON from elsewhere', () => {
    assert.throws(() => suite('s', (x) => [x.between('a', { min: 3, max: 1 })]), /min must not exceed max/);
    assert.throws(() => suite('s', (x) => [x.notNull('a', { mostly: 1.5 })]), /mostly/);
    assert.throws(() => suite('bad name!', () => []), /letters, digits/);
    const issues = (json: unknown) => suiteSchema.safeParse(json).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    assert.deepEqual(issues({ name: 's', expectations: [{ type: 'between', column: 'a' }] }), ['expectations.0.min: give min, max or both']);
    assert.match(issues({ name: 's', expectations: [{ type: 'notNull', column: 'a', mostlyy: 0.5 }] })[0] ?? '', /Unrecognized key/);
    assert.match(issues({ name: 's', expectations: [{ type: 'nope', column: 'a' }] })[0] ?? '', /expectations\.0\.type/);
  });

  test('the step takes a suite as input, with defaults', () => {
    const input = validateDatasetStep.input.parse({ dataset: fakeRef, suite: flights });
    assert.equal(input.nullRateJump, 0.1);
    assert.equal(input.comparisonSeverity, 'warn');
    assert.equal(input.onFailure, 'fail');
    assert.equal(validateDatasetStep.queue, 'cpu');
    assert.equal(validateDatasetStep.name, 'validate-dataset');
    assert.deepEqual(validationImplementations.map((i) => i.step.name), ['validate-dataset']);
  });
});

const fakeRef: DatasetRef = { uri: 'file:///nowhere', sha256: 'a'.repeat(64), size: 1, name: 'flights', version: 1, rows: 1, schema: [] };

// ---------------------------------------------------------------------------------------------
// The step: real local artifact store, real PostgreSQL
// ---------------------------------------------------------------------------------------------

describe('validate-dataset step', () => {
  let pgHandle: Awaited<ReturnType<typeof usePostgres>>;
  let db: Db;
  let store: ArtifactStore;
  let root: string;

  before(async () => {
    pgHandle = await usePostgres();
    db = createPool(pgHandle.url);
    await migrate(db);
    root = tempDir('validation');
    store = await openArtifactStore({ kind: 'local', root });
  });
  after(async () => {
    await db?.end();
    await pgHandle?.stop();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  async function dataset(df: pl.DataFrame, name = 'flights', version = 1): Promise<DatasetRef> {
    const ref = await writeFrame(store, df);
    return {
      ...ref,
      name,
      version,
      rows: df.height,
      schema: df.columns.map((c, i) => ({ name: c, type: columnTypeOf(df.dtypes[i]!) ?? 'string', nullable: true })),
    };
  }

  const run = (input: unknown, ctx = testStepContext({ store, db })) => validateDataset.run(validateDatasetStep.input.parse(input), ctx);
  const readReport = async (uri: string) => JSON.parse((await store.getBuffer(uri)).toString()) as ValidationReport;

  const flightsFrame = () =>
    pl.DataFrame({
      origin: ['SFO', 'LAX', 'SFO', null, '<script>alert(1)</script>', 'JFK'],
      distance: [300, 2500, 300, 1200, 900, -5],
      delay: [5.5, -2, 12, null, 40, 3],
      temp_max: [20, 25, 18, 30, 22, 19],
      temp_min: [10, 12, 18, 15, 23, 9],
    });

  const mixed: Suite = suite('flights-mixed', (x) => [
    x.columnExists('origin'),
    x.notNull('origin', { mostly: 0.8 }), // 5/6 = 0.83: passes
    x.between('distance', { min: 0, max: 5000 }), // -5 at row 5: fails, error
    x.inSet('origin', ['SFO', 'LAX', 'JFK'], { severity: 'warn' }), // the <script> value: fails, warn
    x.meanBetween('delay', { min: -10, max: 60 }), // passes
    x.greaterThan('temp_max', 'temp_min', { orEqual: true, severity: 'warn' }), // row 4: fails, warn
    x.rowCountBetween({ min: 1 }),
  ]);

  test('an error-severity failure fails the step non-retryably, naming the expectation; reports and row are kept', async () => {
    const ds = await dataset(flightsFrame());
    const ctx = testStepContext({ store, db }, { node: 'validate' });
    const err = await run({ dataset: ds, suite: mixed }, ctx).then(
      () => assert.fail('the step should fail'),
      (x: unknown) => x,
    );
    assert.ok(err instanceof SluiceFailure, String(err));
    assert.equal(err.type, 'ValidationFailed');
    assert.equal(err.retryable, false);
    assert.match(err.message, /validation suite "flights-mixed" failed on dataset flights@1: 1 error\(s\)/);
    assert.match(err.message, /between\(distance\): 1 unexpected of 6 \(16\.67%\), e\.g\. -5/);
    assert.doesNotMatch(err.message, /notNull\(origin\)|meanBetween/, 'passing expectations are not named');
    assert.match(err.message, /2 warning\(s\) besides/);

    const row = await getValidationReport(db, ctx.run.runId, 'validate');
    assert.ok(row, 'the failed validation is recorded');
    assert.equal(row.success, false);
    assert.equal(row.dataset_name, 'flights');
    assert.equal(row.dataset_version, 1);
    assert.equal(row.suite_name, 'flights-mixed');
    assert.deepEqual(row.statistics, {
      evaluated_expectations: 7,
      successful_expectations: 4,
      unsuccessful_expectations: 3,
      success_percent: (4 / 7) * 100,
      errors: 1,
      warnings: 2,
      comparison_findings: 0,
    });
    assert.ok(await store.exists(row.report_uri));
    assert.ok(await store.exists(row.html_uri));
    assert.match(err.message, new RegExp(`report: ${row.report_uri}`));
    const details = err.details as { failed: string[] };
    assert.deepEqual(details.failed, [(await readReport(row.report_uri)).failed[0]]);
    assert.ok(ctx.heartbeats.length > 0, 'progress was reported');
  });

  test('warn-only failures pass, with the warnings recorded', async () => {
    const ds = await dataset(flightsFrame());
    const warnOnly = suiteSchema.parse({ ...mixed, name: 'flights-warn', expectations: mixed.expectations.map((x) => ({ ...x, severity: 'warn' })) });
    const ctx = testStepContext({ store, db }, { node: 'validate' });
    const out = await run({ dataset: ds, suite: warnOnly }, ctx);
    assert.equal(out.success, true);
    assert.deepEqual(out.failed, []);
    assert.equal(out.warnings.length, 3);
    assert.match(out.warnings[0]!, /^between\(distance\): 1 unexpected/);
    assert.match(out.warnings[1]!, /^inSet\(origin\): 1 unexpected of 5 \(20\.00%\), e\.g\. "<script>alert\(1\)<\/script>"/);
    assert.match(out.warnings[2]!, /^greaterThan\(temp_max, temp_min\): 1 unexpected of 6/);
    assert.deepEqual(out.statistics, { evaluated_expectations: 7, successful_expectations: 4, unsuccessful_expectations: 3, success_percent: (4 / 7) * 100 });
    assert.doesNotThrow(() => validateDatasetStep.output.parse(out));
    const row = await getValidationReport(db, ctx.run.runId, 'validate');
    assert.equal(row?.success, true);
    assert.equal(row?.report_uri, out.report.uri);
    assert.equal(row?.html_uri, out.html.uri);
  });

  test('onFailure: continue returns success: false with the failures instead of failing', async () => {
    const ds = await dataset(flightsFrame());
    const out = await run({ dataset: ds, suite: mixed, onFailure: 'continue' });
    assert.equal(out.success, false);
    assert.equal(out.failed.length, 1);
    assert.match(out.failed[0]!, /^between\(distance\)/);
    assert.equal(out.warnings.length, 2);
  });

  test('report JSON: GE-shaped results, suite statistics, dataset link; deterministic bytes', async () => {
    const ds = await dataset(flightsFrame());
    const out = await run({ dataset: ds, suite: mixed, onFailure: 'continue' });
    const report = await readReport(out.report.uri);
    assert.equal(report.format, 'sluice.validation-report/1');
    assert.deepEqual(report.suite, { name: 'flights-mixed', expectation_count: 7 });
    assert.deepEqual(
      { ...report.dataset, columns: undefined },
      { name: 'flights', version: 1, uri: ds.uri, sha256: ds.sha256, rows: 6, columns: undefined },
    );
    assert.deepEqual(report.dataset.columns, [
      { name: 'origin', type: 'string' },
      { name: 'distance', type: 'float64' },
      { name: 'delay', type: 'float64' },
      { name: 'temp_max', type: 'float64' },
      { name: 'temp_min', type: 'float64' },
    ]);
    assert.equal(report.success, false);
    assert.deepEqual(report.statistics, out.statistics);
    assert.deepEqual(
      report.results.map((r) => [r.id, r.severity, r.success]),
      [
        ['columnExists(origin)', 'error', true],
        ['notNull(origin)', 'error', true],
        ['between(distance)', 'error', false],
        ['inSet(origin)', 'warn', false],
        ['meanBetween(delay)', 'error', true],
        ['greaterThan(temp_max, temp_min)', 'warn', false],
        ['rowCountBetween', 'error', true],
      ],
    );
    const between = report.results[2]!;
    assert.deepEqual(between.expectation, mixed.expectations[2]);
    assert.deepEqual(between.result, {
      element_count: 6,
      missing_count: 0,
      missing_percent: 0,
      unexpected_count: 1,
      unexpected_percent: (1 / 6) * 100,
      unexpected_percent_total: (1 / 6) * 100,
      unexpected_percent_nonmissing: (1 / 6) * 100,
      partial_unexpected_list: [-5],
      partial_unexpected_index_list: [5],
      partial_unexpected_counts: [{ value: -5, count: 1 }],
    });
    assert.equal(report.results[4]!.result.observed_value, (5.5 - 2 + 12 + 40 + 3) / 5);
    assert.deepEqual(report.results[5]!.result.partial_unexpected_list, [[22, 23]]);
    assert.equal(report.comparison, undefined);

    const again = await run({ dataset: ds, suite: mixed, onFailure: 'continue' });
    assert.equal(again.report.sha256, out.report.sha256, 'same data and suite, same report');
    assert.equal(again.html.sha256, out.html.sha256);
  });

  test('HTML: one self-contained page, user strings escaped', async () => {
    const df = flightsFrame().withColumns(pl.lit(1).alias('<b>col</b>'));
    const ds = await dataset(df);
    const s = suite('flights-html', (x) => [x.inSet('origin', ['SFO', 'LAX', 'JFK']), x.notNull('<b>col</b>')], { description: `<img src=x onerror="alert('d')">` });
    const out = await run({ dataset: ds, suite: s, onFailure: 'continue' });
    const html = (await store.getBuffer(out.html.uri)).toString();
    assert.match(html, /^<!DOCTYPE html>/);
    assert.match(html, /<style>[^<]+<\/style>/, 'inline CSS');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"/);
    assert.doesNotMatch(html, /<script/i, 'no script, and the <script> value is escaped');
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'the value is shown, escaped');
    assert.ok(html.includes('&lt;img src=x onerror=&quot;alert(&#39;d&#39;)&quot;&gt;'), 'the description is escaped');
    assert.ok(html.includes('&lt;b&gt;col&lt;/b&gt;'), 'column names are escaped');
    assert.doesNotMatch(html, /<b>col|<img/);
    const tags = html.match(/<[a-zA-Z][^>]*>/g) ?? [];
    assert.ok(tags.length > 20);
    const names = new Set(tags.map((t) => /^<([a-zA-Z0-9]+)/.exec(t)![1]!.toLowerCase()));
    for (const forbidden of ['script', 'link', 'img', 'iframe', 'object', 'embed', 'b']) assert.ok(!names.has(forbidden), `no <${forbidden}> element`);
    assert.deepEqual(tags.filter((t) => /\s(src|href|on[a-z]+)\s*=/i.test(t)), [], 'no external asset, no handler');
    assert.doesNotMatch(html, /url\(|@import|https?:\/\//i, 'no external asset from CSS');
    assert.match(html, /<span class="badge warn">|<span class="badge fail">/);
    assert.equal(esc(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  test('comparison with a reference version: schema changes, new categories, null-rate jumps (in report and warnings)', async () => {
    const reference = await dataset(
      pl.DataFrame({
        origin: ['SFO', 'LAX', 'SFO', 'LAX', 'SFO', 'LAX', 'SFO', 'LAX', 'SFO', 'LAX'],
        delay: [1, 2, null, 4, 5, 6, 7, null, 9, 10], // 20% missing
        carrier: ['AA', 'UA', 'AA', 'UA', 'AA', 'UA', 'AA', 'UA', 'AA', 'UA'],
        distance: pl.Series('distance', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], pl.Int64),
        dropped: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
      }),
      'flights',
      1,
    );
    const current = await dataset(
      pl.DataFrame({
        origin: ['SFO', 'LAX', 'XYZ', 'XYZ', 'ABC', 'SFO', 'LAX', 'LAX', 'SFO', 'LAX'],
        delay: [1, null, null, 4, 5, NaN, 7, 8, 9, 10], // 30% missing: +0.1, exactly the default threshold
        carrier: ['AA', 'UA', null, null, null, null, 'AA', 'UA', 'AA', 'UA'], // 0% -> 40%
        distance: [1.5, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        added: ['x', 'y', 'x', 'y', 'x', 'y', 'x', 'y', 'x', 'y'],
      }),
      'flights',
      2,
    );
    const s = suite('flights-compare', (x) => [x.rowCountBetween({ min: 1 })]);
    const ctx = testStepContext({ store, db }, { node: 'compare' });
    const out = await run({ dataset: current, suite: s, reference }, ctx);
    assert.equal(out.success, true, 'findings are warnings by default');
    assert.deepEqual(out.comparison, { reference: { name: 'flights', version: 1 }, schemaChanges: 3, newCategories: 1, nullRateJumps: 2 });
    const report = await readReport(out.report.uri);
    const c = report.comparison!;
    assert.deepEqual(c.schema, {
      added: [{ column: 'added', type: 'string' }],
      removed: [{ column: 'dropped', type: 'float64' }],
      type_changed: [{ column: 'distance', reference: 'int64', current: 'float64' }],
    });
    assert.deepEqual(c.new_categories, [
      {
        column: 'origin',
        distinct_count: 2,
        row_count: 3,
        sample: [
          { value: 'XYZ', count: 2 },
          { value: 'ABC', count: 1 },
        ],
      },
    ]);
    const rates = Object.fromEntries(c.null_rates.map((r) => [r.column, r]));
    assert.deepEqual(Object.keys(rates), ['origin', 'delay', 'carrier', 'distance']);
    assert.equal(rates.delay!.reference, 0.2);
    assert.equal(rates.delay!.current, 0.3);
    assert.equal(rates.delay!.jump, true, 'a rise equal to the threshold counts');
    assert.equal(rates.carrier!.jump, true);
    assert.equal(rates.origin!.jump, false);
    assert.equal(rates.distance!.delta, 0);
    assert.equal(c.null_rate_threshold, 0.1);
    assert.equal(c.severity, 'warn');
    assert.deepEqual(
      out.warnings,
      c.findings.map((f) => `compare(flights@1): ${f.message}`),
    );
    assert.ok(out.warnings.some((w) => /column "origin" has 2 new value\(s\) in 3 row\(s\), e\.g\. "XYZ", "ABC"/.test(w)));
    assert.ok(out.warnings.some((w) => /null rate of "carrier" rose from 0\.0% to 40\.0%/.test(w)));
    const html = (await store.getBuffer(out.html.uri)).toString();
    assert.match(html, /Comparison with flights@1/);
    assert.match(html, /type changed/);

    const row = await getValidationReport(db, ctx.run.runId, 'compare');
    assert.equal(row?.reference_name, 'flights');
    assert.equal(row?.reference_version, 1);

    const lenient = await run({ dataset: current, suite: s, reference, nullRateJump: 0.5 });
    assert.equal(lenient.comparison?.nullRateJumps, 0);
    const strict = await run({ dataset: current, suite: s, reference, comparisonSeverity: 'error' }).then(
      () => assert.fail('findings as errors fail the step'),
      (x: unknown) => x as SluiceFailure,
    );
    assert.equal(strict.type, 'ValidationFailed');
    assert.match(strict.message, /compare\(flights@1\): column "dropped" removed \(was float64\)/);
  });

  test('rows in validation_reports: listed by dataset version, one per (run, node) however often retried', async () => {
    const ds = await dataset(pl.DataFrame({ x: [1, 2, 3] }), 'retried', 3);
    const s = suite('retry-suite', (x) => [x.notNull('x')]);
    const ctx = testStepContext({ store, db }, { node: 'check' });
    const first = await run({ dataset: ds, suite: s }, ctx);
    const second = await run({ dataset: ds, suite: s }, { ...ctx, attempt: 2 });
    assert.deepEqual(second.report, first.report);
    const rows = await listValidationReports(db, { dataset: 'retried', version: 3 });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.run_id, ctx.run.runId);
    assert.equal(rows[0]!.node, 'check');
    assert.equal(rows[0]!.suite_name, 'retry-suite');
    assert.equal(rows[0]!.success, true);
    assert.equal(rows[0]!.report_uri, first.report.uri);
    assert.ok(rows[0]!.created_at instanceof Date);
    await run({ dataset: ds, suite: s }, testStepContext({ store, db }, { node: 'check' }));
    assert.equal((await listValidationReports(db, { dataset: 'retried' })).length, 2, 'another run adds its own row');
    assert.equal((await listValidationReports(db, { suite: 'retry-suite', success: false })).length, 0);
  });

  test('a dataset that is not in the store is bad input (non-retryable)', async () => {
    const missing = { ...fakeRef, uri: store.uriFor(`cas/ab/${'ab'.repeat(32)}`), sha256: 'ab'.repeat(32) };
    const err = (await run({ dataset: missing, suite: suite('s', () => []) }).catch((x: unknown) => x)) as SluiceFailure;
    assert.ok(err instanceof SluiceFailure, String(err));
    assert.equal(err.type, 'InvalidInput');
    assert.equal(err.retryable, false);
  });
});
