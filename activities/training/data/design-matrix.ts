import pl from 'nodejs-polars';
import type { ModelTask } from '../../../pipelines/steps/model';
import { Rng } from '../rng';
import { invalidInput } from '../../../pipelines/failures';

/**
 * From a polars frame to what trainers work on: one typed array per column.
 *
 * Conventions shared with the exported ONNX graphs (and so with scoring):
 * - numeric features (ints, floats, bools) are float32, a missing value is NaN;
 * - categorical features (strings, or numeric columns named in `categorical`, cast to string by
 *   polars) are strings, a missing value is '' (ONNX string tensors have no null).
 * The trainers see exactly the values the ONNX model will see, so what they predict and what
 * onnxruntime computes agree to float32 rounding.
 */

export const MISSING_STRING = '';

export type FeatureKind = 'numeric' | 'categorical';

export interface FeatureColumn {
  /** Dataset column. */
  column: string;
  /** ONNX input name: the column name made an identifier (unique). */
  input: string;
  kind: FeatureKind;
}

export interface RawTable {
  n: number;
  numeric: Map<string, Float32Array>;
  strings: Map<string, string[]>;
}

export type TargetData =
  | { kind: 'class'; classes: (string | number)[]; labelType: 'string' | 'int64'; y: Int32Array }
  | { kind: 'value'; y: Float64Array };

const INT = new Set(['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64']);
const FLOAT = new Set(['Float32', 'Float64']);
const STRING = new Set(['Utf8', 'String', 'Categorical', 'Enum']);

function variant(df: pl.DataFrame, column: string): string {
  return df.getColumn(column).dtype.variant as string;
}

const isNumericVariant = (v: string) => INT.has(v) || FLOAT.has(v) || v === 'Bool';

/** `Beak Length (mm)` → `Beak_Length_mm`; unique among `taken`. */
export function inputNameFor(column: string, taken: Set<string>): string {
  let base = column.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  if (!base) base = 'input';
  if (/^[0-9]/.test(base)) base = `c_${base}`;
  let name = base;
  for (let i = 2; taken.has(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}

export interface FeatureRequest {
  target: string;
  features?: string[] | undefined;
  categorical?: string[] | undefined;
}

/**
 * Which columns are features and of what kind. Default: every column but the target, leaving out
 * dates and timestamps (they need a transformation first: a feature view) and string columns with
 * a distinct value on every row (identifiers, unparsed dates). Named features are taken as given.
 */
export function resolveFeatures(df: pl.DataFrame, req: FeatureRequest, log?: (msg: string, extra?: Record<string, unknown>) => void): FeatureColumn[] {
  const cols = df.columns;
  if (!cols.includes(req.target)) throw invalidInput(`target column "${req.target}" is not in the training data (columns: ${cols.join(', ')})`);
  const categorical = new Set(req.categorical ?? []);
  for (const c of categorical) {
    if (!cols.includes(c)) throw invalidInput(`categorical column "${c}" is not in the training data (columns: ${cols.join(', ')})`);
  }
  let names: string[];
  if (req.features) {
    const missing = req.features.filter((f) => !cols.includes(f));
    if (missing.length) throw invalidInput(`feature column(s) ${missing.map((m) => `"${m}"`).join(', ')} not in the training data (columns: ${cols.join(', ')})`);
    if (req.features.includes(req.target)) throw invalidInput(`the target "${req.target}" cannot also be a feature`);
    if (new Set(req.features).size !== req.features.length) throw invalidInput('features lists a column twice');
    names = req.features;
  } else {
    names = cols.filter((c) => c !== req.target);
    const skipped = names.filter((c) => !categorical.has(c) && !isNumericVariant(variant(df, c)) && !STRING.has(variant(df, c)));
    if (skipped.length) log?.('features: leaving out columns of unsupported types', { columns: skipped });
    // a string column with a distinct value on every row is an identifier (or an unparsed date), not a category
    const ids = names.filter((c) => !categorical.has(c) && STRING.has(variant(df, c)) && df.height > 20 && df.getColumn(c).nUnique() === df.height);
    if (ids.length) log?.('features: leaving out string columns with a distinct value on every row (identifiers?)', { columns: ids });
    names = names.filter((c) => !skipped.includes(c) && !ids.includes(c));
  }
  if (names.length === 0) throw invalidInput('no feature columns');
  const taken = new Set<string>();
  return names.map((column) => {
    const v = variant(df, column);
    let kind: FeatureKind;
    if (categorical.has(column)) {
      if (!isNumericVariant(v) && !STRING.has(v)) throw invalidInput(`categorical column "${column}" is ${v}; use strings or integers`);
      kind = 'categorical';
    } else if (isNumericVariant(v)) kind = 'numeric';
    else if (STRING.has(v)) kind = 'categorical';
    else throw invalidInput(`feature column "${column}" is ${v}: only numbers, booleans and strings can be features (derive features from dates first)`);
    return { column, input: inputNameFor(column, taken), kind };
  });
}

/** Numeric column as float32, null → NaN. */
export function numericColumn(df: pl.DataFrame, column: string): Float32Array {
  const values = df.select(pl.col(column).cast(pl.Float64)).getColumn(column).toArray() as (number | null)[];
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out[i] = v === null || v === undefined ? NaN : v;
  }
  return out;
}

/** String column (numbers cast by polars), null → ''. */
export function stringColumn(df: pl.DataFrame, column: string): string[] {
  const values = df.select(pl.col(column).cast(pl.Utf8)).getColumn(column).toArray() as (string | null)[];
  return values.map((v) => (v === null || v === undefined ? MISSING_STRING : v));
}

export function extractRaw(df: pl.DataFrame, features: readonly FeatureColumn[]): RawTable {
  const raw: RawTable = { n: df.height, numeric: new Map(), strings: new Map() };
  for (const f of features) {
    if (!df.columns.includes(f.column)) throw invalidInput(`column "${f.column}" is missing`);
    if (f.kind === 'numeric') raw.numeric.set(f.column, numericColumn(df, f.column));
    else raw.strings.set(f.column, stringColumn(df, f.column));
  }
  return raw;
}

export function takeRows(raw: RawTable, rows: ArrayLike<number>): RawTable {
  const out: RawTable = { n: rows.length, numeric: new Map(), strings: new Map() };
  for (const [k, v] of raw.numeric) {
    const a = new Float32Array(rows.length);
    for (let i = 0; i < rows.length; i++) a[i] = v[rows[i]!]!;
    out.numeric.set(k, a);
  }
  for (const [k, v] of raw.strings) out.strings.set(k, Array.from({ length: rows.length }, (_, i) => v[rows[i]!]!));
  return out;
}

export function takeTarget(t: TargetData, rows: ArrayLike<number>): TargetData {
  if (t.kind === 'class') {
    const y = new Int32Array(rows.length);
    for (let i = 0; i < rows.length; i++) y[i] = t.y[rows[i]!]!;
    return { ...t, y };
  }
  const y = new Float64Array(rows.length);
  for (let i = 0; i < rows.length; i++) y[i] = t.y[rows[i]!]!;
  return { kind: 'value', y };
}

/** Rows whose target is null (or NaN) are dropped: they teach nothing. */
export function dropMissingTarget(df: pl.DataFrame, target: string): { df: pl.DataFrame; dropped: number } {
  const v = variant(df, target);
  let keep = pl.col(target).isNotNull();
  if (FLOAT.has(v)) keep = keep.and(pl.col(target).isNan().not());
  const out = df.filter(keep);
  return { df: out, dropped: df.height - out.height };
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The task a target column implies when none is given: strings and booleans classify, numbers regress. */
export function inferTask(df: pl.DataFrame, target: string): ModelTask {
  const v = variant(df, target);
  if (STRING.has(v) || v === 'Bool') {
    const n = df.select(pl.col(target).cast(pl.Utf8)).getColumn(target).nUnique();
    return n <= 2 ? 'binary' : 'multiclass';
  }
  return 'regression';
}

/**
 * The target as class indices (classes sorted: strings by code point, integers ascending) or as
 * values. `known` fixes the classes (validation data must use the training classes).
 */
export function extractTarget(df: pl.DataFrame, target: string, task: ModelTask, known?: { classes: (string | number)[]; labelType: 'string' | 'int64' }): TargetData {
  const v = variant(df, target);
  if (task === 'regression') {
    if (!isNumericVariant(v)) throw invalidInput(`regression needs a numeric target; "${target}" is ${v}`);
    return { kind: 'value', y: Float64Array.from(numericColumn64(df, target)) };
  }
  let labelType: 'string' | 'int64';
  let values: (string | number)[];
  if (STRING.has(v) || v === 'Bool') {
    labelType = 'string';
    values = stringColumn(df, target);
  } else if (isNumericVariant(v)) {
    labelType = 'int64';
    values = Array.from(numericColumn64(df, target));
    if (values.some((x) => !Number.isInteger(x))) throw invalidInput(`classification target "${target}" has non-integer numbers; use a string or integer column`);
  } else throw invalidInput(`target "${target}" is ${v}; classification needs strings, booleans or integers`);
  let classes: (string | number)[];
  if (known) {
    if (known.labelType !== labelType) throw invalidInput(`target "${target}" is ${labelType} here but ${known.labelType} in the training data`);
    classes = known.classes;
  } else {
    const distinct = [...new Set(values)];
    classes = labelType === 'string' ? (distinct as string[]).sort(byCodePoint) : (distinct as number[]).sort((a, b) => a - b);
  }
  if (!known) {
    if (task === 'binary' && classes.length !== 2) throw invalidInput(`binary classification needs exactly 2 classes in "${target}", found ${classes.length}: ${classes.slice(0, 10).join(', ')}`);
    if (task === 'multiclass' && classes.length < 2) throw invalidInput(`classification needs at least 2 classes in "${target}", found ${classes.length}`);
  }
  const index = new Map<string | number, number>(classes.map((c, i) => [c, i]));
  const y = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const k = index.get(values[i]!);
    if (k === undefined) throw invalidInput(`target "${target}" has class ${JSON.stringify(values[i])}, which the training data does not have`);
    y[i] = k;
  }
  return { kind: 'class', classes, labelType, y };
}

function numericColumn64(df: pl.DataFrame, column: string): number[] {
  return (df.select(pl.col(column).cast(pl.Float64)).getColumn(column).toArray() as (number | null)[]).map((v) => (v === null ? NaN : v));
}

// ---------------------------------------------------------------------------------------------
// Statistics

export interface NumericStats {
  mean: number;
  std: number;
  missing: number;
  min: number;
  max: number;
}

export function numericStats(x: Float32Array): NumericStats {
  let n = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (Number.isNaN(v)) continue;
    n++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = n ? sum / n : 0;
  let ss = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isNaN(v)) ss += (v - mean) * (v - mean);
  }
  return { mean, std: n > 1 ? Math.sqrt(ss / n) : 0, missing: x.length - n, min: n ? min : NaN, max: n ? max : NaN };
}

/**
 * Category vocabulary: the `maxCategories` most frequent values (ties by code point), missing
 * ('') left out. Values outside it are treated as unknown by the models.
 */
export function vocabulary(values: readonly string[], maxCategories: number): { vocab: string[]; counts: Map<string, number>; missing: number } {
  const counts = new Map<string, number>();
  let missing = 0;
  for (const v of values) {
    if (v === MISSING_STRING) missing++;
    else counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const vocab = [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || byCodePoint(a, b)).slice(0, maxCategories);
  return { vocab, counts, missing };
}

// ---------------------------------------------------------------------------------------------
// Splits

/** A seeded random split of `n` rows: the last `fraction` of a shuffle is the validation part. */
export function splitRows(n: number, fraction: number, seed: number): { train: Uint32Array; validation: Uint32Array } {
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  new Rng(seed ^ 0x5eed5eed).shuffle(idx);
  const nv = Math.min(n - 1, Math.max(fraction > 0 ? 1 : 0, Math.round(n * fraction)));
  const train = idx.slice(0, n - nv).sort();
  const validation = idx.slice(n - nv).sort();
  return { train, validation };
}
