/**
 * Thrift's compact protocol, read into a tree that keeps every field's id and type and written
 * back byte for byte: enough to edit a Parquet footer (FileMetaData) without a schema of it, so
 * fields this code does not know survive untouched.
 */

export const enum CType {
  BoolTrue = 1,
  BoolFalse = 2,
  I8 = 3,
  I16 = 4,
  I32 = 5,
  I64 = 6,
  Double = 7,
  Binary = 8,
  List = 9,
  Set = 10,
  Map = 11,
  Struct = 12,
}

export type TValue = boolean | number | bigint | Uint8Array | TList | TMap | TStruct;
export interface TField {
  id: number;
  type: CType;
  value: TValue;
}
export interface TStruct {
  kind: 'struct';
  fields: TField[];
}
export interface TList {
  kind: 'list';
  set: boolean;
  elemType: CType;
  items: TValue[];
}
export interface TMap {
  kind: 'map';
  keyType: CType;
  valueType: CType;
  entries: [TValue, TValue][];
}

export class ThriftError extends Error {
  override name = 'ThriftError';
}

export class CompactReader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  private byte(): number {
    if (this.pos >= this.buf.length) throw new ThriftError(`unexpected end of data at byte ${this.pos}`);
    return this.buf[this.pos++]!;
  }

  private varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.byte();
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 70n) throw new ThriftError(`varint too long at byte ${this.pos}`);
    }
  }

  private zigzag(): bigint {
    const v = this.varint();
    return (v >> 1n) ^ -(v & 1n);
  }

  readStruct(): TStruct {
    const fields: TField[] = [];
    let lastId = 0;
    for (;;) {
      const header = this.byte();
      if (header === 0) return { kind: 'struct', fields };
      const type = (header & 0x0f) as CType;
      const delta = header >> 4;
      const id = delta ? lastId + delta : Number(this.zigzag());
      lastId = id;
      const value = type === CType.BoolTrue ? true : type === CType.BoolFalse ? false : this.readValue(type);
      fields.push({ id, type, value });
    }
  }

  private readValue(type: CType): TValue {
    switch (type) {
      case CType.BoolTrue:
      case CType.BoolFalse:
        return this.byte() === 1; // inside lists and maps: one byte
      case CType.I8: {
        const b = this.byte();
        return b > 127 ? b - 256 : b;
      }
      case CType.I16:
      case CType.I32:
        return Number(this.zigzag());
      case CType.I64:
        return this.zigzag();
      case CType.Double: {
        const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 8).getFloat64(0, true);
        this.pos += 8;
        return v;
      }
      case CType.Binary: {
        const n = Number(this.varint());
        if (this.pos + n > this.buf.length) throw new ThriftError(`binary of ${n} bytes runs past the end at byte ${this.pos}`);
        const v = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
        return v;
      }
      case CType.List:
      case CType.Set: {
        const header = this.byte();
        const elemType = (header & 0x0f) as CType;
        const size = header >> 4 === 15 ? Number(this.varint()) : header >> 4;
        const items: TValue[] = [];
        for (let i = 0; i < size; i++) items.push(this.readValue(elemType));
        return { kind: 'list', set: type === CType.Set, elemType, items };
      }
      case CType.Map: {
        const size = Number(this.varint());
        if (size === 0) return { kind: 'map', keyType: 0 as CType, valueType: 0 as CType, entries: [] };
        const kv = this.byte();
        const keyType = (kv >> 4) as CType;
        const valueType = (kv & 0x0f) as CType;
        const entries: [TValue, TValue][] = [];
        for (let i = 0; i < size; i++) entries.push([this.readValue(keyType), this.readValue(valueType)]);
        return { kind: 'map', keyType, valueType, entries };
      }
      case CType.Struct:
        return this.readStruct();
      default:
        throw new ThriftError(`unknown compact type ${type as number} at byte ${this.pos}`);
    }
  }
}

export class CompactWriter {
  private chunks: number[] = [];

  bytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }

  private varint(v: bigint): void {
    let x = v;
    while (x >= 0x80n) {
      this.chunks.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.chunks.push(Number(x));
  }

  private zigzag(v: bigint): void {
    this.varint(v >= 0n ? v << 1n : ((-v) << 1n) - 1n);
  }

  writeStruct(s: TStruct): void {
    let lastId = 0;
    for (const f of s.fields) {
      const type = f.type === CType.BoolTrue || f.type === CType.BoolFalse ? (f.value ? CType.BoolTrue : CType.BoolFalse) : f.type;
      const delta = f.id - lastId;
      if (delta > 0 && delta <= 15) this.chunks.push((delta << 4) | type);
      else {
        this.chunks.push(type);
        this.zigzag(BigInt(f.id));
      }
      lastId = f.id;
      if (type !== CType.BoolTrue && type !== CType.BoolFalse) this.writeValue(type, f.value);
    }
    this.chunks.push(0);
  }

  private writeValue(type: CType, v: TValue): void {
    switch (type) {
      case CType.BoolTrue:
      case CType.BoolFalse:
        this.chunks.push(v ? 1 : 2);
        return;
      case CType.I8:
        this.chunks.push((v as number) & 0xff);
        return;
      case CType.I16:
      case CType.I32:
        this.zigzag(BigInt(v as number));
        return;
      case CType.I64:
        this.zigzag(v as bigint);
        return;
      case CType.Double: {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setFloat64(0, v as number, true);
        this.chunks.push(...b);
        return;
      }
      case CType.Binary: {
        const b = v as Uint8Array;
        this.varint(BigInt(b.length));
        for (const x of b) this.chunks.push(x);
        return;
      }
      case CType.List:
      case CType.Set: {
        const l = v as TList;
        if (l.items.length < 15) this.chunks.push((l.items.length << 4) | l.elemType);
        else {
          this.chunks.push(0xf0 | l.elemType);
          this.varint(BigInt(l.items.length));
        }
        for (const item of l.items) this.writeValue(l.elemType, item);
        return;
      }
      case CType.Map: {
        const m = v as TMap;
        this.varint(BigInt(m.entries.length));
        if (!m.entries.length) return;
        this.chunks.push((m.keyType << 4) | m.valueType);
        for (const [k, val] of m.entries) {
          this.writeValue(m.keyType, k);
          this.writeValue(m.valueType, val);
        }
        return;
      }
      case CType.Struct:
        this.writeStruct(v as TStruct);
        return;
      default:
        throw new ThriftError(`unknown compact type ${type as number}`);
    }
  }
}

/** The field with this id, if present. */
export function field(s: TStruct, id: number): TField | undefined {
  return s.fields.find((f) => f.id === id);
}

/** Sets (or adds, keeping ids in order) a field. */
export function setField(s: TStruct, id: number, type: CType, value: TValue): void {
  const f = field(s, id);
  if (f) {
    f.type = type;
    f.value = value;
    return;
  }
  const at = s.fields.findIndex((x) => x.id > id);
  const nf = { id, type, value };
  if (at < 0) s.fields.push(nf);
  else s.fields.splice(at, 0, nf);
}
