import path from 'node:path';
import pl from 'nodejs-polars';
import { lazySchema, scalar } from '../polars';
import { badRowsFailure, type BadRecord } from '../quarantine';
import { ROW } from '../schema';
import { isBlank, pickRawControls, rawLines, readingData } from './lines';
import { locateByValues } from './values';
import type { ReadOptions, RecordOrigin, SourceTable } from './types';
import { invalidInput } from '../../../pipelines/failures';

/**
 * JSON Lines: one object per line; blank lines are skipped. Each line is checked first (polars
 * parses it as JSON: `json_path_match('$')` is null for invalid JSON), so a malformed line is
 * reported with its number; when some are tolerated, polars reads a copy of the good lines only.
 * JSON's own types are kept (integers as int64, exactly, beyond 2^53 too); strings that are all
 * dates or timestamps become dates or timestamps.
 */
export async function openJsonLines(file: string, opts: ReadOptions): Promise<SourceTable> {
  const { label, budget } = opts;
  const ctl = await pickRawControls(file, label);
  const parsed = pl.col('text').str.jsonPathMatch('$');
  const lines = rawLines(file, ctl)
    .withColumns(isBlank(pl.col('text')).alias('blank'), parsed.isNotNull().and(pl.col('text').str.contains('^\\s*\\{')).alias('object'))
    // The record's number: blank lines not counted.
    .withColumns(pl.col('blank').not().cast(pl.Int64).cumSum().alias('row'));
  const bad = pl.col('blank').not().and(pl.col('object').not());
  const reason = pl.when(parsed.isNotNull()).then(pl.lit('not a JSON object')).otherwise(pl.lit('invalid JSON'));
  const badCount = await readingData(label, () => scalar(lines.select(bad.sum())));

  const badRecords = async (limit?: number): Promise<BadRecord[]> => {
    let q = lines.filter(bad).select(pl.col('row'), pl.col('line'), reason.alias('reason'), pl.col('text'));
    if (limit !== undefined) q = q.head(limit);
    return (await q.collect()).toRecords().map((r) => ({ row: Number(r.row), line: Number(r.line), reason: String(r.reason), raw: (r.text as string | null) ?? null }));
  };
  if (badCount > budget) throw badRowsFailure(label, await badRecords(20), badCount, budget);
  const structural = badCount ? await badRecords() : [];

  let source = file;
  if (badCount) {
    source = path.join(opts.dir, 'clean.jsonl');
    await readingData(label, () =>
      lines
        .filter(pl.col('object'))
        .select(pl.col('text'))
        .sinkCSV(source, { includeHeader: false, quoteStyle: 'never', separator: ctl.sep, lineTerminator: '\n' })
        .collect(),
    );
  }
  // Row i of the read is the i-th non-blank (or, after cleaning, the i-th good) line.
  const origins = lines.filter(pl.col('object')).select(pl.col('row'), pl.col('line'), pl.col('text')).withRowIndex('k');
  const lf = pl.scanJson(source, { inferSchemaLength: null }).withRowIndex(ROW);
  const columns = await readingData(label, async () => (await lazySchema(lf)).filter((c) => c.name !== ROW));
  if (!columns.length) throw invalidInput(`${label}: no fields in any object`);
  return {
    lf,
    columns,
    mode: 'json',
    structural,
    locate: async (rows) => {
      const df = await origins.filter(pl.col('k').isIn(rows)).collect();
      return new Map(df.toRecords().map((r): [number, RecordOrigin] => [Number(r.k), { row: Number(r.row), line: Number(r.line), raw: (r.text as string | null) ?? null }]));
    },
  };
}

/**
 * A JSON document holding an array of objects. It is one value, so polars reads it whole (use
 * JSON Lines for data that must stream); a syntax error fails the read, naming the file.
 * Rows are numbered from 1 in array order.
 */
export async function openJsonArray(file: string, opts: ReadOptions): Promise<SourceTable> {
  let df: pl.DataFrame;
  try {
    df = pl.readJSON(file, { format: 'json', inferSchemaLength: null });
  } catch (e) {
    throw invalidInput(`${opts.label}: not a valid JSON array of objects: ${(e as Error).message}`);
  }
  const lf = df.lazy().withRowIndex(ROW);
  const columns = df.columns.map((name, i) => ({ name, dtype: df.dtypes[i]! }));
  if (!columns.length) throw invalidInput(`${opts.label}: no fields in any object`);
  return { lf, columns, mode: 'json', structural: [], locate: locateByValues(lf, columns) };
}
