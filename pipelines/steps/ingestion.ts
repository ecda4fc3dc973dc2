import { z } from 'zod';
import { step } from '../dsl/step';
import { boundedExpr } from '../expr/ast';
import { artifactRef } from './artifact-ref';
import { columnType, datasetName, datasetRef } from './dataset';

/**
 * Ingestion: a source (a local file, an artifact, a PostgreSQL table or query) becomes a dataset
 * version: typed Parquet in the artifact store, content-addressed, registered in PostgreSQL with
 * its schema, row count, profile and lineage. Identical data gives the version it already has.
 */

export const ingestFormat = z.enum(['csv', 'tsv', 'json', 'jsonl', 'parquet']);
export type IngestFormat = z.infer<typeof ingestFormat>;

/**
 * A PostgreSQL table as `table` or `schema.table`: each part is checked like a dataset name
 * (letters, digits, `_`, `.`, `-`; no quotes, spaces or semicolons) and quoted before it reaches SQL.
 */
export function parsePgTableName(name: string): { schema?: string; table: string } | { error: string } {
  const parts = name.split('.');
  if (parts.length > 2) return { error: `"${name}" has more than one "." (expected "table" or "schema.table")` };
  for (const p of parts) {
    if (!datasetName.safeParse(p).success || p.length > 63) {
      return { error: `"${name}" is not a valid table name: each part must be letters, digits, "_" or "-", starting with a letter (max 63)` };
    }
  }
  return parts.length === 2 ? { schema: parts[0]!, table: parts[1]! } : { table: parts[0]! };
}

export const pgTableName = z.string().superRefine((s, ctx) => {
  const r = parsePgTableName(s);
  if ('error' in r) ctx.addIssue({ code: 'custom', message: r.error });
});

/** The name of an environment variable (of the worker) holding a connection URL: never the URL itself. */
export const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name (the URL itself must never be a step input)');

/**
 * The character encoding of a text source (CSV, TSV, JSON, JSON Lines). Default utf-8, checked:
 * a byte sequence that is not UTF-8 fails the step naming its line and byte offset. `latin1` is
 * ISO-8859-1; `windows-1252` its Windows superset (€, curly quotes in 0x80-0x9F); `utf-16le` as
 * Windows tools write "Unicode" text (a leading byte-order mark is dropped).
 */
export const textEncoding = z.enum(['utf-8', 'latin1', 'windows-1252', 'utf-16le']);
export type TextEncoding = z.infer<typeof textEncoding>;

export const fileSource = z
  .object({
    kind: z.literal('file'),
    /** A path on the worker's file system. */
    path: z.string().min(1),
    /** Default: from the extension (.csv, .tsv, .json, .jsonl/.ndjson, .parquet/.pq). */
    format: ingestFormat.optional(),
    encoding: textEncoding.optional(),
  })
  .strict();

export const artifactSource = z
  .object({
    kind: z.literal('artifact'),
    /** A URI of the configured artifact store (file:// or s3://). */
    uri: z.string().min(1),
    format: ingestFormat,
    encoding: textEncoding.optional(),
  })
  .strict();

export const postgresSource = z
  .object({
    kind: z.literal('postgres'),
    table: pgTableName.optional(),
    /** A single SELECT (or WITH … SELECT / VALUES), run in a read-only transaction. */
    query: z.string().min(1).optional(),
    /** Environment variable holding the database URL; default: Sluice's own database. */
    connectionEnv: envVarName.optional(),
  })
  .strict()
  .refine((s) => (s.table === undefined) !== (s.query === undefined), { message: 'give exactly one of "table" and "query"' });

export const ingestSource = z.discriminatedUnion('kind', [fileSource, artifactSource, postgresSource]);
export type IngestSource = z.infer<typeof ingestSource>;

/** A column's name as a schema declares it. */
const declaredColumnName = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'no control characters');

/** A declared column: its type is fixed (values are parsed or converted to it, failures are bad rows). */
export const declaredColumn = z
  .object({
    name: declaredColumnName,
    type: columnType,
    /** false: a null (or empty) value makes the row bad. Default true. */
    nullable: z.boolean().default(true),
    /**
     * How text spells a date or timestamp, in strftime codes (`%b %d %Y` for "Jun 12 1998",
     * `%d/%m/%Y %H:%M`): the whole value must match. Without it, ISO 8601 and year-first forms are
     * read; day- and month-first ones are ambiguous and need it.
     */
    format: z
      .string()
      .min(2)
      .max(100)
      .regex(/%/, 'a strftime format such as "%d/%m/%Y" (it has no % code)')
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.format !== undefined && c.type !== 'date' && c.type !== 'timestamp') {
      ctx.addIssue({ code: 'custom', path: ['format'], message: `a format applies to date and timestamp columns; "${c.name}" is ${c.type}` });
    }
  });
export type DeclaredColumn = z.infer<typeof declaredColumn>;

export const declaredSchema = z.array(declaredColumn).superRefine((cols, ctx) => {
  const seen = new Set<string>();
  cols.forEach((c, i) => {
    if (seen.has(c.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `column "${c.name}" is declared twice` });
    seen.add(c.name);
  });
});

/** A derived column's name: like a declared column's; `__sluice` names are Sluice's own. */
export const derivedColumnName = declaredColumnName.refine((n) => !n.startsWith('__sluice'), 'names starting with "__sluice" are reserved');

/**
 * Derived columns: name -> expression (pipelines/expr). Each reads the source's columns as typed
 * (declared or inferred), not other derived columns; a name equal to a source column replaces it.
 */
export const deriveSpec = z.record(derivedColumnName, boundedExpr).refine((d) => Object.keys(d).length <= 500, 'at most 500 derived columns');

export const ingestInput = z
  .object({
    source: ingestSource,
    /** Dataset name: versions are numbered per name. */
    name: datasetName,
    /** Columns whose types are fixed; columns not named here keep their inferred types. */
    schema: declaredSchema.optional(),
    /**
     * Malformed rows tolerated (unparseable records, wrong field counts, values that do not fit a
     * declared type). 0 (default): the first one fails the step. Otherwise, up to this many go to a
     * quarantine artifact with their line (or row) numbers and reasons, and the rest is ingested.
     */
    maxBadRows: z.number().int().nonnegative().default(0),
    /** Columns added (or replaced) after reading and typing, before the schema and profile are taken. */
    derive: deriveSpec.optional(),
    /**
     * Rows kept: those where this Boolean expression is true (false or null drops the row). It
     * sees the derived columns. Dropped rows are counted (`filteredRows`), not quarantined.
     */
    filter: boundedExpr.optional(),
  })
  .strict();
export type IngestInput = z.infer<typeof ingestInput>;

export const ingestOutput = z.object({
  dataset: datasetRef,
  /** The profile JSON (see pipelines/steps/profile.ts). */
  profile: artifactRef,
  /** Parquet of the rows left out: line (null where the format has none), row, reason, raw. */
  quarantine: artifactRef.optional(),
  badRows: z.number().int().nonnegative(),
  /** Rows the filter dropped: source rows = dataset rows + filteredRows + badRows. */
  filteredRows: z.number().int().nonnegative().default(0),
  /**
   * Records the source held (blank lines not counted): always dataset.rows + badRows +
   * filteredRows, checked before the version is registered. Optional only for outputs recorded
   * before it was reported.
   */
  sourceRows: z.number().int().nonnegative().optional(),
  /** True when identical data was already registered under this name: its version is returned. */
  reused: z.boolean(),
});
export type IngestOutput = z.infer<typeof ingestOutput>;

/**
 * What a conversion left: the Parquet published and what it took to make it. A retry with the
 * same source fingerprint and name skips the conversion (activities/ingestion/ingest.ts).
 * References and counts only: the data is the artifact `data`, bad rows the `quarantine`.
 */
export const ingestConverted = z.object({
  fingerprint: z.string(),
  name: z.string(),
  data: artifactRef,
  /** The columns as converted (one entry a column). */
  draft: z.array(z.object({ name: z.string(), type: columnType, nullable: z.boolean().optional() })),
  badRows: z.number().int().nonnegative(),
  filteredRows: z.number().int().nonnegative().default(0),
  /** Records the source held; absent in checkpoints of attempts from before it was counted. */
  sourceRows: z.number().int().nonnegative().optional(),
  quarantine: artifactRef.optional(),
});
export type IngestConverted = z.output<typeof ingestConverted>;

/**
 * The checkpoint of ingesting (the ingest step's, and of the steps that ingest a source on the
 * way: scoring.plan, dataset.resolve-evaluation): `converted` once the Parquet is published,
 * nothing before; the progress fields that ride along are not needed to resume.
 */
export const ingestCheckpoint = z.object({ converted: ingestConverted.optional() });

export const ingestStep = step({
  name: 'ingest',
  description: 'ingest a file, an artifact or a PostgreSQL table/query as a dataset version',
  input: ingestInput,
  output: ingestOutput,
  queue: 'cpu',
  // Long reads and conversions heartbeat every few seconds; a lost worker is noticed within the
  // heartbeat timeout and the step retried elsewhere (it resumes from its checkpoint).
  timeouts: { startToClose: '2h', heartbeat: '30s' },
  retry: { maximumAttempts: 5, initialInterval: '5s', maximumInterval: '2m' },
  // The same input can name different data (a file rewritten in place, a table that changed):
  // never answer from the step cache. Identical data still maps to its existing version.
  cache: false,
  /** A retry after the Parquet was published skips the conversion. */
  checkpoint: ingestCheckpoint,
});

export const profileDatasetStep = step({
  name: 'profile-dataset',
  description: 'compute the statistical profile of a dataset',
  input: z.object({ dataset: datasetRef }).strict(),
  output: z.object({ profile: artifactRef }),
  queue: 'cpu',
  timeouts: { startToClose: '1h', heartbeat: '30s' },
  retry: { maximumAttempts: 3 },
});
