import { decodeModel, ints, readFields, type RawField } from './proto-reader';

/**
 * Whether a classifier's label output is, by the graph's own construction,
 * `Gather(classes, ArgMax(probabilities, axis=1, keepdims=0))` with the signature's classes in
 * order (the head every model Sluice trains has: training/export/head.ts). Then scoring fetches
 * only the probabilities and takes the argmax itself (first maximum, as ArgMax does): the same
 * labels, without onnxruntime making a JavaScript string per row for the label output.
 */
export function labelIsArgmaxOf(modelBytes: Uint8Array, label: string, probabilities: string, classes: readonly (string | number)[]): boolean {
  let model;
  try {
    model = decodeModel(modelBytes);
  } catch {
    return false;
  }
  const producer = (output: string) => model.graph.nodes.find((n) => n.outputs.includes(output));
  const gather = producer(label);
  if (!gather || gather.opType !== 'Gather' || gather.domain !== '' || gather.inputs.length !== 2 || (gather.attributes.get('axis')?.i ?? 0) !== 0) return false;
  const argmax = producer(gather.inputs[1]!);
  if (!argmax || argmax.opType !== 'ArgMax' || argmax.domain !== '' || argmax.inputs[0] !== probabilities) return false;
  if (argmax.attributes.get('axis')?.i !== 1 || argmax.attributes.get('keepdims')?.i !== 0 || (argmax.attributes.get('select_last_index')?.i ?? 0) !== 0) return false;
  const values = initializerValues(modelBytes, gather.inputs[0]!);
  return !!values && values.length === classes.length && values.every((v, i) => v === String(classes[i]));
}

/** A 1-D string or int64 initializer's values, as strings; undefined when it is anything else. */
function initializerValues(modelBytes: Uint8Array, name: string): string[] | undefined {
  const graph = readFields(modelBytes).find((f) => f.field === 7 && f.wire === 2);
  if (!graph || graph.wire !== 2) return undefined;
  for (const g of readFields(graph.value)) {
    if (g.field !== 5 || g.wire !== 2) continue;
    const t = readFields(g.value);
    const text = (f: RawField) => (f.wire === 2 ? new TextDecoder().decode(f.value) : '');
    if (t.find((f) => f.field === 8)?.wire !== 2 || text(t.find((f) => f.field === 8)!) !== name) continue;
    const dataType = t.find((f) => f.field === 2);
    const type = dataType && dataType.wire === 0 ? Number(dataType.value) : 0;
    if (type === 8) return t.filter((f) => f.field === 6).map(text); // STRING: string_data
    if (type === 7) {
      // INT64: int64_data (packed or not) or raw_data (8-byte little-endian)
      const raw = t.find((f) => f.field === 9);
      if (raw && raw.wire === 2) {
        const out: string[] = [];
        const view = new DataView(raw.value.buffer, raw.value.byteOffset, raw.value.byteLength);
        for (let i = 0; i + 8 <= raw.value.byteLength; i += 8) out.push(String(view.getBigInt64(i, true)));
        return out;
      }
      return ints(t, 7).map(String);
    }
    return undefined;
  }
  return undefined;
}
