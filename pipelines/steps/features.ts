import { z } from 'zod';
import { step } from '../dsl/step';
import { duration, expr, MAX_EXPR_DEPTH, walkExpr, durationMs, type Duration, type Expr } from '../expr/ast';
import { datasetName, datasetRef } from './dataset';

/**
 * Feature views: the DSL authors write, the JSON that travels through workflow history, and the
 * signatures of the feature steps. Pure (zod only), so workflow code can import it.
 *
 * A view names its entity key column(s), its event-timestamp column, a TTL, a version and typed
 * features. Each feature is an expression of the language in pipelines/expr (datetime parts,
 * arithmetic, comparisons and logic, casts, when/then/otherwise, null handling, strings, binning;
 * compiled to polars by activities/data/expr-compile.ts), plus what only views have:
 *
 *   rolling sum|mean|min|max|count of an expression per entity over a trailing time window
 *
 * A window aggregate at a row with event time t covers that entity's rows with event time in
 * (t - window, t] (the row itself and any other row at t included). Aggregates see the whole
 * source dataset, also rows before a materialization's start. `count` counts non-null values
 * (rows, without an argument); `sum` of no values is 0, `mean`/`min`/`max` of none are null.
 */

// ---------------------------------------------------------------------------------------------
// Names and durations

/**
 * View names reach SQL (`fv_<view>_v<version>`) and paths: lowercase letters, digits and "_",
 * starting with a letter, at most 48 characters so the table name stays within PostgreSQL's
 * 63-byte identifiers (longer names would be silently truncated there).
 */
export const featureViewName = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,47}$/, 'lowercase letters, digits and "_", starting with a letter (max 48)');

/** Entity and feature names become PostgreSQL columns: letters, digits, "_", starting with a letter (max 63). */
export const featureColumnName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,62}$/, 'letters, digits and "_", starting with a letter (max 63)');

/** Columns every feature frame and online table carries besides entity keys and features. */
export const RESERVED_FEATURE_COLUMNS = ['event_ts', 'created_ts', 'updated_at'] as const;

/** Source columns are only ever read by polars, never put in SQL: any non-empty name. */
const sourceColumn = z.string().min(1).max(256);

export { durationMs } from '../expr/ast';
/** `'30d'`, `'12h'`, `'15m'`, `'30s'`, `'500ms'`, `'2w'` (days are 24 h: timestamps are UTC). */
export type FeatureDuration = Duration;
export const featureDuration = duration;

// ---------------------------------------------------------------------------------------------
// The expression language (plain JSON): pipelines/expr, shared with ingestion

export type FeatureType = 'int64' | 'float64' | 'bool' | 'string' | 'timestamp';
export const featureType = z.enum(['int64', 'float64', 'bool', 'string', 'timestamp']);

export { walkExpr, exprColumns } from '../expr/ast';
/** A feature's expression: the shared language, window aggregates included. */
export type FeatureExpr = Expr;
export const featureExpr = expr;

export const featureDef = z
  .object({
    name: featureColumnName,
    expr: featureExpr,
    /** The stored type; inferred from the data when absent (counts int64, means float64). */
    type: featureType.optional(),
    description: z.string().max(2_000).optional(),
  })
  .strict();
export type FeatureDef = z.infer<typeof featureDef>;

// ---------------------------------------------------------------------------------------------
// Feature views

export const featureViewSchema = z
  .object({
    name: featureViewName,
    /** Bump it whenever the definition changes: each version has its own online table and offline data. */
    version: z.number().int().positive().max(1_000_000),
    description: z.string().max(2_000).optional(),
    /** Entity key column(s) of the source; keys must be strings or integers. */
    entities: z.array(featureColumnName).min(1).max(8),
    /** Event-time column of the source (Date or Datetime; time zones are converted to UTC). */
    timestamp: sourceColumn,
    /** Optional source column saying when each row was written (breaks event-time ties); default: the materialization's time. */
    created: sourceColumn.optional(),
    /** How long a value stays valid for point-in-time joins; "0s" (or any zero) means forever. */
    ttl: featureDuration,
    features: z.array(featureDef).min(1).max(500),
    tags: z.record(z.string().max(128), z.string().max(1_000)).optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    const seen = new Map<string, string>();
    const claim = (name: string, what: string, path: (string | number)[]) => {
      const key = name.toLowerCase();
      if ((RESERVED_FEATURE_COLUMNS as readonly string[]).includes(key)) {
        ctx.addIssue({ code: 'custom', path, message: `"${name}" is reserved (${RESERVED_FEATURE_COLUMNS.join(', ')})` });
      } else if (seen.has(key)) {
        ctx.addIssue({ code: 'custom', path, message: `${what} "${name}" clashes with ${seen.get(key)} (names are compared case-insensitively)` });
      } else seen.set(key, `${what} "${name}"`);
    };
    v.entities.forEach((e, i) => claim(e, 'entity', ['entities', i]));
    v.features.forEach((f, i) => {
      claim(f.name, 'feature', ['features', i, 'name']);
      walkExpr(f.expr, (e, depth, inWindow) => {
        if (depth > MAX_EXPR_DEPTH) ctx.addIssue({ code: 'custom', path: ['features', i, 'expr'], message: `expression nested deeper than ${MAX_EXPR_DEPTH}` });
        if (e.op === 'window') {
          if (inWindow) ctx.addIssue({ code: 'custom', path: ['features', i, 'expr'], message: 'a window aggregate cannot contain another one' });
          if (durationMs(e.window) <= 0) ctx.addIssue({ code: 'custom', path: ['features', i, 'expr'], message: `window "${e.window}" must be longer than zero` });
          if (e.fn !== 'count' && !e.arg) ctx.addIssue({ code: 'custom', path: ['features', i, 'expr'], message: `rolling ${e.fn} needs an argument` });
        }
      });
    });
  });

export type FeatureView = z.infer<typeof featureViewSchema>;
export type FeatureViewInput = z.input<typeof featureViewSchema>;

/** Validates a view (plain JSON), with every problem named by its path. */
export function parseFeatureView(value: unknown): FeatureView {
  const r = featureViewSchema.safeParse(value);
  if (r.success) return r.data;
  const name = typeof (value as { name?: unknown })?.name === 'string' ? ` "${(value as { name: string }).name}"` : '';
  throw new Error(`invalid feature view${name}: ${r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ')}`);
}

/** The view's online table (`fv_<view>_v<version>`); activities quote it with pg.escapeIdentifier. */
export function onlineTableName(view: Pick<FeatureView, 'name' | 'version'>): string {
  return `fv_${view.name}_v${view.version}`;
}

/** The dataset name of a view's offline parts: `<view>.v<version>`. */
export function offlineDatasetName(view: Pick<FeatureView, 'name' | 'version'>): string {
  return `${view.name}.v${view.version}`;
}

export function ttlMs(view: Pick<FeatureView, 'ttl'>): number {
  return durationMs(view.ttl);
}

// ---------------------------------------------------------------------------------------------
// The typed builder for authors

export {
  col,
  lit,
  ratio,
  diff,
  ifElse,
  when,
  coalesce,
  concat,
  rollingSum,
  rollingMean,
  rollingMin,
  rollingMax,
  rollingCount,
} from '../expr/builder';

/**
 * Declares a feature view and validates it at once (a readable error names each bad field).
 * The result is plain JSON: it can be a step input and travel through workflow history.
 *
 *   featureView({
 *     name: 'flight_route_stats', entities: ['origin'], timestamp: 'date', ttl: '30d', version: 1,
 *     features: [
 *       col('distance').as('distance'),
 *       rollingMean('delay', '7d').as('delay_mean_7d'),
 *       rollingCount('delay', '1d').as('flights_1d'),
 *       ratio(col('delay'), col('distance')).mul(1000).as('delay_per_1000mi', 'float64'),
 *     ],
 *   })
 */
export function featureView(def: FeatureViewInput): FeatureView {
  return parseFeatureView(JSON.parse(JSON.stringify(def)) as unknown);
}

// ---------------------------------------------------------------------------------------------
// Step signatures

/** An ISO 8601 time: a date (`2024-01-31`, midnight UTC) or a date-time with `Z` or an offset. */
export const featureTime = z.union([z.iso.datetime({ offset: true }), z.iso.date()]);

export const materializeFeaturesInput = z.strictObject({
  source: datasetRef,
  view: featureViewSchema,
  /** Inclusive; default: where the last materialization of this view version ended (else end - ttl, else the epoch). */
  start: featureTime.optional(),
  /** Inclusive; default: the latest event time in the source. */
  end: featureTime.optional(),
  /** Also write the latest value per entity to the online store (PostgreSQL). */
  online: z.boolean().default(true),
});

export const materializeFeaturesOutput = z.object({
  /** This interval's feature rows (all of them, not only the latest): a version of dataset `<view>.v<version>`. */
  offline: datasetRef,
  /** Rows written to the offline store. */
  rowsWritten: z.number().int().nonnegative(),
  /** Online rows inserted or updated (a value not newer than the stored one is skipped). */
  onlineRows: z.number().int().nonnegative(),
  interval: z.object({ start: z.string(), end: z.string() }),
});

export const materializeFeaturesStep = step({
  name: 'features.materialize',
  description: 'compute a feature view over a dataset; write the interval offline (Parquet) and the latest value per entity online (PostgreSQL)',
  input: materializeFeaturesInput,
  output: materializeFeaturesOutput,
  queue: 'cpu',
  timeouts: { startToClose: '2h', heartbeat: '30s' },
  // Writes the online store and reads the last materialized interval: never answered from a cache.
  cache: false,
});

/** A registered dataset version: `name@3`, `name@latest`, or `name` (the latest). */
export const datasetSpec = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_.-]{0,127}(@([1-9][0-9]{0,8}|latest))?$/, 'a dataset version: "name@3", "name@latest" or "name"');

/** A materialized feature view by name and version (its registered definition), optionally only some of its features. */
export const featureViewPick = z
  .object({
    name: featureViewName,
    version: z.number().int().positive(),
    features: z.array(featureColumnName).min(1).max(1000).optional(),
  })
  .strict();
export type FeatureViewPick = z.infer<typeof featureViewPick>;

export const buildTrainingSetInput = z.strictObject({
  /** Entity keys (named as the views' entities, or mapped by `keys`), an event-time column, and labels: a dataset ref or a registered version. */
  entities: z.union([datasetRef, datasetSpec]),
  /** Full view definitions, or materialized views by name and version (optionally a subset of their features). */
  views: z.array(z.union([featureViewSchema, featureViewPick])).min(1).max(50),
  /** The entity rows' time column. */
  timestamp: z.string().min(1).default('event_timestamp'),
  /** The entity rows' column for a view entity named otherwise there, e.g. `{ "origin": "airport" }`. */
  keys: z.record(z.string().min(1).max(256), z.string().min(1).max(256)).default({}),
  /** Name features `<view>__<feature>` (needed when two views share a feature name). */
  fullFeatureNames: z.boolean().default(false),
  /** Registered name of the training set. */
  name: datasetName.default('training_set'),
});

export const buildTrainingSetOutput = z.object({
  dataset: datasetRef,
  rows: z.number().int().nonnegative(),
});

export const buildTrainingSetStep = step({
  name: 'features.build-training-set',
  description: 'point-in-time correct join of entity rows against feature views (offline store)',
  input: buildTrainingSetInput,
  output: buildTrainingSetOutput,
  queue: 'cpu',
  timeouts: { startToClose: '2h', heartbeat: '30s' },
  // Reads whatever the offline store holds now, which its inputs do not capture.
  cache: false,
});
