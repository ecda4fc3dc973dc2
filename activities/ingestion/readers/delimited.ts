import path from 'node:path';
import pl from 'nodejs-polars';
import { lazySchema, scalar } from '../polars';
import { badRowsFailure, type BadRecord } from '../quarantine';
import { ROW } from '../schema';
import { countChar, isBlank, pickRawControls, rawLines, readingData } from './lines';
import type { ReadOptions, RecordOrigin, SourceTable } from './types';
import { invalidInput } from '../../../pipelines/failures';

/**
 * CSV and TSV (RFC 4180 quoting with `"`; the first record is the header).
 *
 * Structure is checked before the data is parsed, on the raw lines (polars expressions over the
 * whole file, streamed): quote parity tells which lines continue a quoted field, so records that
 * span lines are put together; then each record's field count (separators outside quotes) is
 * compared with the header's. Records with the wrong count, or a quote never closed, are malformed
 * and reported with the line they start on. Blank lines are skipped, as pandas does.
 *
 * The data is then read by polars' CSV reader with every column as text (types are inferred or
 * declared afterwards). When some records were malformed or blank, polars reads a cleaned copy
 * holding only the good records, so its row i is always the i-th good record.
 */
export async function openDelimited(file: string, sep: ',' | '\t', opts: ReadOptions): Promise<SourceTable> {
  const { label, budget } = opts;
  const names = await readingData(label, async () => (await lazySchema(pl.scanCSV(file, { sep, hasHeader: true, inferSchemaLength: 0 }))).map((c) => c.name));
  checkHeader(names, label);
  const n = names.length;

  const ctl = await pickRawControls(file, label);
  const lines = rawLines(file, ctl).withColumns(countChar(pl.col('text'), '"').alias('q'));
  const withParity = lines.withColumns(pl.col('q').cumSum().sub(pl.col('q')).modulo(2).alias('open'));
  const continued = await readingData(label, () => scalar(withParity.select(pl.col('open').sum())));

  // One row per record: rec (0 = header), the line it starts on, its text.
  const records: pl.LazyDataFrame =
    continued === 0
      ? lines.select(pl.col('line').sub(1).alias('rec'), pl.col('line'), pl.col('text'))
      : withParity
          .withColumns(pl.col('open').eq(0).cast(pl.Int64).cumSum().sub(1).alias('rec'))
          .groupBy('rec', true)
          .agg(pl.col('line').first(), pl.col('text').fillNull('').str.concat('\n', false))
          .sort('rec');

  const outside = pl.col('text').str.replaceAll('"(?:[^"]|"")*"', '');
  const classified = records.withColumns(
    isBlank(pl.col('text')).alias('blank'),
    countChar(pl.col('text'), '"').modulo(2).eq(1).alias('unterminated'),
    countChar(outside, sep).add(1).cast(pl.Int64).alias('fields'),
  ).withColumns(
    // The record's number among data records, blank lines not counted (header: 0).
    pl.col('rec').sub(pl.col('blank').cast(pl.Int64).cumSum()).alias('row'),
  );
  const malformed = pl.col('rec').gt(0).and(pl.col('blank').not()).and(pl.col('unterminated').or(pl.col('fields').neq(n)));
  const reason = pl
    .when(pl.col('unterminated'))
    .then(pl.lit('a quoted field is never closed'))
    .otherwise(pl.concatString([pl.lit(`expected ${n} field${n === 1 ? '' : 's'}, found `), pl.col('fields').cast(pl.Utf8)], ''));

  const counts = await readingData(label, async () =>
    (
      await classified
        .select(
          malformed.sum().alias('bad'),
          pl.col('rec').gt(0).and(pl.col('blank')).sum().alias('blank'),
          pl.col('rec').eq(0).and(pl.col('unterminated')).sum().alias('badHeader'),
        )
        .collect()
    ).toRecords()[0]!,
  );
  if (Number(counts.badHeader)) throw invalidInput(`${label}: line 1: the header has a quoted field that is never closed`);
  const badCount = Number(counts.bad);
  const blankCount = Number(counts.blank);

  const badRecords = async (limit?: number): Promise<BadRecord[]> => {
    let q = classified.filter(malformed).select(pl.col('row'), pl.col('line'), reason.alias('reason'), pl.col('text'));
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
    const m = /^(.*)_duplicated_\d+$/.exec(name);
    if (m && names.includes(m[1]!)) throw invalidInput(`${label}: line 1: the header names column ${JSON.stringify(m[1])} more than once`);
  });
}
