import { z } from 'zod';
import { step } from '../dsl/step';
import { artifactRef } from './artifact-ref';
import { columnType, datasetRef, type ColumnType } from './dataset';

/**
 * Validation suites: expectations about a dataset, declared with a typed builder and kept as
 * plain JSON (the `Suite` zod schema), so a suite travels through workflow history as step input
 * and can be typed into the Temporal UI.
 *
 * Semantics follow Great Expectations (see /work/shared/notes/mlops-semantics.md):
 * - map expectations (notNull, unique, inSet, between, matchRegex, lengthsBetween, greaterThan)
 *   judge each row; `mostly` passes when (non-missing − unexpected) / non-missing >= mostly
 *   (default 1: no unexpected value at all). Missing values (null, and NaN in float columns, as in
 *   pandas) are left out, except by notNull, which counts over all rows. No row to judge: success.
 * - bounds are inclusive unless `strictMin` / `strictMax`; either bound may be left out.
 * - aggregate expectations (mean, median, min, max, stdev, quantiles) report `observed_value`
 *   computed over non-missing values; an all-missing column has no observed value and fails.
 * - a missing column, or a column of the wrong type, does not abort the suite: that expectation
 *   fails with `exception_info`, as in GE, and the others are still evaluated.
 *
 * Every expectation has a `severity`: `error` (default) fails the validate step, `warn` records
 * the failure and lets the pipeline go on.
 *
 * This module is imported by workflow code: schemas and pure functions only.
 */

export const severity = z.enum(['error', 'warn']);
export type Severity = z.infer<typeof severity>;

const column = z.string().min(1).max(256);
const mostly = z.number().min(0).max(1).optional().describe('share of non-missing values that must pass (GE `mostly`); default 1');
const common = {
  severity: severity.default('error'),
  /** Shown instead of the generated label (e.g. `between(distance)`) in reports and failures. */
  name: z.string().min(1).max(200).optional(),
};
const scalar = z.union([z.string(), z.number(), z.boolean()]);

type BoundsShape = { min?: number | undefined; max?: number | undefined };
const boundsPresent = (b: BoundsShape) => b.min !== undefined || b.max !== undefined;
const boundsOrdered = (b: BoundsShape) => b.min === undefined || b.max === undefined || b.min <= b.max;
const BOUNDS_PRESENT = { message: 'give min, max or both', path: ['min'] };
const BOUNDS_ORDERED = { message: 'min must not exceed max', path: ['max'] };

const bounded = {
  min: z.number().optional(),
  max: z.number().optional(),
  strictMin: z.boolean().default(false),
  strictMax: z.boolean().default(false),
};

function aggregate<T extends string>(type: T) {
  return z
    .strictObject({ type: z.literal(type), column, ...bounded, ...common })
    .refine(boundsPresent, BOUNDS_PRESENT)
    .refine(boundsOrdered, BOUNDS_ORDERED);
}

export const columnExistsExpectation = z.strictObject({ type: z.literal('columnExists'), column, ...common });
export const columnsMatchSetExpectation = z.strictObject({
  type: z.literal('columnsMatchSet'),
  columns: z.array(column),
  /** true (default): exactly these columns; false: at least these. */
  exactMatch: z.boolean().default(true),
  ...common,
});
export const columnsMatchOrderedListExpectation = z.strictObject({ type: z.literal('columnsMatchOrderedList'), columns: z.array(column), ...common });
export const rowCountBetweenExpectation = z
  .strictObject({ type: z.literal('rowCountBetween'), min: z.number().int().nonnegative().optional(), max: z.number().int().nonnegative().optional(), ...common })
  .refine(boundsPresent, BOUNDS_PRESENT)
  .refine(boundsOrdered, BOUNDS_ORDERED);
export const notNullExpectation = z.strictObject({ type: z.literal('notNull'), column, mostly, ...common });
export const uniqueExpectation = z.strictObject({ type: z.literal('unique'), column, mostly, ...common });
export const inSetExpectation = z.strictObject({ type: z.literal('inSet'), column, values: z.array(scalar).min(1), mostly, ...common });
export const betweenExpectation = z
  .strictObject({ type: z.literal('between'), column, ...bounded, mostly, ...common })
  .refine(boundsPresent, BOUNDS_PRESENT)
  .refine(boundsOrdered, BOUNDS_ORDERED);
export const matchRegexExpectation = z.strictObject({
  type: z.literal('matchRegex'),
  column,
  /** Rust `regex` syntax (polars), searched anywhere in the value as GE's re.search: anchor with ^…$ for a full match. */
  regex: z.string().min(1),
  mostly,
  ...common,
});
export const lengthsBetweenExpectation = z
  .strictObject({
    type: z.literal('lengthsBetween'),
    column,
    min: z.number().int().nonnegative().optional(),
    max: z.number().int().nonnegative().optional(),
    mostly,
    ...common,
  })
  .refine(boundsPresent, BOUNDS_PRESENT)
  .refine(boundsOrdered, BOUNDS_ORDERED);
export const ofTypeExpectation = z.strictObject({
  type: z.literal('ofType'),
  column,
  /** One type, or a list of accepted types (GE's be_in_type_list). */
  columnType: z.union([columnType, z.array(columnType).min(1)]),
  ...common,
});
export const meanBetweenExpectation = aggregate('meanBetween');
export const medianBetweenExpectation = aggregate('medianBetween');
export const minBetweenExpectation = aggregate('minBetween');
export const maxBetweenExpectation = aggregate('maxBetween');
export const stdevBetweenExpectation = aggregate('stdevBetween');
export const quantileRange = z
  .strictObject({ quantile: z.number().min(0).max(1), min: z.number().optional(), max: z.number().optional() })
  .refine(boundsPresent, BOUNDS_PRESENT)
  .refine(boundsOrdered, BOUNDS_ORDERED);
export const quantilesBetweenExpectation = z.strictObject({
  type: z.literal('quantilesBetween'),
  column,
  /** Each quantile's value must lie in its [min, max] (inclusive; a missing bound is open). */
  ranges: z.array(quantileRange).min(1),
  ...common,
});
export const greaterThanExpectation = z.strictObject({
  type: z.literal('greaterThan'),
  columnA: column,
  columnB: column,
  /** A >= B instead of A > B. */
  orEqual: z.boolean().default(false),
  /**
   * Rows left out of the check (GE's ignore_row_if). Default, as in GE: rows where both are
   * missing; a row with one missing value is then unexpected.
   */
  ignoreRowIf: z.enum(['both_values_are_missing', 'either_value_is_missing', 'neither']).default('both_values_are_missing'),
  mostly,
  ...common,
});

export const expectationSchema = z.discriminatedUnion('type', [
  columnExistsExpectation,
  columnsMatchSetExpectation,
  columnsMatchOrderedListExpectation,
  rowCountBetweenExpectation,
  notNullExpectation,
  uniqueExpectation,
  inSetExpectation,
  betweenExpectation,
  matchRegexExpectation,
  lengthsBetweenExpectation,
  ofTypeExpectation,
  meanBetweenExpectation,
  medianBetweenExpectation,
  minBetweenExpectation,
  maxBetweenExpectation,
  stdevBetweenExpectation,
  quantilesBetweenExpectation,
  greaterThanExpectation,
]);
export type Expectation = z.output<typeof expectationSchema>;
export type ExpectationInput = z.input<typeof expectationSchema>;
export type ExpectationType = Expectation['type'];

export const suiteName = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/, 'letters, digits, "_", "." and "-", starting with a letter (max 128)');

export const suiteSchema = z.strictObject({
  name: suiteName,
  description: z.string().max(2000).optional(),
  expectations: z.array(expectationSchema).max(1000),
});
export type Suite = z.output<typeof suiteSchema>;
export type SuiteInput = z.input<typeof suiteSchema>;

/** A short, readable label: `between(distance)`, `greaterThan(temp_max, temp_min)`, `rowCountBetween`. */
export function expectationLabel(e: ExpectationInput): string {
  if (e.name) return e.name;
  if ('column' in e) return `${e.type}(${e.column})`;
  if (e.type === 'greaterThan') return `${e.type}(${e.columnA}, ${e.columnB})`;
  return e.type;
}

/** Labels made unique within a suite (`between(x)`, `between(x)#2`…): what reports and failures name. */
export function expectationIds(expectations: readonly ExpectationInput[]): string[] {
  const seen = new Map<string, number>();
  return expectations.map((e) => {
    const label = expectationLabel(e);
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    return n === 1 ? label : `${label}#${n}`;
  });
}

// ---------------------------------------------------------------------------------------------
// The typed builder
// ---------------------------------------------------------------------------------------------

/** Options every expectation takes. */
export interface CommonOptions {
  severity?: Severity;
  name?: string;
}
export interface MostlyOption {
  /** Share of non-missing values that must pass, in [0, 1]; default 1. */
  mostly?: number;
}
/** At least one bound: `{}` is a type error. */
export type Bounds = { min: number; max?: number } | { min?: number; max: number };
export type StrictBounds = Bounds & { strictMin?: boolean; strictMax?: boolean };
export type QuantileRange = { quantile: number } & Bounds;

export interface ExpectationBuilder {
  columnExists(column: string, o?: CommonOptions): Expectation;
  columnsMatchSet(columns: string[], o?: CommonOptions & { exactMatch?: boolean }): Expectation;
  columnsMatchOrderedList(columns: string[], o?: CommonOptions): Expectation;
  rowCountBetween(o: Bounds & CommonOptions): Expectation;
  notNull(column: string, o?: MostlyOption & CommonOptions): Expectation;
  unique(column: string, o?: MostlyOption & CommonOptions): Expectation;
  inSet(column: string, values: readonly (string | number | boolean)[], o?: MostlyOption & CommonOptions): Expectation;
  between(column: string, o: StrictBounds & MostlyOption & CommonOptions): Expectation;
  matchRegex(column: string, regex: string, o?: MostlyOption & CommonOptions): Expectation;
  lengthsBetween(column: string, o: Bounds & MostlyOption & CommonOptions): Expectation;
  ofType(column: string, type: ColumnType | readonly ColumnType[], o?: CommonOptions): Expectation;
  meanBetween(column: string, o: StrictBounds & CommonOptions): Expectation;
  medianBetween(column: string, o: StrictBounds & CommonOptions): Expectation;
  minBetween(column: string, o: StrictBounds & CommonOptions): Expectation;
  maxBetween(column: string, o: StrictBounds & CommonOptions): Expectation;
  stdevBetween(column: string, o: StrictBounds & CommonOptions): Expectation;
  quantilesBetween(column: string, ranges: readonly QuantileRange[], o?: CommonOptions): Expectation;
  greaterThan(
    columnA: string,
    columnB: string,
    o?: MostlyOption & CommonOptions & { orEqual?: boolean; ignoreRowIf?: 'both_values_are_missing' | 'either_value_is_missing' | 'neither' },
  ): Expectation;
}

const parse = (x: unknown): Expectation => expectationSchema.parse(x);

export const expectations: ExpectationBuilder = {
  columnExists: (column, o) => parse({ type: 'columnExists', column, ...o }),
  columnsMatchSet: (columns, o) => parse({ type: 'columnsMatchSet', columns, ...o }),
  columnsMatchOrderedList: (columns, o) => parse({ type: 'columnsMatchOrderedList', columns, ...o }),
  rowCountBetween: (o) => parse({ type: 'rowCountBetween', ...o }),
  notNull: (column, o) => parse({ type: 'notNull', column, ...o }),
  unique: (column, o) => parse({ type: 'unique', column, ...o }),
  inSet: (column, values, o) => parse({ type: 'inSet', column, values: [...values], ...o }),
  between: (column, o) => parse({ type: 'between', column, ...o }),
  matchRegex: (column, regex, o) => parse({ type: 'matchRegex', column, regex, ...o }),
  lengthsBetween: (column, o) => parse({ type: 'lengthsBetween', column, ...o }),
  ofType: (column, type, o) => parse({ type: 'ofType', column, columnType: typeof type === 'string' ? type : [...type], ...o }),
  meanBetween: (column, o) => parse({ type: 'meanBetween', column, ...o }),
  medianBetween: (column, o) => parse({ type: 'medianBetween', column, ...o }),
  minBetween: (column, o) => parse({ type: 'minBetween', column, ...o }),
  maxBetween: (column, o) => parse({ type: 'maxBetween', column, ...o }),
  stdevBetween: (column, o) => parse({ type: 'stdevBetween', column, ...o }),
  quantilesBetween: (column, ranges, o) => parse({ type: 'quantilesBetween', column, ranges: ranges.map((r) => ({ ...r })), ...o }),
  greaterThan: (columnA, columnB, o) => parse({ type: 'greaterThan', columnA, columnB, ...o }),
};

/**
 * Declares a suite: `suite('flights', (e) => [e.notNull('origin', { mostly: 0.99 }), …])`.
 * The result is plain, validated JSON (bad arguments throw here, at declaration).
 */
export function suite(name: string, build: (e: ExpectationBuilder) => Expectation[], opts: { description?: string } = {}): Suite {
  return suiteSchema.parse({ name, ...(opts.description === undefined ? {} : { description: opts.description }), expectations: build(expectations) });
}

// ---------------------------------------------------------------------------------------------
// The step
// ---------------------------------------------------------------------------------------------

/** Suite statistics, with GE's keys. `success_percent` is null when nothing was evaluated. */
export const validationStatistics = z.object({
  evaluated_expectations: z.number().int().nonnegative(),
  successful_expectations: z.number().int().nonnegative(),
  unsuccessful_expectations: z.number().int().nonnegative(),
  success_percent: z.number().nullable(),
});
export type ValidationStatistics = z.infer<typeof validationStatistics>;

export const validateDatasetInput = z.strictObject({
  dataset: datasetRef,
  suite: suiteSchema,
  /** An earlier version to compare with: schema changes, new categories, null-rate jumps. */
  reference: datasetRef.optional(),
  /** A column's null rate rising by at least this much (absolute) over the reference is flagged. */
  nullRateJump: z.number().gt(0).max(1).default(0.1),
  /** How comparison findings count: `warn` (default) records them, `error` fails the step. */
  comparisonSeverity: severity.default('warn'),
  /**
   * `fail` (default): error-severity failures fail the step (non-retryably, type ValidationFailed).
   * `continue`: the step succeeds with `success: false`, for pipelines that branch on it.
   */
  onFailure: z.enum(['fail', 'continue']).default('fail'),
});

export const validateDatasetOutput = z.object({
  /** No error-severity failure (expectation or comparison finding). */
  success: z.boolean(),
  /** Error-severity failures, `label: reason`. */
  failed: z.array(z.string()),
  /** Warn-severity failures and (by default) comparison findings, `label: reason`. */
  warnings: z.array(z.string()),
  report: artifactRef,
  html: artifactRef,
  statistics: validationStatistics,
  comparison: z
    .object({
      reference: z.object({ name: z.string(), version: z.number().int() }),
      schemaChanges: z.number().int().nonnegative(),
      newCategories: z.number().int().nonnegative(),
      nullRateJumps: z.number().int().nonnegative(),
    })
    .optional(),
});
export type ValidateDatasetOutput = z.infer<typeof validateDatasetOutput>;

export const validateDatasetStep = step({
  name: 'validate-dataset',
  description: 'check a dataset version against a suite of expectations (and a reference version); JSON and HTML reports',
  input: validateDatasetInput,
  output: validateDatasetOutput,
  queue: 'cpu',
  timeouts: { startToClose: '30m', heartbeat: '30s' },
  retry: { nonRetryableErrorTypes: ['ValidationFailed'] },
});
