import { z } from 'zod';
import { pipeline } from './dsl/pipeline';
import { datasetName } from './steps/dataset';
import { boundedExpr } from './expr/ast';
import { ingestSource, ingestStep, declaredSchema, deriveSpec } from './steps/ingestion';
import { suite, suiteSchema, validateDatasetStep } from './steps/validation';

/**
 * Ingest a source into a dataset version (typed, profiled, content-addressed), then check it
 * against a validation suite. Defaults: vega-datasets' Seattle weather with the checks a
 * meteorologist would ask for.
 */
export const seattleWeatherSuite = suite('seattle-weather', (e) => [
  e.columnsMatchSet(['date', 'precipitation', 'temp_max', 'temp_min', 'wind', 'weather'], { exactMatch: true }),
  e.rowCountBetween({ min: 365 }),
  e.notNull('date'),
  e.unique('date'),
  e.notNull('weather', { mostly: 0.99 }),
  e.inSet('weather', ['drizzle', 'rain', 'sun', 'snow', 'fog']),
  e.between('precipitation', { min: 0, max: 200 }),
  e.between('wind', { min: 0, max: 30 }),
  e.greaterThan('temp_max', 'temp_min', { orEqual: true }),
  e.meanBetween('temp_max', { min: 5, max: 30 }),
  e.quantilesBetween('temp_min', [{ quantile: 0.5, min: -5, max: 20 }]),
  e.stdevBetween('wind', { max: 10, severity: 'warn' }),
]);

export const ingestValidateParams = z
  .object({
    source: ingestSource.default({ kind: 'file', path: 'node_modules/vega-datasets/data/seattle-weather.csv' }),
    name: datasetName.default('seattle-weather'),
    schema: declaredSchema.optional(),
    maxBadRows: z.number().int().nonnegative().default(0),
    /** Derived columns, name -> expression (pipelines/expr): added before the profile and the checks. */
    derive: deriveSpec.optional(),
    /** Keep only rows where this expression is true. */
    filter: boundedExpr.optional(),
    suite: suiteSchema.default(seattleWeatherSuite),
  })
  .strict();

export const ingestValidate = pipeline(
  { name: 'ingest-validate', description: 'ingest a source into a dataset version, then validate it against a suite', params: ingestValidateParams },
  (p, b) => {
    const ingested = b.step('ingest', ingestStep, { source: p.source, name: p.name, schema: p.schema, maxBadRows: p.maxBadRows, derive: p.derive, filter: p.filter });
    const checked = b.step('validate', validateDatasetStep, { dataset: ingested.output.dataset, suite: p.suite });
    return {
      dataset: ingested.output.dataset,
      reused: ingested.output.reused,
      badRows: ingested.output.badRows,
      filteredRows: ingested.output.filteredRows,
      profile: ingested.output.profile,
      success: checked.output.success,
      warnings: checked.output.warnings,
      report: checked.output.html,
    };
  },
);
