import fs from 'node:fs';
import { CompactReader, CompactWriter, CType, field, setField, type TList, type TStruct } from './thrift-compact';

/**
 * Concatenates Parquet files of the same schema into one, without decoding a page: the row groups
 * (and whatever else lies between a file's header and its footer: page indexes, bloom filters) are
 * copied byte for byte, and one footer lists every row group, with each file offset moved by where
 * its bytes landed. What a re-encode through polars costs per row, this costs per file.
 *
 * The files' schemas (and key-value metadata, where Arrow keeps its own schema) must be equal byte
 * for byte, else ParquetMergeError: the caller decides whether to re-encode instead.
 */

const MAGIC = Buffer.from('PAR1');

export class ParquetMergeError extends Error {
  override name = 'ParquetMergeError';
}

// Field ids of parquet.thrift.
const FMD = { version: 1, schema: 2, numRows: 3, rowGroups: 4, keyValue: 5, createdBy: 6, columnOrders: 7, encryption: 8 } as const;
const RG = { columns: 1, numRows: 3, fileOffset: 5, ordinal: 7 } as const;
const CC = { fileOffset: 2, metaData: 3, offsetIndexOffset: 4, columnIndexOffset: 6, cryptoMetadata: 8 } as const;
const CMD = { dataPageOffset: 9, indexPageOffset: 10, dictionaryPageOffset: 11, bloomFilterOffset: 14 } as const;

interface ParquetFooter {
  file: string;
  meta: TStruct;
  /** Bytes between the header and the footer: [4, dataEnd). */
  dataEnd: number;
  rows: bigint;
}

/** Reads a Parquet file's footer (FileMetaData). */
export function readFooter(file: string): ParquetFooter {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 12) throw new ParquetMergeError(`${file}: ${size} bytes is too short for Parquet`);
    const head = Buffer.alloc(4);
    fs.readSync(fd, head, 0, 4, 0);
    const tail = Buffer.alloc(8);
    fs.readSync(fd, tail, 0, 8, size - 8);
    if (!head.equals(MAGIC) || !tail.subarray(4).equals(MAGIC)) throw new ParquetMergeError(`${file}: not a Parquet file (no PAR1 magic)`);
    const len = tail.readUInt32LE(0);
    const dataEnd = size - 8 - len;
    if (dataEnd < 4) throw new ParquetMergeError(`${file}: footer length ${len} does not fit in ${size} bytes`);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, dataEnd);
    const meta = new CompactReader(buf).readStruct();
    if (field(meta, FMD.encryption)) throw new ParquetMergeError(`${file}: encrypted footers are not merged`);
    const rows = field(meta, FMD.numRows)?.value;
    if (typeof rows !== 'bigint') throw new ParquetMergeError(`${file}: footer without num_rows`);
    return { file, meta, dataEnd, rows };
  } finally {
    fs.closeSync(fd);
  }
}

/** Row groups of a Parquet file. */
export function rowGroupCount(file: string): number {
  return ((field(readFooter(file).meta, FMD.rowGroups)?.value as TList | undefined)?.items ?? []).length;
}

const encode = (s: TStruct | undefined, id: number): string => {
  const f = s && field(s, id);
  if (!f) return '';
  const w = new CompactWriter();
  w.writeStruct({ kind: 'struct', fields: [f] });
  return Buffer.from(w.bytes()).toString('base64');
};

/** Moves an optional i64 offset field by `delta`. */
function shift(s: TStruct, id: number, delta: bigint): void {
  const f = field(s, id);
  if (f && typeof f.value === 'bigint') f.value += delta;
}

/** Writes `out`: the files' rows in order, in one Parquet file. Returns the number of rows. */
export async function mergeParquetFiles(files: string[], out: string): Promise<number> {
  if (!files.length) throw new ParquetMergeError('no files to merge');
  const footers = files.map(readFooter);
  const first = footers[0]!;
  const schema = encode(first.meta, FMD.schema);
  const kv = encode(first.meta, FMD.keyValue);
  for (const f of footers.slice(1)) {
    if (encode(f.meta, FMD.schema) !== schema) throw new ParquetMergeError(`${f.file}: schema differs from ${first.file}'s`);
    if (encode(f.meta, FMD.keyValue) !== kv) throw new ParquetMergeError(`${f.file}: key-value metadata differs from ${first.file}'s`);
  }

  const rowGroups: TStruct[] = [];
  let rows = 0n;
  const w = fs.createWriteStream(out);
  const write = (b: Uint8Array) => new Promise<void>((resolve, reject) => w.write(b, (e) => (e ? reject(e) : resolve())));
  try {
    await write(MAGIC);
    let pos = 4n;
    for (const f of footers) {
      // Byte 4 of this file lands at `pos`: every absolute offset moves by pos - 4.
      const delta = pos - 4n;
      const groups = field(f.meta, FMD.rowGroups)?.value as TList | undefined;
      for (const item of groups?.items ?? []) {
        const rg = item as TStruct;
        shift(rg, RG.fileOffset, delta);
        for (const c of (field(rg, RG.columns)?.value as TList | undefined)?.items ?? []) {
          const cc = c as TStruct;
          if (field(cc, CC.cryptoMetadata)) throw new ParquetMergeError(`${f.file}: encrypted columns are not merged`);
          shift(cc, CC.fileOffset, delta);
          shift(cc, CC.offsetIndexOffset, delta);
          shift(cc, CC.columnIndexOffset, delta);
          const md = field(cc, CC.metaData)?.value as TStruct | undefined;
          if (md) for (const id of Object.values(CMD)) shift(md, id, delta);
        }
        if (field(rg, RG.ordinal)) setField(rg, RG.ordinal, CType.I16, rowGroups.length);
        rowGroups.push(rg);
      }
      rows += f.rows;
      const fd = fs.openSync(f.file, 'r');
      try {
        const chunk = Buffer.allocUnsafe(1 << 20);
        for (let at = 4; at < f.dataEnd; ) {
          const n = fs.readSync(fd, chunk, 0, Math.min(chunk.length, f.dataEnd - at), at);
          if (n <= 0) throw new ParquetMergeError(`${f.file}: short read at byte ${at}`);
          await write(chunk.subarray(0, n));
          at += n;
        }
      } finally {
        fs.closeSync(fd);
      }
      pos += BigInt(f.dataEnd - 4);
    }

    const meta: TStruct = { kind: 'struct', fields: first.meta.fields.map((x) => ({ ...x })) };
    setField(meta, FMD.numRows, CType.I64, rows);
    setField(meta, FMD.rowGroups, CType.List, { kind: 'list', set: false, elemType: CType.Struct, items: rowGroups });
    const footer = new CompactWriter();
    footer.writeStruct(meta);
    const bytes = footer.bytes();
    const len = Buffer.alloc(4);
    len.writeUInt32LE(bytes.length, 0);
    await write(bytes);
    await write(len);
    await write(MAGIC);
  } finally {
    await new Promise<void>((resolve, reject) => {
      w.once('error', reject);
      w.end(() => resolve());
    });
  }
  if (rows > BigInt(Number.MAX_SAFE_INTEGER)) throw new ParquetMergeError(`${rows} rows`);
  return Number(rows);
}
