import {
  DataType,
  encodeModel,
  type AttributeValue,
  type DataTypeCode,
  type Dim,
  type NodeProtoIn,
  type TensorProtoIn,
  type ValueInfoIn,
} from './proto-writer';

/**
 * A small graph builder over proto-writer.ts: named inputs and outputs, nodes with attribute
 * shorthands, constants as initializers, unique intermediate names. Intermediate names carry a
 * ':' so they can never collide with input names (which are identifiers).
 */

export const IR_VERSION = 8;
export const OPSET_DEFAULT = 17;
export const OPSET_ML = 3;
/** ai.onnx.ml 5 (TreeEnsemble with set-membership splits) came with ONNX 1.16, IR version 10. */
export const OPSET_ML5 = 5;
export const IR_VERSION_ML5 = 10;
export const ML = 'ai.onnx.ml';

export const attr = {
  f: (value: number): AttributeValue => ({ type: 'float', value }),
  i: (value: number | bigint): AttributeValue => ({ type: 'int', value }),
  s: (value: string): AttributeValue => ({ type: 'string', value }),
  fs: (value: ArrayLike<number>): AttributeValue => ({ type: 'floats', value }),
  is: (value: ArrayLike<number | bigint>): AttributeValue => ({ type: 'ints', value }),
  ss: (value: readonly string[]): AttributeValue => ({ type: 'strings', value }),
  t: (value: TensorProtoIn): AttributeValue => ({ type: 'tensor', value }),
};

export const tensorType = (elemType: DataTypeCode, shape?: readonly Dim[]): ValueInfoIn['type'] => ({ tensor: { elemType, ...(shape ? { shape } : {}) } });

export class GraphBuilder {
  readonly nodes: NodeProtoIn[] = [];
  readonly initializers: TensorProtoIn[] = [];
  readonly inputs: ValueInfoIn[] = [];
  readonly outputs: ValueInfoIn[] = [];
  private counter = 0;
  private readonly names = new Set<string>();

  constructor(readonly name: string) {}

  /** A fresh intermediate name (`<hint>:<n>`). */
  fresh(hint: string): string {
    let n: string;
    do n = `${hint}:${this.counter++}`;
    while (this.names.has(n));
    this.names.add(n);
    return n;
  }

  input(name: string, elemType: DataTypeCode, shape: readonly Dim[]): string {
    if (this.names.has(name)) throw new Error(`duplicate graph name ${name}`);
    this.names.add(name);
    this.inputs.push({ name, type: tensorType(elemType, shape) });
    return name;
  }

  output(name: string, elemType: DataTypeCode, shape: readonly Dim[]): void {
    this.outputs.push({ name, type: tensorType(elemType, shape) });
  }

  /** Adds a node; returns its output names (fresh ones unless `outputs` names them). */
  node(opType: string, inputs: readonly string[], opts: { domain?: string; attrs?: Record<string, AttributeValue>; outputs?: readonly string[]; nOutputs?: number } = {}): string[] {
    const outputs = opts.outputs ? [...opts.outputs] : Array.from({ length: opts.nOutputs ?? 1 }, () => this.fresh(opType.toLowerCase()));
    for (const o of outputs) this.names.add(o);
    this.nodes.push({
      opType,
      inputs,
      outputs,
      name: this.fresh(`node/${opType}`),
      ...(opts.domain ? { domain: opts.domain } : {}),
      ...(opts.attrs ? { attributes: opts.attrs } : {}),
    });
    return outputs;
  }

  /** A one-output node. */
  op(opType: string, inputs: readonly string[], opts: { domain?: string; attrs?: Record<string, AttributeValue>; output?: string } = {}): string {
    const [out] = this.node(opType, inputs, { ...opts, ...(opts.output ? { outputs: [opts.output] } : {}) });
    return out!;
  }

  constFloat(values: ArrayLike<number>, dims: readonly number[], hint = 'const'): string {
    return this.init({ dims, data: { kind: 'float', values } }, hint);
  }

  constInt64(values: ArrayLike<number | bigint>, dims: readonly number[], hint = 'const'): string {
    return this.init({ dims, data: { kind: 'int64', values } }, hint);
  }

  constString(values: readonly string[], dims: readonly number[], hint = 'const'): string {
    return this.init({ dims, data: { kind: 'string', values } }, hint);
  }

  private init(t: Omit<TensorProtoIn, 'name'>, hint: string): string {
    const name = this.fresh(hint);
    this.initializers.push({ ...t, name });
    return name;
  }

  /**
   * Serialises the model (ir_version 8, opsets '' 17 and ai.onnx.ml 3; `mlOpset` 5 for a graph
   * that needs ai.onnx.ml 5's TreeEnsemble, with ir_version 10, the IR that opset came with).
   */
  encode(opts: { docString?: string; metadata?: Record<string, string>; producerVersion?: string; mlOpset?: number } = {}): Uint8Array {
    const ml = opts.mlOpset ?? OPSET_ML;
    return encodeModel({
      irVersion: ml >= 5 ? IR_VERSION_ML5 : IR_VERSION,
      opsets: [
        { domain: '', version: OPSET_DEFAULT },
        { domain: ML, version: ml },
      ],
      producerName: 'sluice',
      producerVersion: opts.producerVersion ?? '0.1.0',
      ...(opts.docString ? { docString: opts.docString } : {}),
      graph: { name: this.name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs },
      ...(opts.metadata ? { metadata: opts.metadata } : {}),
    });
  }
}

export { DataType };
