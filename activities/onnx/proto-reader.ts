/**
 * The reading half of proto-writer.ts: a tolerant protobuf reader that decodes the parts of an
 * ONNX ModelProto needed to understand a model made elsewhere (inputs, outputs, nodes and their
 * attributes, opsets, metadata). Unknown fields are skipped; large initializer payloads are
 * never copied.
 */

const utf8 = new TextDecoder('utf-8', { fatal: false });

export class ProtoDecodeError extends Error {
  override name = 'ProtoDecodeError';
}

/** One decoded field: varints as bigint, fixed32/fixed64 as raw bytes, length-delimited as a subarray. */
export type RawField = { field: number; wire: 0; value: bigint } | { field: number; wire: 1 | 5 | 2; value: Uint8Array };

export function readFields(buf: Uint8Array): RawField[] {
  const out: RawField[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new ProtoDecodeError('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) throw new ProtoDecodeError('varint too long');
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (field === 0) throw new ProtoDecodeError('field number 0');
    switch (wire) {
      case 0:
        out.push({ field, wire: 0, value: varint() });
        break;
      case 1:
        if (pos + 8 > buf.length) throw new ProtoDecodeError('truncated fixed64');
        out.push({ field, wire: 1, value: buf.subarray(pos, pos + 8) });
        pos += 8;
        break;
      case 2: {
        const n = Number(varint());
        if (pos + n > buf.length) throw new ProtoDecodeError(`truncated field ${field} (${n} bytes)`);
        out.push({ field, wire: 2, value: buf.subarray(pos, pos + n) });
        pos += n;
        break;
      }
      case 5:
        if (pos + 4 > buf.length) throw new ProtoDecodeError('truncated fixed32');
        out.push({ field, wire: 5, value: buf.subarray(pos, pos + 4) });
        pos += 4;
        break;
      default:
        throw new ProtoDecodeError(`unsupported wire type ${wire} (field ${field})`);
    }
  }
  return out;
}

const str = (f: RawField): string => (f.wire === 2 ? utf8.decode(f.value) : '');
const int = (f: RawField): number => (f.wire === 0 ? Number(BigInt.asIntN(64, f.value)) : 0);
const f32 = (b: Uint8Array, at = 0): number => new DataView(b.buffer, b.byteOffset + at, 4).getFloat32(0, true);

/** Repeated varint field, packed or not. */
export function ints(fields: RawField[], n: number): number[] {
  const out: number[] = [];
  for (const f of fields) {
    if (f.field !== n) continue;
    if (f.wire === 0) out.push(int(f));
    else if (f.wire === 2) {
      let v = 0n;
      let shift = 0n;
      for (const b of f.value) {
        v |= BigInt(b & 0x7f) << shift;
        if (b & 0x80) shift += 7n;
        else {
          out.push(Number(BigInt.asIntN(64, v)));
          v = 0n;
          shift = 0n;
        }
      }
    }
  }
  return out;
}

function floats(fields: RawField[], n: number): number[] {
  const out: number[] = [];
  for (const f of fields) {
    if (f.field !== n) continue;
    if (f.wire === 5) out.push(f32(f.value));
    else if (f.wire === 2) for (let i = 0; i + 4 <= f.value.length; i += 4) out.push(f32(f.value, i));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoded ONNX subset

export type DecodedType =
  | { kind: 'tensor'; elemType: number; shape?: (number | string | null)[] }
  | { kind: 'sequence'; elem: DecodedType | undefined }
  | { kind: 'map'; keyType: number; value: DecodedType | undefined }
  | { kind: 'other' };

export interface DecodedValueInfo {
  name: string;
  type: DecodedType | undefined;
}

export type DecodedAttribute = {
  name: string;
  f?: number;
  i?: number;
  s?: string;
  floats: number[];
  ints: number[];
  strings: string[];
};

export interface DecodedNode {
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, DecodedAttribute>;
}

export interface DecodedModel {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsets: { domain: string; version: number }[];
  metadata: Record<string, string>;
  graph: {
    name: string;
    nodes: DecodedNode[];
    initializerNames: string[];
    inputs: DecodedValueInfo[];
    outputs: DecodedValueInfo[];
  };
}

function decodeType(b: Uint8Array): DecodedType {
  for (const f of readFields(b)) {
    if (f.wire !== 2) continue;
    if (f.field === 1) {
      const t = readFields(f.value);
      let elemType = 0;
      let shape: (number | string | null)[] | undefined;
      for (const g of t) {
        if (g.field === 1) elemType = int(g);
        if (g.field === 2 && g.wire === 2) {
          shape = [];
          for (const d of readFields(g.value)) {
            if (d.field !== 1 || d.wire !== 2) continue;
            let dim: number | string | null = null;
            for (const x of readFields(d.value)) {
              if (x.field === 1) dim = int(x);
              if (x.field === 2) dim = str(x);
            }
            shape.push(dim);
          }
        }
      }
      return shape ? { kind: 'tensor', elemType, shape } : { kind: 'tensor', elemType };
    }
    if (f.field === 4) {
      const e = readFields(f.value).find((g) => g.field === 1 && g.wire === 2);
      return { kind: 'sequence', elem: e && e.wire === 2 ? decodeType(e.value) : undefined };
    }
    if (f.field === 5) {
      let keyType = 0;
      let value: DecodedType | undefined;
      for (const g of readFields(f.value)) {
        if (g.field === 1) keyType = int(g);
        if (g.field === 2 && g.wire === 2) value = decodeType(g.value);
      }
      return { kind: 'map', keyType, value };
    }
  }
  return { kind: 'other' };
}

function decodeValueInfo(b: Uint8Array): DecodedValueInfo {
  let name = '';
  let type: DecodedType | undefined;
  for (const f of readFields(b)) {
    if (f.field === 1) name = str(f);
    if (f.field === 2 && f.wire === 2) type = decodeType(f.value);
  }
  return { name, type };
}

function decodeAttribute(b: Uint8Array): DecodedAttribute {
  const fields = readFields(b);
  const a: DecodedAttribute = { name: '', floats: floats(fields, 7), ints: ints(fields, 8), strings: [] };
  for (const f of fields) {
    if (f.field === 1) a.name = str(f);
    if (f.field === 2 && f.wire === 5) a.f = f32(f.value);
    if (f.field === 3) a.i = int(f);
    if (f.field === 4) a.s = str(f);
    if (f.field === 9) a.strings.push(str(f));
  }
  return a;
}

function decodeNode(b: Uint8Array): DecodedNode {
  const n: DecodedNode = { opType: '', domain: '', name: '', inputs: [], outputs: [], attributes: new Map() };
  for (const f of readFields(b)) {
    if (f.field === 1) n.inputs.push(str(f));
    if (f.field === 2) n.outputs.push(str(f));
    if (f.field === 3) n.name = str(f);
    if (f.field === 4) n.opType = str(f);
    if (f.field === 7) n.domain = str(f);
    if (f.field === 5 && f.wire === 2) {
      const a = decodeAttribute(f.value);
      n.attributes.set(a.name, a);
    }
  }
  return n;
}

function tensorName(b: Uint8Array): string {
  for (const f of readFields(b)) if (f.field === 8) return str(f);
  return '';
}

/** Decodes the structure of an ONNX model (throws ProtoDecodeError on malformed bytes). */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  const m: DecodedModel = {
    irVersion: 0,
    producerName: '',
    producerVersion: '',
    opsets: [],
    metadata: {},
    graph: { name: '', nodes: [], initializerNames: [], inputs: [], outputs: [] },
  };
  let sawGraph = false;
  for (const f of readFields(bytes)) {
    switch (f.field) {
      case 1:
        m.irVersion = int(f);
        break;
      case 2:
        m.producerName = str(f);
        break;
      case 3:
        m.producerVersion = str(f);
        break;
      case 7:
        if (f.wire !== 2) break;
        sawGraph = true;
        for (const g of readFields(f.value)) {
          if (g.wire !== 2) continue;
          if (g.field === 1) m.graph.nodes.push(decodeNode(g.value));
          if (g.field === 2) m.graph.name = str(g);
          if (g.field === 5) m.graph.initializerNames.push(tensorName(g.value));
          if (g.field === 11) m.graph.inputs.push(decodeValueInfo(g.value));
          if (g.field === 12) m.graph.outputs.push(decodeValueInfo(g.value));
        }
        break;
      case 8: {
        if (f.wire !== 2) break;
        let domain = '';
        let version = 0;
        for (const g of readFields(f.value)) {
          if (g.field === 1) domain = str(g);
          if (g.field === 2) version = int(g);
        }
        m.opsets.push({ domain, version });
        break;
      }
      case 14: {
        if (f.wire !== 2) break;
        let key = '';
        let value = '';
        for (const g of readFields(f.value)) {
          if (g.field === 1) key = str(g);
          if (g.field === 2) value = str(g);
        }
        m.metadata[key] = value;
        break;
      }
    }
  }
  if (!sawGraph) throw new ProtoDecodeError('not an ONNX model: no graph');
  return m;
}
