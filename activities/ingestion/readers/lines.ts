import fs from 'node:fs';
import pl from 'nodejs-polars';
import { invalidInput } from '../../../pipelines/failures';

/**
 * A text file as a frame of its raw lines (`line`: 1-based number, `text`: the line without its
 * end-of-line, null when empty), read by polars' CSV reader with a separator and a quote character
 * that do not occur in the file, so that nothing splits or unquotes. This is how line numbers of
 * CSV and JSONL records are known without looping over lines in JavaScript.
 */

export interface RawControls {
  sep: string;
  quote: string;
}

const CANDIDATES = [0x1f, 0x1e, 0x1d, 0x1c, 0x1b, 0x1a, 0x19, 0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, 0x10, 0x0f, 0x0e, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01];

/** Two control bytes the file never contains (one native byte search per chunk and candidate). */
export async function pickRawControls(file: string, label: string): Promise<RawControls> {
  let left = CANDIDATES.slice();
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 << 20 })) {
    left = left.filter((b) => !(chunk as Buffer).includes(b));
    if (left.length < 2) break;
  }
  if (left.length < 2) throw invalidInput(`${label} does not look like a text file (it holds nearly every control character)`);
  return { sep: String.fromCharCode(left[0]!), quote: String.fromCharCode(left[1]!) };
}

export function rawLines(file: string, ctl: RawControls): pl.LazyDataFrame {
  return pl
    .scanCSV(file, { hasHeader: false, sep: ctl.sep, quoteChar: ctl.quote, schema: { text: pl.Utf8 }, rowIndexName: 'line', rowIndexOffset: 1, encoding: 'utf8-lossy' })
    .select(
      pl.col('line').cast(pl.Int64),
      // A UTF-8 byte-order mark (Excel's "CSV UTF-8") is not part of the first line's text.
      pl.when(pl.col('line').eq(1)).then(pl.col('text').str.replace('^\uFEFF', '')).otherwise(pl.col('text')).alias('text'),
    );
}

/** A line with nothing but spaces (or nothing at all). */
export function isBlank(text: pl.Expr): pl.Expr {
  return text.isNull().or(text.str.contains('^[ \\r]*$'));
}

/** Occurrences of a one-character literal in each string (0 for null). */
export function countChar(text: pl.Expr, ch: string): pl.Expr {
  // (cast before fillNull: fillNull(0) on the UInt32 lengths panics in nodejs-polars 0.26)
  return text.str.lengths().sub(text.str.replaceAll(ch, '', true).str.lengths()).cast(pl.Int64).fillNull(pl.lit(0));
}

/** Runs a polars read of the user's data, turning its parse errors into bad-input failures. */
export async function readingData<T>(label: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if ((e as { type?: string }).type === 'InvalidInput') throw e;
    throw invalidInput(`${label}: cannot read: ${(e as Error).message}`);
  }
}
