import fs from 'node:fs';
import { once } from 'node:events';
import { invalidInput } from '../../../pipelines/failures';

/**
 * A JSON array, rewritten as JSON Lines (one element per line), so that each element is checked
 * and quarantined like a line of JSON Lines: one non-object element is one bad row, not a failed
 * file. A byte-level scan (strings and nesting tracked) finds where elements begin and end;
 * newlines between tokens become spaces. A raw newline inside a string is invalid JSON, and stays
 * so (it becomes a control byte), so that element is reported as invalid rather than altered.
 *
 * Only the array itself must be well formed (an opening `[`, a closing `]`, nothing after it):
 * otherwise the whole file fails. Returns, for each element, the 1-based line it starts on.
 */
export async function jsonArrayToLines(file: string, out: string, label: string): Promise<number[]> {
  const fail = (why: string) => invalidInput(`${label}: not a valid JSON array of objects: ${why}`);
  const starts: number[] = [];
  const sink = fs.createWriteStream(out);
  // What a chunk contributes, written at once when the chunk is done (one write per chunk).
  let pending: Buffer[] = [];
  const write = (b: Buffer) => void pending.push(b);
  const flush = async () => {
    if (pending.length && !sink.write(Buffer.concat(pending))) await once(sink, 'drain');
    pending = [];
  };
  const NL = Buffer.from('\n');
  const EMPTY = Buffer.from('(empty element)\n');
  type State = 'before' | 'expect' | 'element' | 'end';
  let state: State = 'before';
  let line = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let offset = 0;
  let sawComma = false; // the last token was a comma between elements
  try {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
      const b = Buffer.from(chunk as Buffer); // a copy: newlines in elements are rewritten in place
      let seg = state === 'element' ? 0 : -1;
      for (let i = 0; i < b.length; i++) {
        const c = b[i]!;
        if (state === 'element') {
          if (inString) {
            if (escaped) escaped = false;
            else if (c === 0x5c) escaped = true;
            else if (c === 0x22) inString = false;
            else if (c === 0x0a || c === 0x0d) b[i] = 0x01;
          } else if (c === 0x22) inString = true;
          else if (c === 0x7b || c === 0x5b) depth++;
          else if ((c === 0x7d || c === 0x5d) && depth > 0) depth--;
          else if (depth === 0 && (c === 0x2c || c === 0x5d)) {
            write(b.subarray(seg, i));
            write(NL);
            seg = -1;
            state = c === 0x2c ? 'expect' : 'end';
            sawComma = c === 0x2c;
          } else if (c === 0x0a || c === 0x0d) b[i] = 0x20;
        } else if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
          // whitespace between tokens
        } else if (state === 'before') {
          const bom = offset + i < 3 && (c === 0xef || c === 0xbb || c === 0xbf);
          if (!bom) {
            if (c !== 0x5b) throw fail(`line ${line}: expected "[" at the start`);
            state = 'expect';
          }
        } else if (state === 'expect') {
          if (c === 0x5d || c === 0x2c) {
            // `[]` is empty; an element left out (`[1,,2]`, `[1,]`, `[,1]`) is a bad row.
            if (c === 0x2c || sawComma) {
              starts.push(line);
              write(EMPTY);
            }
            sawComma = c === 0x2c;
            if (c === 0x5d) state = 'end';
          } else {
            state = 'element';
            starts.push(line);
            depth = 0;
            inString = false;
            escaped = false;
            seg = i;
            i--; // read this byte as the element's first
          }
        } else {
          throw fail(`line ${line}: text after the closing "]"`);
        }
        if (c === 0x0a) line++;
      }
      if (seg >= 0) write(b.subarray(seg));
      await flush();
      offset += b.length;
    }
    if (state !== 'end') throw fail(state === 'before' ? 'the file is empty' : 'the array is never closed (is the file truncated?)');
  } finally {
    sink.end();
    await once(sink, 'close').catch(() => undefined);
  }
  return starts;
}
