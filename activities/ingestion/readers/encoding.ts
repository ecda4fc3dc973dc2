import fs from 'node:fs';
import path from 'node:path';
import { isUtf8 } from 'node:buffer';
import { pipeline } from 'node:stream/promises';
import type { TextEncoding } from '../../../pipelines/steps/ingestion';
import { invalidInput } from '../../../pipelines/failures';

/**
 * Text sources as UTF-8, which polars reads. A UTF-8 source is checked, not copied: polars would
 * otherwise replace bad bytes by U+FFFD without a word, so the first one fails the step with its
 * line and byte offset. Other encodings are transcoded into the step's directory.
 */
export async function utf8File(file: string, encoding: TextEncoding | undefined, opts: { label: string; dir: string }): Promise<string> {
  if (!encoding || encoding === 'utf-8') {
    await checkUtf8(file, opts.label);
    return file;
  }
  const out = path.join(opts.dir, 'source.utf8');
  const decode = decoder(encoding);
  try {
    await pipeline(
      fs.createReadStream(file, { highWaterMark: 1 << 20 }),
      async function* (src) {
        for await (const chunk of src) yield Buffer.from(decode(chunk as Buffer, false), 'utf8');
        yield Buffer.from(decode(Buffer.alloc(0), true), 'utf8');
      },
      fs.createWriteStream(out),
    );
  } catch (e) {
    if (e instanceof TypeError) throw invalidInput(`${opts.label}: not valid ${encoding} text: ${e.message}`);
    throw e;
  }
  return out;
}

/** A streaming decoder: chunk -> text, `end` flushing what a split sequence left. */
function decoder(encoding: Exclude<TextEncoding, 'utf-8'>): (chunk: Buffer, end: boolean) => string {
  // TextDecoder('latin1') is windows-1252 (as the WHATWG Encoding standard says); ISO-8859-1
  // proper maps every byte to the code point of the same value, which is Buffer's 'latin1'.
  if (encoding === 'latin1') return (chunk) => chunk.toString('latin1');
  const d = new TextDecoder(encoding, { fatal: true });
  return (chunk, end) => d.decode(chunk, { stream: !end });
}

/** Fails naming the line and byte offset of the first byte sequence that is not UTF-8. */
export async function checkUtf8(file: string, label: string): Promise<void> {
  let offset = 0; // of `carry`'s first byte
  let carry = Buffer.alloc(0);
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 << 20 })) {
    const buf = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    const keep = incompleteTail(buf);
    const whole = buf.subarray(0, buf.length - keep);
    if (!isUtf8(whole)) return notUtf8(file, label, offset + firstInvalid(whole), whole, firstInvalid(whole));
    offset += whole.length;
    carry = Buffer.from(buf.subarray(buf.length - keep));
  }
  if (carry.length) return notUtf8(file, label, offset, carry, 0);
}

async function notUtf8(file: string, label: string, at: number, buf: Buffer, i: number): Promise<never> {
  const bytes = Array.from(buf.subarray(i, i + 4), (b) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`).join(' ');
  const line = (await newlinesBefore(file, at)) + 1;
  throw invalidInput(
    `${label}: line ${line}, byte offset ${at}: bytes that are not UTF-8 (${bytes}): ` +
      'if the file is in another encoding, set source.encoding (latin1, windows-1252 or utf-16le)',
    { line, byteOffset: at },
  );
}

async function newlinesBefore(file: string, end: number): Promise<number> {
  if (end === 0) return 0;
  let n = 0;
  for await (const chunk of fs.createReadStream(file, { end: end - 1, highWaterMark: 4 << 20 })) {
    const b = chunk as Buffer;
    for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  }
  return n;
}

/** Bytes at the end of `buf` that begin a multi-byte sequence the next chunk may complete. */
function incompleteTail(buf: Buffer): number {
  for (let k = 1; k <= Math.min(3, buf.length); k++) {
    const b = buf[buf.length - k]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > k ? k : 0;
  }
  return 0;
}

/** Index of the first byte of `buf` where UTF-8 decoding fails (buf is known to be invalid). */
function firstInvalid(buf: Buffer): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    const n = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (n === 0 || i + n > buf.length || !isUtf8(buf.subarray(i, i + n))) return i;
    i += n;
  }
  return buf.length;
}
