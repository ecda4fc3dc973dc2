import path from 'node:path';
import pl from 'nodejs-polars';
import { badRowsFailure, type BadRecord } from '../quarantine';
import { ROW } from '../schema';
import { countChar, isBlank, pickRawControls, rawLines, readingData } from './lines';
import { fieldCount, lineStructure, NEVER_CLOSED, QUOTE_OK, QUOTE_REASONS, splitRecord, STRAY_QUOTE } from './csv-quoting';
import type { ReadOptions, RecordOrigin, SourceTable } from './types';
import { invalidInput } from '../../../pipelines/failures';

/**
 * CSV and TSV (RFC 4180 quoting with `"`; the first record is the header).
 *
 * Structure is checked before the data is parsed, on the raw lines (polars expressions over the
 * whole file, streamed): ./csv-quoting.ts finds the records whose quoted fields span lines and
 * the lines whose quoting is malformed (each costs only its own line); then each record's field
 * count (separators outside quotes) is compared with the header's. Malformed records are reported
 * with the line they start on. Blank lines are skipped, as pandas does.
 *
 * The data is then read by polars' CSV reader with every column as text (types are inferred or
 * declared afterwards). When some records were malformed or blank, polars reads a cleaned copy
 * holding only the good records, so its row i is always the i-th good record.
 */
export async function openDelimited(file: string, sep: ',' | '\t', opts: ReadOptions): Promise<SourceTable> {
  const { label, budget } = opts;
  const ctl = await pickRawControls(file, label);
  const lines = rawLines(file, ctl).withColumns(countChar(pl.col('text'), '"').alias('q'));
  const { continuation, bad: badQuoting } = await readingData(label, () => lineStructure(lines, sep));

  // One row per record: rec (0 = header), the line it starts on, its text, how its quoting is bad.
  let records: pl.LazyDataFrame;
  if (!continuation.length && !badQuoting.size) {
    records = lines.select(pl.col('line').sub(1).alias('rec'), pl.col('line'), pl.col('text'), pl.lit(QUOTE_OK).cast(pl.Int32).alias('quoting'));
  } else {
    const marks = [...new Set([...continuation, ...badQuoting.keys()])].sort((a, b) => a - b);
    const cont = new Set(continuation);
    const marked = pl.DataFrame([
      pl.Series('line', marks, pl.Int64),
      pl.Series('cont', marks.map((l) => cont.has(l)), pl.Bool),
      pl.Series('quoting', marks.map((l) => badQuoting.get(l) ?? QUOTE_OK), pl.Int32),
    ]);
    const joined = lines
      .join(marked.lazy(), { on: 'line', how: 'left' })
      .sort('line')
      .withColumns(pl.col('cont').fillNull(false), pl.col('quoting').fillNull(pl.lit(QUOTE_OK)))
      .withColumns(pl.col('cont').not().cast(pl.Int64).cumSum().sub(1).alias('rec'));
    records = continuation.length
      ? joined
          .groupBy('rec', true)
          .agg(pl.col('line').first(), pl.col('text').fillNull('').str.concat('\n', false), pl.col('quoting').max())
          .sort('rec')
      : joined.select('rec', 'line', 'text', 'quoting');
  }

  const header = await readingData(label, () => records.head(1).select('text', 'quoting').collect());
  if (!header.height || header.getColumn('text').get(0) === null) throw invalidInput(`${label}: no header line`);
  if (Number(header.getColumn('quoting').get(0)) !== QUOTE_OK) throw invalidInput(`${label}: line 1: the header's quoting is malformed: ${QUOTE_REASONS[Number(header.getColumn('quoting').get(0))]}`);
  const names = splitRecord(String(header.getColumn('text').get(0)), sep);
  checkHeader(names, label);
  const n = names.length;

  const classified = records
    .withColumns(isBlank(pl.col('text')).alias('blank'), fieldCount(pl.col('text').fillNull(''), sep).alias('fields'))
    .withColumns(
      // The record's number among data records, blank lines not counted (header: 0).
      pl.col('rec').sub(pl.col('blank').cast(pl.Int64).cumSum()).alias('row'),
    );
  const malformed = pl.col('rec').gt(0).and(pl.col('blank').not()).and(pl.col('quoting').neq(QUOTE_OK).or(pl.col('fields').neq(n)));
  const reasonExpr = pl
    .when(pl.col('quoting').eq(STRAY_QUOTE))
    .then(pl.lit(QUOTE_REASONS[STRAY_QUOTE]!))
    .when(pl.col('quoting').eq(NEVER_CLOSED))
    .then(pl.lit(QUOTE_REASONS[NEVER_CLOSED]!))
    .otherwise(pl.concatString([pl.lit(`expected ${n} field${n === 1 ? '' : 's'}, found `), pl.col('fields').cast(pl.Utf8)], ''));

  const counts = await readingData(label, async () =>
    (
      await classified
        .select(
          malformed.sum().alias('bad'),
          pl.col('rec').gt(0).and(pl.col('blank')).sum().alias('blank'),
          pl.col('rec').gt(0).and(pl.col('blank').not()).sum().alias('records'),
        )
        .collect()
    ).toRecords()[0]!,
  );
  const badCount = Number(counts.bad);
  const blankCount = Number(counts.blank);

  const badRecords = async (limit?: number): Promise<BadRecord[]> => {
    let q = classified.filter(malformed).select(pl.col('row'), pl.col('line'), reasonExpr.alias('reason'), pl.col('text'));
    if (limit !== undefined) q = q.head(limit);
    const df = await q.collect();
    return df.toRecords().map((r) => ({ row: Number(r.row), line: Number(r.line), reason: String(r.reason), raw: (r.text as string | null) ?? null }));
  };
  if (badCount > budget) throw badRowsFailure(label, await badRecords(20), badCount, budget);
  const structural = badCount ? await badRecords() : [];

  const schema = Object.fromEntries(names.map((c) => [c, pl.Utf8]));
  const readCsv = (f: string) => pl.scanCSV(f, { sep, hasHeader: true, schema, rowIndexName: ROW });
  let lf: pl.LazyDataFrame;
  // For a row of `lf`: the record it came from.
  let origins: pl.LazyDataFrame;
  if (badCount === 0 && blankCount === 0) {
    lf = readCsv(file);
    origins = classified.filter(pl.col('rec').gt(0)).select(pl.col('rec').sub(1).alias('k'), pl.col('row'), pl.col('line'), pl.col('text'));
  } else {
    const good = pl.col('rec').gt(0).and(pl.col('blank').not()).and(malformed.not());
    const clean = path.join(opts.dir, 'clean.csv');
    await readingData(label, () =>
      classified
        .filter(pl.col('rec').eq(0).or(good))
        .select(pl.col('text'))
        .sinkCSV(clean, { includeHeader: false, quoteStyle: 'never', separator: ctl.sep, lineTerminator: '\n' })
        .collect(),
    );
    lf = readCsv(clean);
    origins = classified.filter(good).select(pl.col('row'), pl.col('line'), pl.col('text')).withRowIndex('k');
  }

  return {
    lf,
    columns: names.map((name) => ({ name, dtype: pl.Utf8 })),
    mode: 'text',
    structural,
    sourceRows: Number(counts.records),
    locate: async (rows) => {
      const df = await origins.filter(pl.col('k').isIn(rows)).collect();
      return new Map(
        df.toRecords().map((r): [number, RecordOrigin] => [Number(r.k), { row: Number(r.row), line: Number(r.line), raw: (r.text as string | null) ?? null }]),
      );
    },
  };
}

function checkHeader(names: string[], label: string): void {
  if (!names.length) throw invalidInput(`${label}: no header line`);
  names.forEach((name, i) => {
    if (name.trim() === '') throw invalidInput(`${label}: line 1: column ${i + 1} of the header has no name`);
    if (names.indexOf(name) !== i) throw invalidInput(`${label}: line 1: the header names column ${JSON.stringify(name)} more than once`);
  });
}
