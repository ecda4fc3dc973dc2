/**
 * A small, dependency-free protobuf writer for the subset of onnx.proto that classical models
 * need: ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto,
 * TypeProto (tensor, sequence, map), TensorShapeProto, OperatorSetIdProto and
 * StringStringEntryProto. Field numbers are those of onnx/onnx.proto (proto2).
 *
 * Repeated numeric fields are written packed: onnx.proto declares TensorProto's data fields
 * packed, and every protobuf parser (onnxruntime's included) accepts packed encoding for the
 * other repeated scalars as well, which keeps large tree ensembles compact.
 */

// ---------------------------------------------------------------------------------------------
// Wire format

export const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

const utf8 = new TextEncoder();

/** Growable byte buffer with the protobuf primitives. */
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;
  private readonly view = () => new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  get length(): number {
    return this.len;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  byte(b: number): this {
    this.ensure(1);
    this.buf[this.len++] = b & 0xff;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }

  /**
   * Base-128 varint of an integer. Negative values (int64/int32 fields) are written as their
   * 64-bit two's complement, ten bytes, as protobuf requires.
   */
  varint(v: number | bigint): this {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new TypeError(`varint of a non-integer: ${v}`);
      if (v >= 0 && v <= 0x7fffffff) {
        // fast path
        let x = v;
        while (x > 0x7f) {
          this.byte((x & 0x7f) | 0x80);
          x >>>= 7;
        }
        return this.byte(x);
      }
      if (!Number.isSafeInteger(v)) throw new RangeError(`varint outside the safe integer range: ${v}`);
      v = BigInt(v);
    }
    let x = BigInt.asUintN(64, v);
    while (x > 0x7fn) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    return this.byte(Number(x));
  }

  tag(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  float32(v: number): this {
    this.ensure(4);
    this.view().setFloat32(this.len, v, true);
    this.len += 4;
    return this;
  }

  float64(v: number): this {
    this.ensure(8);
    this.view().setFloat64(this.len, v, true);
    this.len += 8;
    return this;
  }

  // -- fields --------------------------------------------------------------------------------

  intField(field: number, v: number | bigint): this {
    return this.tag(field, WIRE.VARINT).varint(v);
  }

  floatField(field: number, v: number): this {
    return this.tag(field, WIRE.I32).float32(v);
  }

  bytesField(field: number, b: Uint8Array): this {
    return this.tag(field, WIRE.LEN).varint(b.length).bytes(b);
  }

  stringField(field: number, s: string): this {
    return this.bytesField(field, utf8.encode(s));
  }

  /** A nested message: written to its own buffer first, then length-prefixed. */
  messageField(field: number, encode: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    encode(inner);
    return this.bytesField(field, inner.finish());
  }

  packedFloats(field: number, vs: ArrayLike<number>): this {
    if (vs.length === 0) return this;
    this.tag(field, WIRE.LEN).varint(vs.length * 4);
    for (let i = 0; i < vs.length; i++) this.float32(vs[i]!);
    return this;
  }

  packedDoubles(field: number, vs: ArrayLike<number>): this {
    if (vs.length === 0) return this;
    this.tag(field, WIRE.LEN).varint(vs.length * 8);
    for (let i = 0; i < vs.length; i++) this.float64(vs[i]!);
    return this;
  }

  packedVarints(field: number, vs: ArrayLike<number | bigint>): this {
    if (vs.length === 0) return this;
    const inner = new ProtoWriter();
    for (let i = 0; i < vs.length; i++) inner.varint(vs[i]!);
    return this.bytesField(field, inner.finish());
  }
}

// ---------------------------------------------------------------------------------------------
// The ONNX subset, as plain objects

/** TensorProto.DataType values used here. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  DOUBLE: 11,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

export type TensorData =
  | { kind: 'float'; values: ArrayLike<number> }
  | { kind: 'double'; values: ArrayLike<number> }
  | { kind: 'int64'; values: ArrayLike<number | bigint> }
  | { kind: 'int32'; values: ArrayLike<number> }
  | { kind: 'uint8'; values: ArrayLike<number> }
  | { kind: 'bool'; values: ArrayLike<number | boolean> }
  | { kind: 'string'; values: readonly string[] };

export interface TensorProtoIn {
  name?: string;
  dims: readonly number[];
  data: TensorData;
}

export type AttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number | bigint }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: TensorProtoIn }
  | { type: 'floats'; value: ArrayLike<number> }
  | { type: 'ints'; value: ArrayLike<number | bigint> }
  | { type: 'strings'; value: readonly string[] };

export interface NodeProtoIn {
  opType: string;
  domain?: string;
  name?: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Record<string, AttributeValue>;
  docString?: string;
}

/** A dimension: a fixed size, or a symbolic name (`N`). */
export type Dim = number | string;

export type TypeProtoIn =
  | { tensor: { elemType: DataTypeCode; shape?: readonly Dim[] } }
  | { sequence: TypeProtoIn }
  | { map: { keyType: DataTypeCode; valueType: TypeProtoIn } };

export interface ValueInfoIn {
  name: string;
  type: TypeProtoIn;
  docString?: string;
}

export interface GraphProtoIn {
  name: string;
  nodes: readonly NodeProtoIn[];
  initializers?: readonly TensorProtoIn[];
  inputs: readonly ValueInfoIn[];
  outputs: readonly ValueInfoIn[];
  docString?: string;
}

export interface ModelProtoIn {
  irVersion: number;
  opsets: readonly { domain: string; version: number }[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph: GraphProtoIn;
  metadata?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Encoders (field numbers from onnx.proto)

export function writeTensor(w: ProtoWriter, t: TensorProtoIn): void {
  w.packedVarints(1, t.dims); // dims
  const d = t.data;
  const dataType: Record<TensorData['kind'], number> = {
    float: DataType.FLOAT,
    double: DataType.DOUBLE,
    int64: DataType.INT64,
    int32: DataType.INT32,
    uint8: DataType.UINT8,
    bool: DataType.BOOL,
    string: DataType.STRING,
  };
  w.intField(2, dataType[d.kind]); // data_type
  switch (d.kind) {
    case 'float':
      w.packedFloats(4, d.values); // float_data
      break;
    case 'int32':
    case 'uint8': // uint8 travels in int32_data too
      w.packedVarints(5, d.values); // int32_data
      break;
    case 'bool':
      w.packedVarints(5, Array.from(d.values as ArrayLike<number | boolean>, (b) => (b ? 1 : 0))); // int32_data
      break;
    case 'string':
      for (const s of d.values) w.stringField(6, s); // string_data
      break;
    case 'int64':
      w.packedVarints(7, d.values); // int64_data
      break;
    case 'double':
      w.packedDoubles(10, d.values); // double_data
      break;
  }
  if (t.name !== undefined) w.stringField(8, t.name); // name
}

export function writeAttribute(w: ProtoWriter, name: string, a: AttributeValue): void {
  w.stringField(1, name); // name
  switch (a.type) {
    case 'float':
      w.floatField(2, a.value); // f
      w.intField(20, AttributeType.FLOAT);
      break;
    case 'int':
      w.intField(3, a.value); // i
      w.intField(20, AttributeType.INT);
      break;
    case 'string':
      w.stringField(4, a.value); // s
      w.intField(20, AttributeType.STRING);
      break;
    case 'tensor':
      w.messageField(5, (m) => writeTensor(m, a.value)); // t
      w.intField(20, AttributeType.TENSOR);
      break;
    case 'floats':
      w.packedFloats(7, a.value); // floats
      w.intField(20, AttributeType.FLOATS);
      break;
    case 'ints':
      w.packedVarints(8, a.value); // ints
      w.intField(20, AttributeType.INTS);
      break;
    case 'strings':
      for (const s of a.value) w.stringField(9, s); // strings
      w.intField(20, AttributeType.STRINGS);
      break;
  }
}

export function writeNode(w: ProtoWriter, n: NodeProtoIn): void {
  for (const i of n.inputs) w.stringField(1, i);
  for (const o of n.outputs) w.stringField(2, o);
  if (n.name !== undefined) w.stringField(3, n.name);
  w.stringField(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) w.messageField(5, (m) => writeAttribute(m, k, v));
  if (n.docString !== undefined) w.stringField(6, n.docString);
  if (n.domain) w.stringField(7, n.domain);
}

export function writeType(w: ProtoWriter, t: TypeProtoIn): void {
  if ('tensor' in t) {
    w.messageField(1, (tt) => {
      tt.intField(1, t.tensor.elemType); // elem_type
      if (t.tensor.shape) {
        const shape = t.tensor.shape;
        tt.messageField(2, (s) => {
          for (const d of shape) {
            s.messageField(1, (dim) => (typeof d === 'number' ? dim.intField(1, d) : dim.stringField(2, d)));
          }
        });
      }
    });
  } else if ('sequence' in t) {
    w.messageField(4, (s) => s.messageField(1, (e) => writeType(e, t.sequence)));
  } else {
    w.messageField(5, (m) => {
      m.intField(1, t.map.keyType);
      m.messageField(2, (v) => writeType(v, t.map.valueType));
    });
  }
}

export function writeValueInfo(w: ProtoWriter, v: ValueInfoIn): void {
  w.stringField(1, v.name);
  w.messageField(2, (t) => writeType(t, v.type));
  if (v.docString !== undefined) w.stringField(3, v.docString);
}

export function writeGraph(w: ProtoWriter, g: GraphProtoIn): void {
  for (const n of g.nodes) w.messageField(1, (m) => writeNode(m, n));
  w.stringField(2, g.name);
  for (const t of g.initializers ?? []) w.messageField(5, (m) => writeTensor(m, t));
  if (g.docString !== undefined) w.stringField(10, g.docString);
  for (const i of g.inputs) w.messageField(11, (m) => writeValueInfo(m, i));
  for (const o of g.outputs) w.messageField(12, (m) => writeValueInfo(m, o));
}

/** Serialises a ModelProto. */
export function encodeModel(m: ModelProtoIn): Uint8Array {
  const w = new ProtoWriter();
  w.intField(1, m.irVersion); // ir_version
  if (m.producerName !== undefined) w.stringField(2, m.producerName);
  if (m.producerVersion !== undefined) w.stringField(3, m.producerVersion);
  if (m.domain !== undefined) w.stringField(4, m.domain);
  if (m.modelVersion !== undefined) w.intField(5, m.modelVersion);
  if (m.docString !== undefined) w.stringField(6, m.docString);
  w.messageField(7, (g) => writeGraph(g, m.graph));
  for (const o of m.opsets) {
    w.messageField(8, (op) => {
      op.stringField(1, o.domain); // domain ('' = the default ONNX domain)
      op.intField(2, o.version);
    });
  }
  for (const [k, v] of Object.entries(m.metadata ?? {})) {
    w.messageField(14, (e) => e.stringField(1, k).stringField(2, v));
  }
  return w.finish();
}
