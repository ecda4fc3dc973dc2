import pl from 'nodejs-polars';

/**
 * Where the records of a CSV/TSV file begin and end, with malformed quoting costing only the line
 * it is on (as pandas' `on_bad_lines` and DuckDB's `ignore_errors` resynchronise at the next line).
 *
 * Quote parity alone cannot tell a stray quote (`2012,x"y,3`) from a quoted field that continues
 * on the next line, so one stray quote used to swallow the rest of the file into one record. Here
 * each raw line is classified by regular expressions (polars, vectorized) against RFC 4180: a quote
 * opens a field only at its start (spaces before it allowed), `""` is an escaped quote inside one,
 * and a closing quote is followed by a separator or the end of the line; in CSV a quote elsewhere
 * is malformed, in TSV only a lone one. Only lines holding a quote
 * are classified; a small state machine in JavaScript then walks those (one code per line) to join
 * the lines of quoted fields that span lines. A record that cannot be completed (its quote never
 * closes properly) is bad on its first line only, and reading resumes at the line after it.
 */

/** How a line can take part in a record (bits of one code per line). */
const FULL = 1; // a whole record on its own
const OPENS = 2; // starts a record and ends inside a quoted field
const CONT = 4; // inside a quoted field: stays inside
const CLOSES = 8; // inside a quoted field: closes it and ends the record
const REOPENS = 16; // inside: closes the field, then opens another that continues

/** Why a line's quoting is bad (0: it is not). */
export const QUOTE_OK = 0;
export const STRAY_QUOTE = 1;
export const NEVER_CLOSED = 2;

export const QUOTE_REASONS: Record<number, string> = {
  [STRAY_QUOTE]: 'malformed quoting: a quote inside an unquoted field, or text after a closing quote',
  [NEVER_CLOSED]: 'a quoted field is never closed',
};

function patterns(sep: string) {
  const S = sep === '\t' ? '\\t' : sep;
  const inQuotes = '(?:[^"]|"")*';
  const quoted = ` *"${inQuotes}" *`;
  // In CSV a quote inside a field that does not start with one is malformed (RFC 4180, DuckDB's
  // strict mode). TSV files often hold quotes as text (`say "hi"`): there, pairs of them inside a
  // field are allowed, as polars' reader takes them; a lone one (`5" screen`) would make polars
  // read on into the next lines, so it is malformed too.
  const unquoted = sep === '\t' ? `(?:[^"${S}]+(?:"[^"]*"[^"${S}]*)*)?` : `[^"${S}]*`;
  const field = `(?:${quoted}|${unquoted})`;
  const rest = `(?:${S}${field})*\\r?`;
  return {
    [FULL]: `^${field}${rest}$`,
    [OPENS]: `^(?:${field}${S})* *"${inQuotes}$`,
    [CONT]: `^${inQuotes}$`,
    [CLOSES]: `^${inQuotes}" *${rest}$`,
    [REOPENS]: `^${inQuotes}" *(?:${S}${field})*${S} *"${inQuotes}$`,
  };
}

function lineCode(text: pl.Expr, sep: string): pl.Expr {
  const bits = Object.entries(patterns(sep)).map(([b, re]) => pl.when(text.str.contains(re)).then(pl.lit(Number(b))).otherwise(pl.lit(0)));
  return bits.slice(1).reduce((a, b) => a.add(b), bits[0]!).cast(pl.Int32);
}

export interface LineStructure {
  /** Lines that continue the record of the line before them (inside a quoted field). */
  continuation: number[];
  /** Lines whose quoting is bad, and why (STRAY_QUOTE, NEVER_CLOSED): each one a record of its own. */
  bad: Map<number, number>;
}

/**
 * Classifies the lines that hold a quote (`lines`: line, text, q = number of quotes) and walks
 * them. Lines without a quote are whole records outside a quoted
 * field and continuations inside one.
 */
export async function lineStructure(lines: pl.LazyDataFrame, sep: string): Promise<LineStructure> {
  const quoted = lines.filter(pl.col('q').gt(0));
  // The common case, checked with one pattern: every quoted line is a whole record.
  const partial = await quoted.filter(pl.col('text').str.contains(patterns(sep)[FULL]!).not()).select(pl.len()).collect();
  if (Number(partial.row(0)[0]) === 0) return { continuation: [], bad: new Map() };
  const df = await quoted.select(pl.col('line'), lineCode(pl.col('text'), sep).alias('code')).collect();
  const at = Int32Array.from(df.getColumn('line').toArray() as number[]);
  const codes = Int32Array.from(df.getColumn('code').toArray() as number[]);
  const continuation: number[] = [];
  const bad = new Map<number, number>();
  let i = 0; // index into at/codes: the next quoted line at or after the reading position
  while (i < at.length) {
    const code = codes[i]!;
    if (code & FULL) {
      i++;
      continue;
    }
    if (!(code & OPENS)) {
      bad.set(at[i]!, STRAY_QUOTE);
      i++;
      continue;
    }
    // A quoted field spans lines: the lines without quotes in between stay inside it.
    let j = i + 1;
    let closed = false;
    for (; j < at.length; j++) {
      const c = codes[j]!;
      if (c & CLOSES) {
        closed = true;
        break;
      }
      if (!(c & (CONT | REOPENS))) break;
    }
    if (closed) {
      for (let line = at[i]! + 1; line <= at[j]!; line++) continuation.push(line);
      i = j + 1;
    } else {
      // Never closed (at the end of the file, or by a line that cannot close it): the opening
      // line alone is bad, and reading resumes at the line after it.
      bad.set(at[i]!, NEVER_CLOSED);
      i++;
    }
  }
  return { continuation, bad };
}

/**
 * Separators outside quotes, plus one: the record's field count. Meaningful for records whose
 * quoting is well formed, where every quote pairs up (quoted fields, and in TSV quoted text).
 */
export function fieldCount(text: pl.Expr, sep: string): pl.Expr {
  const stripped = text.str.replaceAll('"(?:[^"]|"")*"', '');
  return stripped.str.lengths().sub(stripped.str.replaceAll(sep, '', true).str.lengths()).cast(pl.Int64).add(1).cast(pl.Int64);
}

/** The fields of one record's text, unquoted as cells are (`""` -> `"`); for the header. */
export function splitRecord(text: string, sep: string): string[] {
  const fields: string[] = [];
  let i = 0;
  const s = text.replace(/\r$/, '');
  for (;;) {
    let j = i;
    while (s[j] === ' ') j++;
    if (s[j] === '"') {
      let v = '';
      let k = j + 1;
      for (;;) {
        const q = s.indexOf('"', k);
        if (q === -1) {
          v += s.slice(k);
          k = s.length;
          break;
        }
        v += s.slice(k, q);
        if (s[q + 1] === '"') {
          v += '"';
          k = q + 2;
        } else {
          k = q + 1;
          break;
        }
      }
      fields.push(v);
      const next = s.indexOf(sep, k);
      if (next === -1) break;
      i = next + 1;
    } else {
      const next = s.indexOf(sep, i);
      fields.push(next === -1 ? s.slice(i) : s.slice(i, next));
      if (next === -1) break;
      i = next + 1;
    }
  }
  return fields;
}
