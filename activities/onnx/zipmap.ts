/**
 * The one ONNX graph edit scoring needs, done on the protobuf wire format so every other byte of
 * the model is kept as it was.
 *
 * scikit-learn models exported by skl2onnx with ZipMap on return probabilities as a sequence of
 * maps, which onnxruntime-node cannot return ("Non tensor type is temporarily not supported").
 * ZipMap only relabels its input, the float [N, C] probability tensor, so we drop the ZipMap node
 * and make that tensor a graph output instead. The ZipMap's class labels tell the column order.
 */

// Field numbers from onnx.proto3.
const MODEL_GRAPH = 7;
const GRAPH_NODE = 1;
const GRAPH_OUTPUT = 12;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_OP_TYPE = 4;
const NODE_ATTRIBUTE = 5;
const NODE_DOMAIN = 7;
const ATTR_NAME = 1;
const ATTR_INTS = 8;
const ATTR_STRINGS = 9;
const VALUE_INFO_NAME = 1;
const VALUE_INFO_TYPE = 2;
const TYPE_TENSOR = 1;
const TENSOR_ELEM_TYPE = 1;
const TENSOR_SHAPE = 2;
const SHAPE_DIM = 1;
const DIM_VALUE = 1;
const DIM_PARAM = 2;
const FLOAT = 1;

export class OnnxFormatError extends Error {
  override name = 'OnnxFormatError';
}

interface Field {
  field: number;
  wire: number;
  /** The whole field as encoded (tag included), to copy it unchanged. */
  raw: Uint8Array;
  /** Length-delimited payload (wire type 2). */
  data?: Uint8Array;
  /** Varint value (wire type 0). */
  varint?: bigint;
}

function readVarint(buf: Uint8Array, pos: number): [value: bigint, next: number] {
  let result = 0n;
  let shift = 0n;
  for (let i = pos; i < buf.length && shift < 70n; i++) {
    const b = buf[i]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, i + 1];
    shift += 7n;
  }
  throw new OnnxFormatError('truncated or overlong varint');
}

function parseMessage(buf: Uint8Array): Field[] {
  const fields: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [tag, p] = readVarint(buf, pos);
    pos = p;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    const f: Field = { field, wire, raw: buf };
    switch (wire) {
      case 0: {
        const [v, q] = readVarint(buf, pos);
        f.varint = v;
        pos = q;
        break;
      }
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2: {
        const [len, q] = readVarint(buf, pos);
        const end = q + Number(len);
        if (end > buf.length) throw new OnnxFormatError(`field ${field} runs past the end of its message`);
        f.data = buf.subarray(q, end);
        pos = end;
        break;
      }
      default:
        throw new OnnxFormatError(`unsupported wire type ${wire} (field ${field})`);
    }
    if (pos > buf.length) throw new OnnxFormatError(`field ${field} runs past the end of its message`);
    f.raw = buf.subarray(start, pos);
    fields.push(f);
  }
  return fields;
}

function encodeVarint(v: bigint | number): Uint8Array {
  let n = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    out.push(n ? b | 0x80 : b);
  } while (n);
  return Uint8Array.from(out);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const tag = (field: number, wire: number) => encodeVarint((field << 3) | wire);
const lenField = (field: number, data: Uint8Array) => concat([tag(field, 2), encodeVarint(data.length), data]);
const varintField = (field: number, v: number | bigint) => concat([tag(field, 0), encodeVarint(v)]);
const text = (s: string) => new TextEncoder().encode(s);
const str = (d: Uint8Array | undefined) => (d ? new TextDecoder().decode(d) : '');

interface NodeInfo {
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Map<string, Field[]>;
}

function nodeInfo(data: Uint8Array): NodeInfo {
  const info: NodeInfo = { opType: '', domain: '', inputs: [], outputs: [], attributes: new Map() };
  for (const f of parseMessage(data)) {
    if (f.field === NODE_INPUT) info.inputs.push(str(f.data));
    else if (f.field === NODE_OUTPUT) info.outputs.push(str(f.data));
    else if (f.field === NODE_OP_TYPE) info.opType = str(f.data);
    else if (f.field === NODE_DOMAIN) info.domain = str(f.data);
    else if (f.field === NODE_ATTRIBUTE && f.data) {
      const attr = parseMessage(f.data);
      info.attributes.set(str(attr.find((a) => a.field === ATTR_NAME)?.data), attr);
    }
  }
  return info;
}

function attributeInts(attr: Field[]): bigint[] {
  const out: bigint[] = [];
  for (const f of attr) {
    if (f.field !== ATTR_INTS) continue;
    if (f.wire === 0) out.push(BigInt.asIntN(64, f.varint!));
    else if (f.wire === 2 && f.data) {
      // packed
      let pos = 0;
      while (pos < f.data.length) {
        const [v, next] = readVarint(f.data, pos);
        out.push(BigInt.asIntN(64, v));
        pos = next;
      }
    }
  }
  return out;
}

/** A graph output `name` of type float [N, C]. */
function floatMatrixValueInfo(name: string, nClasses: number): Uint8Array {
  const dims = concat([lenField(SHAPE_DIM, lenField(DIM_PARAM, text('N'))), lenField(SHAPE_DIM, varintField(DIM_VALUE, nClasses))]);
  const tensor = concat([varintField(TENSOR_ELEM_TYPE, FLOAT), lenField(TENSOR_SHAPE, dims)]);
  return concat([lenField(VALUE_INFO_NAME, text(name)), lenField(VALUE_INFO_TYPE, lenField(TYPE_TENSOR, tensor))]);
}

export interface ZipMapRewrite {
  /** The edited model. */
  model: Uint8Array;
  /** The graph output that now holds the probabilities, float [N, C]. */
  probabilities: string;
  /** ZipMap's class labels: the probability columns' order. */
  classLabels: (string | number)[];
}

/**
 * Replaces graph output `output` (produced by a ZipMap node) with the ZipMap's input tensor.
 * Throws OnnxFormatError when `output` is not a graph output made by a ZipMap.
 */
export function exposeZipMapInput(modelBytes: Uint8Array, output: string): ZipMapRewrite {
  const model = parseMessage(modelBytes);
  const graphField = model.find((f) => f.field === MODEL_GRAPH && f.data);
  if (!graphField) throw new OnnxFormatError('the model has no graph');
  const graph = parseMessage(graphField.data!);
  let zip: { field: Field; info: NodeInfo } | undefined;
  for (const f of graph) {
    if (f.field !== GRAPH_NODE || !f.data) continue;
    const info = nodeInfo(f.data);
    if (info.opType === 'ZipMap' && info.outputs[0] === output) zip = { field: f, info };
  }
  if (!zip) throw new OnnxFormatError(`output "${output}" is not produced by a ZipMap node`);
  const input = zip.info.inputs[0];
  if (!input) throw new OnnxFormatError('the ZipMap node has no input');
  const ints = zip.info.attributes.get('classlabels_int64s');
  const strings = zip.info.attributes.get('classlabels_strings');
  const classLabels: (string | number)[] = ints
    ? attributeInts(ints).map((v) => Number(v))
    : (strings ?? []).filter((f) => f.field === ATTR_STRINGS).map((f) => str(f.data));
  if (!classLabels.length) throw new OnnxFormatError('the ZipMap node has no class labels');

  let replaced = false;
  const parts: Uint8Array[] = [];
  for (const f of graph) {
    if (f === zip.field) continue;
    if (f.field === GRAPH_OUTPUT && f.data) {
      const name = str(parseMessage(f.data).find((x) => x.field === VALUE_INFO_NAME)?.data);
      if (name === output) {
        parts.push(lenField(GRAPH_OUTPUT, floatMatrixValueInfo(input, classLabels.length)));
        replaced = true;
        continue;
      }
    }
    parts.push(f.raw);
  }
  if (!replaced) throw new OnnxFormatError(`"${output}" is not a graph output`);
  const newGraph = concat(parts);
  const modelParts = model.map((f) => (f === graphField ? lenField(MODEL_GRAPH, newGraph) : f.raw));
  return { model: concat(modelParts), probabilities: input, classLabels };
}
