import fs from 'node:fs';
import path from 'node:path';
import pl from 'nodejs-polars';
import { lazySchema } from '../polars';
import { badRowsFailure, type BadRecord } from '../quarantine';
import { ROW } from '../schema';
import { isBlank, pickRawControls, rawLines, readingData } from './lines';
import { jsonArrayToLines } from './json-array';
import type { ReadOptions, RecordOrigin, SourceTable } from './types';
import { invalidInput } from '../../../pipelines/failures';

/**
 * JSON Lines: one object per line; blank lines are skipped. Each line is checked first (polars
 * parses it as JSON: `json_path_match('$')` is null for invalid JSON), so a malformed line is
 * reported with its number; when some are tolerated, polars reads a copy of the good lines only.
 * JSON's own types are kept (integers as int64, exactly, beyond 2^53 too); strings that are all
 * dates or timestamps become dates or timestamps. An integer outside the int64 range makes its
 * line bad (polars would read it as Int128, which nothing downstream holds, or round it).
 *
 * `lineOf` maps a line of `file` to the line reported (a JSON array rewritten as lines).
 */
export async function openJsonLines(file: string, opts: ReadOptions & { lineOf?: (line: number) => number }): Promise<SourceTable> {
  const { label, budget } = opts;
  const lineOf = opts.lineOf ?? ((l: number) => l);
  const ctl = await pickRawControls(file, label);
  const parsed = pl.col('text').str.jsonPathMatch('$');
  const lines = rawLines(file, ctl)
    .withColumns(isBlank(pl.col('text')).alias('blank'), parsed.isNotNull().and(pl.col('text').str.contains('^\\s*\\{')).alias('object'))
    // The record's number: blank lines not counted.
    .withColumns(pl.col('blank').not().cast(pl.Int64).cumSum().alias('row'));
  const huge = await readingData(label, () => outOfRangeIntegers(lines.filter(pl.col('object'))));
  const isHuge = huge.size ? pl.col('line').isIn([...huge.keys()]) : pl.lit(false);
  const ok = pl.col('object').and(isHuge.not());
  const bad = pl.col('blank').not().and(ok.not());
  const reason = pl.when(pl.col('object')).then(pl.lit('')).when(parsed.isNotNull()).then(pl.lit('not a JSON object')).otherwise(pl.lit('invalid JSON'));
  const counts = (await readingData(label, () => lines.select(bad.sum().alias('bad'), pl.col('blank').not().sum().alias('records')).collect())).toRecords()[0]!;
  const badCount = Number(counts.bad);

  const badRecords = async (limit?: number): Promise<BadRecord[]> => {
    let q = lines.filter(bad).select(pl.col('row'), pl.col('line'), reason.alias('reason'), pl.col('text'));
    if (limit !== undefined) q = q.head(limit);
    return (await q.collect()).toRecords().map((r) => ({
      row: Number(r.row),
      line: lineOf(Number(r.line)),
      reason: String(r.reason) || (huge.get(Number(r.line)) ?? 'an integer outside the int64 range'),
      raw: (r.text as string | null) ?? null,
    }));
  };
  if (badCount > budget) throw badRowsFailure(label, await badRecords(20), badCount, budget);
  const structural = badCount ? await badRecords() : [];

  let source = file;
  // polars' JSON reader fails on a byte-order mark; the lines read above are without it.
  const copy = badCount > 0 || (await startsWithBom(file));
  if (copy) {
    source = path.join(opts.dir, 'clean.jsonl');
    await readingData(label, () =>
      lines
        .filter(ok)
        .select(pl.col('text'))
        .sinkCSV(source, { includeHeader: false, quoteStyle: 'never', separator: ctl.sep, lineTerminator: '\n' })
        .collect(),
    );
  }
  // Row i of the read is the i-th non-blank (or, after cleaning, the i-th good) line.
  const origins = lines.filter(copy ? ok : pl.col('blank').not()).select(pl.col('row'), pl.col('line'), pl.col('text')).withRowIndex('k');
  const lf = pl.scanJson(source, { inferSchemaLength: null }).withRowIndex(ROW);
  const columns = await readingData(label, async () => (await lazySchema(lf)).filter((c) => c.name !== ROW));
  if (!columns.length) throw invalidInput(`${label}: no fields in any object`);
  return {
    lf,
    columns,
    mode: 'json',
    structural,
    sourceRows: Number(counts.records),
    locate: async (rows) => {
      const df = await origins.filter(pl.col('k').isIn(rows)).collect();
      return new Map(df.toRecords().map((r): [number, RecordOrigin] => [Number(r.k), { row: Number(r.row), line: lineOf(Number(r.line)), raw: (r.text as string | null) ?? null }]));
    },
  };
}

async function startsWithBom(file: string): Promise<boolean> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(3), 0, 3, 0);
    return bytesRead === 3 && buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf;
  } finally {
    await fh.close();
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
/** JSON text outside strings; integers of 19 digits starting with 9, or of 20 digits or more (the only ones that can exceed int64). */
const STRINGS = '"(?:[^"\\\\]|\\\\.)*"';
const CANDIDATE = '(?:^|[^0-9.eE+-])-?(?:9[0-9]{18}|[1-9][0-9]{19,})(?:[^0-9.eE]|$)';

/**
 * Lines (of objects) holding an integer outside the int64 range, with why. Lines are screened in
 * polars (strings blanked, then a pattern that only long integers match); the few candidates are
 * checked exactly in JavaScript with BigInt, naming the key where it can be told.
 */
async function outOfRangeIntegers(objects: pl.LazyDataFrame): Promise<Map<number, string>> {
  const candidates = await objects
    .filter(pl.col('text').str.replaceAll(STRINGS, '""').str.contains(CANDIDATE))
    .select('line', 'text')
    .collect();
  const out = new Map<number, string>();
  for (const r of candidates.toRecords()) {
    const text = String(r.text);
    const keyed = /"((?:[^"\\]|\\.)*)"\s*:\s*(-?\d{19,})(?![\d.eE])/g;
    const bare = text.replace(new RegExp(STRINGS, 'g'), '""');
    for (const m of bare.matchAll(/-?\d{19,}(?![\d.eE])/g)) {
      if (m.index! > 0 && /[\d.eE+]/.test(bare[m.index! - 1]!)) continue;
      const v = BigInt(m[0]);
      if (v >= INT64_MIN && v <= INT64_MAX) continue;
      const key = [...text.matchAll(keyed)].find((k) => k[2] === m[0])?.[1];
      out.set(Number(r.line), `${key !== undefined ? `column ${JSON.stringify(key)}: ` : ''}integer ${m[0]} is outside the int64 range (declare the column as float64 or string, or fix the value)`);
      break;
    }
  }
  return out;
}

/**
 * A JSON document holding an array of objects, rewritten as JSON Lines (./json-array.ts) and read
 * as such: each element is a record, a non-object element is a bad row like any other; records
 * are numbered from 1 in array order and reported with the line their element starts on.
 */
export async function openJsonArray(file: string, opts: ReadOptions): Promise<SourceTable> {
  const lines = path.join(opts.dir, 'array.jsonl');
  const starts = await jsonArrayToLines(file, lines, opts.label);
  if (!starts.length) throw invalidInput(`${opts.label}: no fields in any object (the array is empty)`);
  return openJsonLines(lines, { ...opts, lineOf: (l) => starts[l - 1] ?? l });
}
