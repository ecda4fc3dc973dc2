import type { PredictionOutput } from '../infra/db/serving';
import type { ModelRef } from '../pipelines/steps/model';
import { badRequest } from './errors';
import { describe } from './input';
import type { Feature } from './feature-row';
import { ENTITY_FIELD, type OnlineFeatures } from './online-features';

/**
 * The Open Inference Protocol's (KServe v2) named tensors, turned into rows and back. A request
 * tensor is named after a feature (a dataset column: shape [N] or [N, 1]) or after a model input
 * (a per-column input's ONNX name, or a 2-D input's: shape [N, k], its k columns in order); `data`
 * is flat in row-major order (nested arrays are flattened as the protocol allows).
 */

export interface InferTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
  parameters?: Record<string, unknown>;
}

const NUMERIC = new Set(['FP16', 'FP32', 'FP64', 'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);
const INTEGER = new Set(['INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);

/** The protocol's datatype for a feature, as model metadata states it. */
export function datatypeOf(type: Feature['type']): string {
  return type === 'float' ? 'FP32' : type === 'double' ? 'FP64' : type === 'int64' ? 'INT64' : 'BYTES';
}

/**
 * Rows (one object per row, feature → value) from the request's tensors; values are checked by
 * input.ts afterwards. For a version that reads feature views, a tensor named after an entity
 * (`{"name": "penguin_id", "datatype": "INT64", "shape": [N], "data": [...]}`) gives each row's
 * key (`row.entity`), and the features the views provide may then be left out (online-features.ts
 * reads them; a tensor that is given wins).
 */
export function tensorsToInstances(ref: ModelRef, features: readonly Feature[], inputs: readonly InferTensor[], online?: Pick<OnlineFeatures, 'entities' | 'provides'>): Record<string, unknown>[] {
  const byName = new Map(features.map((f) => [f.name, f]));
  const entityTensors = new Map<string, unknown[]>();
  // A tensor may also carry a model input's ONNX name.
  const inputColumns = new Map<string, string[]>();
  for (const i of ref.signature.inputs) inputColumns.set(i.name, 'columns' in i ? i.columns : [i.column]);
  let rows: number | undefined;
  const columns = new Map<string, unknown[]>();
  for (const [t, tensor] of inputs.entries()) {
    const field = `inputs[${t}]`;
    if (online?.entities.includes(tensor.name) && !byName.has(tensor.name)) {
      rows = entityTensor(tensor, field, rows);
      entityTensors.set(tensor.name, (tensor.data as unknown[]).flat(Infinity as 1));
      continue;
    }
    const cols = byName.has(tensor.name) ? [tensor.name] : inputColumns.get(tensor.name);
    if (!cols) throw badRequest(`${field}.name`, `the model has no input or feature "${tensor.name}" (it reads ${features.map((f) => f.name).join(', ')})`);
    const k = cols.length;
    const shape = tensor.shape;
    const n = shape[0]!;
    const okShape = k === 1 ? shape.length === 1 || (shape.length === 2 && shape[1] === 1) : shape.length === 2 && shape[1] === k;
    if (!okShape) throw badRequest(`${field}.shape`, `expected ${k === 1 ? '[N] or [N, 1]' : `[N, ${k}]`} for "${tensor.name}", got [${shape.join(', ')}]`);
    if (rows !== undefined && n !== rows) throw badRequest(`${field}.shape`, `${n} rows, but an earlier input has ${rows}`);
    rows = n;
    const data = (tensor.data as unknown[]).flat(Infinity as 1);
    if (data.length !== n * k) throw badRequest(`${field}.data`, `${data.length} values for shape [${shape.join(', ')}] (expected ${n * k})`);
    for (const [j, c] of cols.entries()) {
      const f = byName.get(c)!;
      checkDatatype(f, tensor.datatype, `${field}.datatype`);
      if (columns.has(c)) throw badRequest(`${field}.name`, `feature "${c}" is given twice`);
      const values = new Array<unknown>(n);
      for (let i = 0; i < n; i++) {
        const v = data[i * k + j];
        // Numeric tensors hold numbers (JSON has no NaN); BYTES tensors hold strings.
        if (tensor.datatype === 'BYTES' ? typeof v !== 'string' : typeof v !== 'number') {
          throw badRequest(`${field}.data[${i * k + j}]`, `expected ${tensor.datatype === 'BYTES' ? 'a string' : 'a number'} in a ${tensor.datatype} tensor, got ${describe(v)}`);
        }
        values[i] = v;
      }
      columns.set(c, values);
    }
  }
  const looked = entityTensors.size > 0 ? online?.provides : undefined;
  const missing = features.filter((f) => !columns.has(f.name) && !looked?.has(f.name));
  if (missing.length) throw badRequest('inputs', `missing input(s) ${missing.map((f) => `"${f.name}" (${datatypeOf(f.type)})`).join(', ')}`);
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < (rows ?? 0); i++) {
    const row: Record<string, unknown> = {};
    for (const [c, values] of columns) row[c] = values[i];
    if (entityTensors.size) row[ENTITY_FIELD] = Object.fromEntries([...entityTensors].map(([e, values]) => [e, values[i]]));
    out.push(row);
  }
  return out;
}

/** An entity key tensor: [N] or [N, 1], integers (INT*) or strings (BYTES); the values are checked as keys by online-features.ts. */
function entityTensor(tensor: InferTensor, field: string, rows: number | undefined): number {
  const shape = tensor.shape;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) throw badRequest(`${field}.shape`, `expected [N] or [N, 1] for entity key "${tensor.name}", got [${shape.join(', ')}]`);
  const n = shape[0]!;
  if (rows !== undefined && n !== rows) throw badRequest(`${field}.shape`, `${n} rows, but an earlier input has ${rows}`);
  if (tensor.datatype !== 'BYTES' && !INTEGER.has(tensor.datatype)) throw badRequest(`${field}.datatype`, `entity key "${tensor.name}" must be BYTES or an integer datatype (INT64, …), got ${tensor.datatype}`);
  const data = (tensor.data as unknown[]).flat(Infinity as 1);
  if (data.length !== n) throw badRequest(`${field}.data`, `${data.length} values for shape [${shape.join(', ')}] (expected ${n})`);
  return n;
}

function checkDatatype(f: Feature, datatype: string, field: string): void {
  const ok = f.type === 'string' ? datatype === 'BYTES' : f.type === 'int64' ? INTEGER.has(datatype) : NUMERIC.has(datatype);
  if (!ok) throw badRequest(field, `feature "${f.name}" is ${f.type}: expected ${f.type === 'string' ? 'BYTES' : f.type === 'int64' ? 'an integer datatype (INT64, …)' : 'a numeric datatype (FP32, FP64, INT64, …)'}, got ${datatype}`);
}

/** The response's tensors: prediction, probabilities (classification with them), and the prediction ids. */
/** The `prediction` tensor's datatype: FP64 (regression), BOOL (a boolean target), INT64 or FP64 (numeric classes), else BYTES. */
export function predictionDatatype(ref: ModelRef): string {
  const sig = ref.signature;
  const classes = sig.classes ?? [];
  if (sig.task === 'regression') return 'FP64';
  if (sig.labelType === 'bool') return 'BOOL';
  if (classes.length && classes.every((c) => typeof c === 'number')) return classes.every(Number.isInteger) ? 'INT64' : 'FP64';
  return 'BYTES';
}

export function outputTensors(ref: ModelRef, outputs: readonly PredictionOutput[], ids: readonly string[]): InferTensor[] {
  const n = outputs.length;
  const sig = ref.signature;
  const datatype = predictionDatatype(ref);
  const tensors: InferTensor[] = [{ name: 'prediction', shape: [n], datatype, data: outputs.map((o) => o.prediction) }];
  const classes = sig.classes ?? [];
  if (sig.task !== 'regression' && outputs[0]?.probabilities) {
    tensors.push({
      name: 'probabilities',
      shape: [n, classes.length],
      datatype: 'FP32',
      data: outputs.flatMap((o) => classes.map((c) => o.probabilities![String(c)]!)),
      parameters: { classes },
    });
  }
  tensors.push({ name: 'prediction_id', shape: [n], datatype: 'BYTES', data: [...ids] });
  return tensors;
}
