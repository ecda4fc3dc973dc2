import { badRequest } from './errors';
import type { Feature, FeatureRow, FeatureValue } from './feature-row';

/**
 * Requests' rows, checked against the features the chosen model version reads, before anything
 * reaches onnxruntime: every feature present, of its type (numbers, or booleans as 1/0, for float and double inputs,
 * safe integers for int64, strings for string inputs), null only where the model can take a
 * missing value (not int64). JSON has no NaN or Infinity, so a number is always finite; the
 * strings "NaN" and "Infinity" are not numbers here. Fields the model does not read are ignored
 * (and not logged). Errors name the field: `instances[3].bill_length_mm`.
 */
export function checkRows(features: readonly Feature[], instances: readonly unknown[], where: (i: number) => string): FeatureRow[] {
  const rows: FeatureRow[] = new Array(instances.length);
  for (let i = 0; i < instances.length; i++) {
    const inst = instances[i];
    if (inst === null || typeof inst !== 'object' || Array.isArray(inst)) throw badRequest(where(i), `expected an object of feature values, got ${describe(inst)}`);
    const row: FeatureRow = {};
    for (const f of features) {
      const v = (inst as Record<string, unknown>)[f.name];
      row[f.name] = checkValue(f, v, `${where(i)}.${f.name}`);
    }
    rows[i] = row;
  }
  return rows;
}

export function checkValue(f: Feature, v: unknown, field: string): FeatureValue {
  if (v === undefined) throw badRequest(field, `missing (the model reads ${f.type} feature "${f.name}")`);
  if (v === null) {
    if (f.type === 'int64') throw badRequest(field, 'null is not allowed: an int64 input cannot represent a missing value');
    return null;
  }
  switch (f.type) {
    case 'float':
    case 'double':
      // A boolean column (a derived flag such as `weight > 3000`) is a 0/1 input to the model, as
      // batch scoring casts it; the request may send it as JSON's true/false.
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw badRequest(field, `expected a number, got ${describe(v)}`);
      return v;
    case 'int64':
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw badRequest(field, `expected an integer, got ${describe(v)}`);
      return v;
    case 'string':
      if (typeof v !== 'string') throw badRequest(field, `expected a string, got ${describe(v)}`);
      return v;
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  return `${typeof v} ${String(v)}`;
}
