import { modelSignature, type ModelInput, type ModelSignature, type ModelTask } from '../../pipelines/steps/model';
import { DataType, ProtoWriter, writeValueInfo } from './proto-writer';
import { ProtoDecodeError, decodeModel, type DecodedModel, type DecodedType, type DecodedValueInfo } from './proto-reader';
import { invalidInput } from '../../pipelines/failures';

/**
 * Bring your own model: derives a Sluice ModelSignature from an ONNX file made elsewhere.
 *
 * - inputs: the graph inputs that are not initializers, one per column, shape [N, 1] (or with a
 *   dynamic second dimension); element type float, double, int64 or string. The column is the
 *   input name unless `columns` maps it. Or one 2-D float or double input [N, k] (skl2onnx's
 *   usual `X`), its columns named in order by `columnOrder` (k of them when k is fixed).
 * - outputs, as scikit-learn (skl2onnx) and Sluice name them:
 *   `label` (or the first int64 / string tensor output) → label;
 *   a float tensor [N, C] (`probabilities`) → probabilities;
 *   a sequence of maps (`output_probability`, ZipMap) → probabilityMap;
 *   no label: the first float tensor output (`variable`, `value`) → value (regression).
 * - classes: from the ZipMap node or the classifier operator (classlabels_strings /
 *   classlabels_int64s / classlabels_ints); task binary with 2 classes, multiclass otherwise.
 * A model Sluice trained carries its signature in metadata (`sluice.signature`); it is used
 * when it agrees with the graph.
 */

export interface InspectOptions {
  /** Dataset column of each ONNX input (default: the input name). */
  columns?: Record<string, string> | undefined;
  /** The dataset columns of a single 2-D input, in its column order. */
  columnOrder?: readonly string[] | undefined;
  target?: string | undefined;
  /** The task the caller expects; a signature that cannot be it fails, naming what the graph has. */
  task?: ModelTask | undefined;
}

export interface InspectResult {
  signature: ModelSignature;
  irVersion: number;
  producer: string;
  opsets: { domain: string; version: number }[];
  /** `domain:opType` of every operator, sorted ('' domain written as `ai.onnx`). */
  operators: string[];
  /** The ZipMap turning a probability tensor into the map output, if any; `exposed`: its input is a graph output too. */
  zipMap?: { input: string; output: string; exposed: boolean };
}

const ELEM: Record<number, 'float' | 'double' | 'int64' | 'string'> = {
  [DataType.FLOAT]: 'float',
  [DataType.DOUBLE]: 'double',
  [DataType.INT64]: 'int64',
  [DataType.STRING]: 'string',
};
const ELEM_NAMES: Record<number, string> = { 1: 'float', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string', 9: 'bool', 10: 'float16', 11: 'double', 12: 'uint32', 13: 'uint64' };

const CLASSIFIER_OPS = new Set(['LinearClassifier', 'TreeEnsembleClassifier', 'SVMClassifier', 'ZipMap']);

export function inspectOnnx(bytes: Uint8Array, opts: InspectOptions = {}): InspectResult {
  let m: DecodedModel;
  try {
    m = decodeModel(bytes);
  } catch (e) {
    if (e instanceof ProtoDecodeError) throw invalidInput(`not a readable ONNX model: ${e.message}`);
    throw e;
  }
  const operators = [...new Set(m.graph.nodes.map((n) => `${n.domain || 'ai.onnx'}:${n.opType}`))].sort();
  const zm = m.graph.nodes.find((n) => n.opType === 'ZipMap' && n.inputs[0] && n.outputs[0] && m.graph.outputs.some((o) => o.name === n.outputs[0]));
  const base = {
    irVersion: m.irVersion,
    producer: [m.producerName, m.producerVersion].filter(Boolean).join(' '),
    opsets: m.opsets,
    operators,
    ...(zm ? { zipMap: { input: zm.inputs[0]!, output: zm.outputs[0]!, exposed: m.graph.outputs.some((o) => o.name === zm.inputs[0]) } } : {}),
  };

  const initializers = new Set(m.graph.initializerNames);
  const graphInputs = m.graph.inputs.filter((i) => !initializers.has(i.name));
  if (graphInputs.length === 0) throw invalidInput('the model has no inputs');
  const inputs = signatureInputs(graphInputs, opts);
  for (const k of Object.keys(opts.columns ?? {})) {
    if (!graphInputs.some((i) => i.name === k)) throw invalidInput(`columns maps "${k}", which is not an input of the model (inputs: ${graphInputs.map((i) => i.name).join(', ')})`);
  }

  const own = ownSignature(m);
  if (own && sameInputs(own, inputs)) {
    const signature = { ...own, inputs: own.inputs.map((i) => ('columns' in i ? i : { ...i, column: opts.columns?.[i.name] ?? i.column })), ...(opts.target ? { target: opts.target } : {}) };
    return { ...base, signature: checkTask(modelSignature.parse(signature), opts.task, m) };
  }

  const outputs: ModelSignature['outputs'] = {};
  const isTensor = (o: DecodedValueInfo, elems: number[]) => o.type?.kind === 'tensor' && elems.includes(o.type.elemType);
  const labelOut = m.graph.outputs.find((o) => o.name === 'label' && isTensor(o, [DataType.INT64, DataType.STRING])) ?? m.graph.outputs.find((o) => isTensor(o, [DataType.INT64, DataType.STRING]));
  const mapOut = m.graph.outputs.find((o) => o.type?.kind === 'sequence' && o.type.elem?.kind === 'map');
  const floatOuts = m.graph.outputs.filter((o) => o !== labelOut && isTensor(o, [DataType.FLOAT, DataType.DOUBLE]));
  let task: ModelTask;
  let classes: (string | number)[] | undefined;
  if (labelOut || mapOut) {
    if (labelOut) outputs.label = labelOut.name;
    if (mapOut) outputs.probabilityMap = mapOut.name;
    const probs = floatOuts.find((o) => o.name === 'probabilities') ?? floatOuts[0];
    if (probs) outputs.probabilities = probs.name;
    classes = classLabels(m);
    const width = probs?.type?.kind === 'tensor' ? probs.type.shape?.[1] : undefined;
    const nClasses = classes?.length ?? (typeof width === 'number' ? width : undefined);
    task = nClasses === 2 ? 'binary' : 'multiclass';
  } else {
    const value = floatOuts.find((o) => o.name === 'value' || o.name === 'variable') ?? floatOuts[0];
    if (!value) throw invalidInput(`cannot tell the model's outputs apart: ${m.graph.outputs.map((o) => `${o.name} (${describe(o.type)})`).join(', ')}`);
    outputs.value = value.name;
    task = 'regression';
  }
  const signature: ModelSignature = {
    task,
    inputs,
    outputs,
    ...(classes ? { classes } : {}),
    ...(opts.target ? { target: opts.target } : {}),
  };
  return { ...base, signature: checkTask(modelSignature.parse(signature), opts.task, m) };
}

/**
 * The signature's inputs: one per column, or a single 2-D input whose columns `columnOrder` names.
 * A graph input is 2-D when its second dimension is fixed above 1, or when `columnOrder` is given
 * for the model's only input.
 */
function signatureInputs(graphInputs: DecodedValueInfo[], opts: InspectOptions): ModelInput[] {
  const order = opts.columnOrder;
  const width = (i: DecodedValueInfo) => (i.type?.kind === 'tensor' && i.type.shape?.length === 2 ? i.type.shape[1] : undefined);
  const wide = graphInputs.filter((i) => typeof width(i) === 'number' && (width(i) as number) > 1);
  const names = graphInputs.map((i) => i.name).join(', ');
  if (order) {
    if (graphInputs.length !== 1) {
      throw invalidInput(`columns name the columns of one 2-D input, but the model has ${graphInputs.length} inputs (${names}); each reads the column of its name`);
    }
    const dup = order.find((c, k) => order.indexOf(c) !== k);
    if (dup !== undefined) throw invalidInput(`columns name "${dup}" twice`);
  }
  if (wide.length || order) {
    const i = graphInputs.length === 1 ? graphInputs[0]! : wide[0]!;
    if (graphInputs.length > 1) {
      throw invalidInput(`input "${i.name}" has shape ${shapeOf(i)}; a 2-D input must be the model's only input (inputs: ${names})`);
    }
    const t = i.type;
    if (!t || t.kind !== 'tensor') throw invalidInput(`input "${i.name}" is ${describe(t)}; Sluice feeds tensors`);
    const k = width(i);
    if (t.shape && t.shape.length !== 2) throw invalidInput(`input "${i.name}" has shape ${shapeOf(i)}; Sluice feeds [N, k] tensors`);
    if (!order) {
      throw invalidInput(`input "${i.name}" is one ${describe(t)} for ${k ?? "several"} columns: declare which dataset columns feed it, in order, with columns (e.g. --columns a,b,c)`);
    }
    if (typeof k === 'number' && order.length !== k) {
      throw invalidInput(`columns name ${order.length} column${order.length === 1 ? '' : 's'} (${order.join(', ')}) but input "${i.name}" has ${k} (shape ${shapeOf(i)})`);
    }
    const type = ELEM[t.elemType];
    if (type !== 'float' && type !== 'double') {
      throw invalidInput(`input "${i.name}" is a 2-D ${ELEM_NAMES[t.elemType] ?? t.elemType} tensor; a 2-D input must be float or double (one input per column for strings and integers)`);
    }
    return [{ name: i.name, columns: [...order], type }];
  }
  return graphInputs.map((i) => ({ name: i.name, column: opts.columns?.[i.name] ?? i.name, type: inputType(i) }));
}

function shapeOf(i: DecodedValueInfo): string {
  const shape = i.type?.kind === 'tensor' ? i.type.shape : undefined;
  return shape ? `[${shape.map((d) => d ?? '?').join(', ')}]` : '(unknown)';
}

/** The signature as `task` asks for, or a failure saying why the graph cannot be that. */
function checkTask(sig: ModelSignature, task: ModelTask | undefined, m: DecodedModel): ModelSignature {
  if (!task || task === sig.task) return sig;
  const outs = () => m.graph.outputs.map((o) => `${o.name} (${describe(o.type)})`).join(', ');
  if (task === 'regression' || sig.task === 'regression') {
    throw invalidInput(`the model cannot be ${task}: it is ${sig.task === 'regression' ? 'a regression (no label or probability output)' : 'a classifier'}; outputs: ${outs()}`);
  }
  const n = sig.classes?.length;
  if (task === 'binary' && n !== undefined && n !== 2) throw invalidInput(`the model cannot be binary: it has ${n} classes (${sig.classes!.join(', ')})`);
  return { ...sig, task };
}

function inputType(i: DecodedValueInfo): 'float' | 'double' | 'int64' | 'string' {
  const t = i.type;
  if (!t || t.kind !== 'tensor') throw invalidInput(`input "${i.name}" is ${describe(t)}; Sluice feeds tensors`);
  const type = ELEM[t.elemType];
  if (!type) throw invalidInput(`input "${i.name}" has element type ${ELEM_NAMES[t.elemType] ?? t.elemType}; supported: float, double, int64, string`);
  const shape = t.shape;
  if (shape && (shape.length !== 2 || (typeof shape[1] === 'number' && shape[1] !== 1))) {
    throw invalidInput(
      `input "${i.name}" has shape [${shape.map((d) => d ?? '?').join(', ')}]; Sluice models take one [N, 1] input per column ` +
        'or a single 2-D [N, k] input with its columns declared',
    );
  }
  return type;
}

function classLabels(m: DecodedModel): (string | number)[] | undefined {
  const nodes = [...m.graph.nodes.filter((n) => n.opType === 'ZipMap'), ...m.graph.nodes.filter((n) => CLASSIFIER_OPS.has(n.opType) && n.opType !== 'ZipMap')];
  for (const n of nodes) {
    const s = n.attributes.get('classlabels_strings')?.strings;
    if (s?.length) return s;
    const i = n.attributes.get('classlabels_int64s')?.ints ?? n.attributes.get('classlabels_ints')?.ints;
    if (i?.length) return i;
  }
  return undefined;
}

function ownSignature(m: DecodedModel): ModelSignature | undefined {
  const text = m.metadata['sluice.signature'];
  if (!text) return undefined;
  try {
    const r = modelSignature.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

function sameInputs(sig: ModelSignature, inputs: { name: string; type: string }[]): boolean {
  return sig.inputs.length === inputs.length && sig.inputs.every((s, i) => s.name === inputs[i]!.name && s.type === inputs[i]!.type);
}

function describe(t: DecodedType | undefined): string {
  if (!t) return 'untyped';
  switch (t.kind) {
    case 'tensor':
      return `tensor(${ELEM_NAMES[t.elemType] ?? t.elemType})${t.shape ? `[${t.shape.map((d) => d ?? '?').join(', ')}]` : ''}`;
    case 'sequence':
      return `sequence(${describe(t.elem)})`;
    case 'map':
      return `map(${ELEM_NAMES[t.keyType] ?? t.keyType}, ${describe(t.value)})`;
    default:
      return 'an unsupported type';
  }
}

/**
 * onnxruntime-node returns tensors only: a model whose probabilities come out of a ZipMap
 * (skl2onnx's default) cannot be asked for them. This adds the ZipMap's input tensor (float
 * [N, C]) as one more graph output, by appending a GraphProto fragment to the bytes (protobuf
 * merges a repeated embedded message, so the graph gains an output and nothing else changes),
 * and returns the signature of the result: `probabilities` next to `probabilityMap`.
 */
export function prepareOnnx(bytes: Uint8Array, opts: InspectOptions = {}): { bytes: Uint8Array; info: InspectResult; addedOutputs: string[] } {
  const info = inspectOnnx(bytes, opts);
  if (!info.zipMap || info.zipMap.exposed || info.signature.outputs.probabilities) return { bytes, info, addedOutputs: [] };
  const width = info.signature.classes?.length;
  const w = new ProtoWriter();
  const name = info.zipMap.input;
  w.messageField(7, (g) => g.messageField(12, (v) => writeValueInfo(v, { name, type: { tensor: { elemType: DataType.FLOAT, shape: ['N', width ?? 'C'] } } })));
  const tail = w.finish();
  const patched = new Uint8Array(bytes.length + tail.length);
  patched.set(bytes, 0);
  patched.set(tail, bytes.length);
  return { bytes: patched, info: inspectOnnx(patched, opts), addedOutputs: [name] };
}
