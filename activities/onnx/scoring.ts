import { performance } from 'node:perf_hooks';
import ort from 'onnxruntime-node';
import pl, { type DataType } from 'nodejs-polars';
import type { ArtifactStore } from '../../infra/artifacts';
import { withLocalCopy } from '../data/frames';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { signatureColumns, type ModelInput, type ModelRef, type ModelSignature, type ModelTask } from '../../pipelines/steps/model';
import { labelIsArgmaxOf } from './argmax-label';
import { exposeZipMapInput, OnnxFormatError } from './zipmap';
import { failure, invalidInput } from '../../pipelines/failures';

/**
 * Scoring a dataset with a model's ONNX file, in batches, with onnxruntime-node: what evaluation
 * uses and what batch scoring can reuse, so what was evaluated is exactly what serves.
 *
 * - The session is made from the artifact's bytes (hash verified on read).
 * - Each signature input gets one [n, 1] tensor from its dataset column (or, for a 2-D input, one
 *   [n, k] tensor from its k columns in the declared order), `n` rows at a time (the
 *   Parquet file is scanned lazily, one slice per batch), so the memory of inputs and outputs per
 *   call stays bounded whatever the dataset's size. Missing values: NaN for float/double inputs
 *   (the model's imputer sees them), '' for string inputs; an int64 input cannot hold one, so a
 *   null there fails with the column's name.
 * - Outputs: `label` (mapped to class indices through `classes`), `probabilities` (float [N, C]),
 *   `probabilityMap` (ZipMap sequence of maps: the ZipMap node is removed and its input tensor
 *   read instead, since onnxruntime-node returns only tensors), `value` (regression).
 */

export const DEFAULT_BATCH_SIZE = 65_536;

export interface BatchPrediction {
  rows: number;
  /** Classification: predicted class index per row (the `label` output, else the argmax). */
  labelIndex?: Int32Array;
  /** Classification: rows × C probabilities in `classes` order. */
  probabilities?: Float32Array;
  /** Regression: the predicted value per row. */
  values?: Float64Array;
}

export interface ScoringModel {
  readonly ref: ModelRef;
  readonly signature: ModelSignature;
  readonly task: ModelTask;
  /** Class labels in output order (classification). */
  readonly classes: readonly (string | number)[];
  /** Dataset columns the model reads, one per input. */
  readonly columns: readonly string[];
  /** Classification: whether the model gives class probabilities. */
  readonly hasProbabilities: boolean;
  /** `bool`: the labels are booleans (the classes say false and true). */
  readonly labelType?: ModelSignature['labelType'];
  /** The graph outputs each batch fetches (the label is left out when it is the probabilities' argmax). */
  readonly outputs: readonly string[];
  /** Scores one batch: a frame holding (at least) the input columns. */
  run(frame: pl.DataFrame): Promise<BatchPrediction>;
  /**
   * Scores `n` rows already made into the graph's input tensors (one per signature input, named
   * as it is): what `run` does after building its feeds, for callers that hold rows rather than
   * a frame (the online server builds small batches' tensors straight from JSON values).
   */
  runFeeds(feeds: Record<string, ort.Tensor>, n: number): Promise<BatchPrediction>;
  release(): Promise<void>;
}

export interface OpenModelOptions {
  /** onnxruntime execution providers, in order of preference; default CPU. */
  executionProviders?: string[];
  /** Largest model accepted, in bytes (default 2 GiB). */
  maxBytes?: number;
  /** onnxruntime threads within an operator (default: onnxruntime's, one per core); lower it when several sessions run at once. */
  intraOpNumThreads?: number;
  /** onnxruntime threads across operators (default: onnxruntime's). */
  interOpNumThreads?: number;
}

type ElemType = ModelInput['type'];
const ORT_TYPE: Record<ElemType, string> = { float: 'float32', double: 'float64', int64: 'int64', string: 'string' };

/** Loads a model's ONNX file (hash verified) and checks it against its signature. */
export async function openModel(store: ArtifactStore, model: ModelRef, opts: OpenModelOptions = {}): Promise<ScoringModel> {
  checkSignature(model);
  const bytes = await store.getBuffer(model.uri, { expectSha256: model.sha256, maxBytes: opts.maxBytes ?? 2 * 1024 ** 3 });
  return loadScoringModel(bytes, model, opts);
}

/** The signature's own consistency, checked before any bytes are read. */
function checkSignature(model: ModelRef): void {
  const sig = model.signature;
  const classification = sig.task !== 'regression';
  const classes = sig.classes ?? [];
  if (classification && classes.length < 2) throw invalidInput(`model ${model.uri}: a ${sig.task} signature needs at least 2 classes, got ${classes.length}`);
  if (sig.task === 'binary' && classes.length !== 2) throw invalidInput(`model ${model.uri}: a binary signature needs exactly 2 classes, got ${classes.length}`);
  if (classification && !sig.outputs.label && !sig.outputs.probabilities && !sig.outputs.probabilityMap) {
    throw invalidInput(`model ${model.uri}: a classification signature names no label, probabilities or probabilityMap output`);
  }
  if (!classification && !sig.outputs.value && !sig.outputs.label) throw invalidInput(`model ${model.uri}: a regression signature names no value output`);
}

/**
 * A scoring model from the ONNX bytes of `model` (already fetched and verified by the caller):
 * what openModel does after reading the artifact, usable where there is no store (an inference thread).
 */
export async function loadScoringModel(modelBytes: Uint8Array, model: ModelRef, opts: OpenModelOptions = {}): Promise<ScoringModel> {
  checkSignature(model);
  const sig = model.signature;
  const classification = sig.task !== 'regression';
  const classes = sig.classes ?? [];
  let bytes = modelBytes;
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: opts.executionProviders ?? ['cpu'],
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
    ...(opts.intraOpNumThreads ? { intraOpNumThreads: opts.intraOpNumThreads } : {}),
    ...(opts.interOpNumThreads ? { interOpNumThreads: opts.interOpNumThreads } : {}),
  };
  const create = async (b: Uint8Array) => {
    try {
      return await ort.InferenceSession.create(b, sessionOptions);
    } catch (e) {
      throw failure('InvalidModel', `model ${model.uri}: onnxruntime cannot load it: ${(e as Error).message}`);
    }
  };
  let session = await create(bytes);

  // Probability tensor: the declared one, or the ZipMap's input when only a sequence of maps is offered.
  let probaOutput = sig.outputs.probabilities;
  if (!probaOutput && sig.outputs.probabilityMap) {
    const name = sig.outputs.probabilityMap;
    if (!session.outputNames.includes(name)) throw invalidInput(`model ${model.uri}: signature output "${name}" is not an output of the ONNX graph (${session.outputNames.join(', ')})`);
    const meta = session.outputMetadata?.find((m) => m.name === name);
    if (meta && meta.isTensor) {
      probaOutput = name; // a tensor after all: read it as such
    } else {
      let rewrite;
      try {
        rewrite = exposeZipMapInput(bytes, name);
      } catch (e) {
        if (e instanceof OnnxFormatError) throw invalidInput(`model ${model.uri}: cannot read probabilities from "${name}": ${e.message}; export the model with ZipMap off`);
        throw e;
      }
      const mismatch = rewrite.classLabels.length !== classes.length || rewrite.classLabels.some((c, i) => String(c) !== String(classes[i]));
      if (mismatch) {
        throw invalidInput(`model ${model.uri}: the ZipMap's classes [${rewrite.classLabels.join(', ')}] differ from the signature's [${classes.join(', ')}]`);
      }
      await session.release();
      bytes = rewrite.model;
      session = await create(bytes);
      probaOutput = rewrite.probabilities;
    }
  }

  // Inputs: the graph's and the signature's must be the same set, with the same element types.
  const byName = new Map(sig.inputs.map((i) => [i.name, i]));
  const missing = session.inputNames.filter((n) => !byName.has(n));
  const extra = sig.inputs.filter((i) => !session.inputNames.includes(i.name)).map((i) => i.name);
  if (missing.length || extra.length) {
    await session.release();
    throw invalidInput(
      `model ${model.uri}: signature inputs do not match the ONNX graph` +
        (missing.length ? `; graph inputs missing from the signature: ${missing.join(', ')}` : '') +
        (extra.length ? `; signature inputs the graph does not have: ${extra.join(', ')}` : ''),
    );
  }
  for (const meta of session.inputMetadata ?? []) {
    const want = byName.get(meta.name)!;
    if (meta.isTensor && meta.type !== ORT_TYPE[want.type]) {
      await session.release();
      throw invalidInput(`model ${model.uri}: input "${meta.name}" is ${meta.type} in the ONNX graph but ${want.type} in the signature`);
    }
  }
  const labelOutput = sig.outputs.label;
  const valueOutput = sig.outputs.value ?? (classification ? undefined : labelOutput);
  const allFetches = classification ? [labelOutput, probaOutput].filter((x): x is string => !!x) : [valueOutput!];
  // A label that is the argmax of the probabilities by construction is taken from them (argmax-label.ts).
  const labelFromProbabilities = classification && !!labelOutput && !!probaOutput && labelIsArgmaxOf(bytes, labelOutput, probaOutput, classes);
  const fetches = labelFromProbabilities ? [probaOutput!] : allFetches;
  for (const f of allFetches) {
    if (!session.outputNames.includes(f)) {
      await session.release();
      throw invalidInput(`model ${model.uri}: signature output "${f}" is not an output of the ONNX graph (${session.outputNames.join(', ')})`);
    }
  }

  bytes = new Uint8Array(0);
  const feeders = sig.inputs.map(feeder);
  const classIndex = new Map(classes.map((c, i) => [String(c), i]));
  const C = classes.length;
  const s = session;
  const scoring: ScoringModel = {
    ref: model,
    signature: sig,
    task: sig.task,
    classes,
    columns: signatureColumns(sig),
    hasProbabilities: classification && !!probaOutput,
    ...(sig.labelType ? { labelType: sig.labelType } : {}),
    outputs: fetches,
    async run(frame) {
      const n = frame.height;
      const feeds: Record<string, ort.Tensor> = {};
      const t = PROFILE ? performance.now() : 0;
      for (const [i, input] of sig.inputs.entries()) feeds[input.name] = feeders[i]!(frame, n);
      if (PROFILE) tick('feeds', t);
      return scoring.runFeeds(feeds, n);
    },
    async runFeeds(feeds, n) {
      let t = PROFILE ? performance.now() : 0;
      const runWith = async (outputs: string[]) => {
        try {
          return await s.run(feeds, outputs);
        } catch (e) {
          throw failure('InvalidModel', `model ${model.uri}: onnxruntime failed on a batch of ${n} rows: ${(e as Error).message}`);
        }
      };
      let out = await runWith(fetches);
      if (PROFILE) t = tick('session.run', t);
      if (!classification) {
        const t = out[valueOutput!]!;
        if (t.size !== n) throw failure('InvalidModel', `model ${model.uri}: output "${valueOutput}" has ${t.size} values for ${n} rows (expected [N, 1])`);
        return { rows: n, values: Float64Array.from(t.data as Float32Array | Float64Array, Number) };
      }
      const pred: BatchPrediction = { rows: n };
      if (probaOutput) {
        const t = out[probaOutput]!;
        const data = t.data as Float32Array | Float64Array;
        const width = t.dims.length === 2 ? t.dims[1]! : t.dims.length === 1 ? 1 : -1;
        const p = new Float32Array(n * C);
        if (width === C && data.length === n * C) {
          p.set(data);
        } else if (C === 2 && width === 1 && data.length === n) {
          // one column: p(classes[1])
          for (let i = 0; i < n; i++) {
            p[2 * i] = 1 - data[i]!;
            p[2 * i + 1] = data[i]!;
          }
        } else {
          throw failure('InvalidModel', `model ${model.uri}: probabilities have shape [${t.dims.join(', ')}], expected [${n}, ${C}] (one column per class)`);
        }
        pred.probabilities = p;
      }
      if (labelFromProbabilities && !hasNaN(pred.probabilities!)) {
        pred.labelIndex = argmaxRows(pred.probabilities!, C);
        return pred;
      }
      if (labelFromProbabilities) out = await runWith(allFetches); // NaN probabilities: the graph's own ArgMax decides
      if (labelOutput) {
        const t = out[labelOutput]!;
        if (t.size !== n) throw failure('InvalidModel', `model ${model.uri}: label output "${labelOutput}" has ${t.size} values for ${n} rows`);
        const data = t.data as ArrayLike<unknown>;
        const idx = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          const k = classIndex.get(String(data[i]));
          if (k === undefined) throw failure('InvalidModel', `model ${model.uri}: predicted label ${JSON.stringify(String(data[i]))} is not one of the signature's classes [${classes.join(', ')}]`);
          idx[i] = k;
        }
        pred.labelIndex = idx;
      } else {
        pred.labelIndex = argmaxRows(pred.probabilities!, C);
      }
      return pred;
    },
    release: () => s.release(),
  };
  return scoring;
}

/** SLUICE_SCORING_PROFILE=1: time in feed building and session.run (ms), summed over the process. */
const PROFILE = process.env.SLUICE_SCORING_PROFILE === '1';
export const onnxProfile: Record<string, number> = {};
function tick(phase: string, since: number): number {
  const now = performance.now();
  onnxProfile[phase] = (onnxProfile[phase] ?? 0) + (now - since);
  return now;
}

function hasNaN(p: Float32Array): boolean {
  for (let i = 0; i < p.length; i++) if (p[i] !== p[i]) return true;
  return false;
}

function argmaxRows(p: Float32Array, C: number): Int32Array {
  const n = p.length / C;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < C; k++) if (p[i * C + k]! > p[i * C + best]!) best = k;
    out[i] = best;
  }
  return out;
}

const FLOATS = new Set(['Float32', 'Float64', 'Decimal']);
const INTEGERS = new Set(['Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64', 'Bool']);

/**
 * What turns a batch's column into the [n, 1] tensor of one signature input. The polars
 * expressions are built once per model, not per batch: nodejs-polars makes every expression a
 * large JavaScript object, a cost that adds up over thousands of batches.
 */
type Feeder = (frame: pl.DataFrame, n: number) => ort.Tensor;

function feeder(input: ModelInput): Feeder {
  if ('columns' in input) return matrixFeeder(input);
  const c = pl.col(input.column);
  const fail = (variant: string, why: string) => invalidInput(`column "${input.column}" (${variant}) cannot feed the model's ${input.type} input "${input.name}": ${why}`);
  switch (input.type) {
    case 'float':
    case 'double': {
      const dtype = input.type === 'float' ? pl.Float32 : pl.Float64;
      const expr = c.cast(pl.Float64).fillNull(pl.lit(NaN)).cast(dtype).alias('v'); // through float64, as the trainers read numbers
      return (frame, n) => {
        const variant = frame.getColumn(input.column).dtype.variant;
        if (!FLOATS.has(variant) && !INTEGERS.has(variant)) throw fail(variant, 'not a numeric column');
        const s = frame.select(expr).getColumn('v').rechunk();
        return new ort.Tensor(input.type === 'float' ? 'float32' : 'float64', s.toTypedArray() as Float32Array | Float64Array, [n, 1]);
      };
    }
    case 'int64': {
      const expr = c.cast(pl.Int64).alias('v');
      return (frame, n) => {
        const col = frame.getColumn(input.column);
        const variant = col.dtype.variant;
        if (!INTEGERS.has(variant)) throw fail(variant, 'not an integer column');
        const nulls = col.nullCount();
        if (nulls) throw fail(variant, `${nulls} missing value(s) in this batch, which an int64 tensor cannot represent`);
        return new ort.Tensor('int64', frame.select(expr).getColumn('v').rechunk().toTypedArray() as BigInt64Array, [n, 1]);
      };
    }
    case 'string': {
      const v = c.cast(pl.String).fillNull(pl.lit(''));
      const exprs = [v.cast(pl.Categorical).toPhysical().cast(pl.UInt32).alias('code'), v.alias('v')];
      return (frame, n) => new ort.Tensor('string', stringValues(frame, exprs), [n, 1]);
    }
  }
}

/**
 * A 2-D input: the k columns converted as a float input's column is (missing values NaN), then
 * interleaved row-major into one [n, k] tensor, column j from `columns[j]`.
 */
function matrixFeeder(input: Extract<ModelInput, { columns: string[] }>): Feeder {
  const k = input.columns.length;
  const dtype = input.type === 'float' ? pl.Float32 : pl.Float64;
  const exprs = input.columns.map((c, j) => pl.col(c).cast(pl.Float64).fillNull(pl.lit(NaN)).cast(dtype).alias(`v${j}`));
  return (frame, n) => {
    for (const c of input.columns) {
      const variant = frame.getColumn(c).dtype.variant;
      if (!FLOATS.has(variant) && !INTEGERS.has(variant)) {
        throw invalidInput(`column "${c}" (${variant}) cannot feed column ${input.columns.indexOf(c)} of the model's ${input.type} input "${input.name}": not a numeric column`);
      }
    }
    const cols = frame.select(...exprs);
    const out = input.type === 'float' ? new Float32Array(n * k) : new Float64Array(n * k);
    for (let j = 0; j < k; j++) {
      const v = cols.getColumn(`v${j}`).rechunk().toTypedArray() as Float32Array | Float64Array;
      for (let i = 0; i < n; i++) out[i * k + j] = v[i]!;
    }
    return new ort.Tensor(input.type === 'float' ? 'float32' : 'float64', out, [n, k]);
  };
}

/**
 * A string column's values as a JavaScript array, nulls as ''. Built through a dictionary (each
 * distinct value made a JavaScript string once, the rows pointing at it) rather than one new string
 * per row: categorical inputs have few distinct values, and a batch of fresh strings costs more in
 * garbage collection than in conversion.
 */
function stringValues(frame: pl.DataFrame, exprs: pl.Expr[]): string[] {
  const coded = frame.select(...exprs);
  const dict = coded.unique({ subset: 'code' });
  const n = frame.height;
  if (dict.height > n / 4) return coded.getColumn('v').toArray() as string[]; // mostly distinct: no gain
  const dictCodes = dict.getColumn('code').toTypedArray() as Uint32Array;
  const dictValues = dict.getColumn('v').toArray() as string[];
  let maxCode = 0;
  for (const c of dictCodes) if (c > maxCode) maxCode = c;
  // Codes are small (local categoricals count from 0): an array lookup, else a map.
  const lut: { get(code: number): string | undefined } =
    maxCode < 1 << 20 ? (() => {
      const a = new Array<string>(maxCode + 1);
      for (let i = 0; i < dictCodes.length; i++) a[dictCodes[i]!] = dictValues[i]!;
      return { get: (code: number) => a[code] };
    })() : new Map(Array.from(dictCodes, (c, i) => [c, dictValues[i]!] as const));
  const codes = coded.getColumn('code').toTypedArray() as Uint32Array;
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = lut.get(codes[i]!)!;
  return out;
}

export interface ScoreOptions {
  /** Rows per onnxruntime call (default 65 536). */
  batchSize?: number;
  signal?: AbortSignal;
  /** Called after each batch. */
  onProgress?: (rowsDone: number, rowsTotal: number) => void;
}

export interface FileBatch {
  /** Row offset of the batch in the file. */
  offset: number;
  prediction: BatchPrediction;
  /** The batch's rows of the input columns plus any `keep` columns. */
  frame: pl.DataFrame;
}

/** Number of rows of a Parquet file, and its columns' dtypes, from its metadata. */
export function parquetInfo(file: string): { rows: number; schema: Record<string, DataType> } {
  const lazy = pl.scanParquet(file);
  const rows = Number(lazy.select(pl.len().alias('n')).collectSync().getColumn('n').get(0));
  const schema = lazy.limit(0).collectSync().schema as Record<string, DataType>;
  return { rows, schema };
}

/** Scores a local Parquet file batch by batch, yielding each batch's predictions (and the rows read). */
export async function* scoreFileBatches(model: ScoringModel, file: string, opts: ScoreOptions & { keep?: string[] } = {}): AsyncGenerator<FileBatch> {
  const batchSize = opts.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw invalidInput(`batchSize must be a positive integer, got ${batchSize}`);
  const { rows, schema } = parquetInfo(file);
  const wanted = [...new Set([...model.columns, ...(opts.keep ?? [])])];
  const absent = wanted.filter((c) => !(c in schema));
  if (absent.length) throw invalidInput(`the dataset has no column ${absent.map((c) => `"${c}"`).join(', ')} (it has ${Object.keys(schema).join(', ')})`);
  const lazy = pl.scanParquet(file).select(...wanted);
  for (let offset = 0; offset < rows; offset += batchSize) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('cancelled');
    const frame = lazy.slice(offset, Math.min(batchSize, rows - offset)).collectSync();
    const prediction = await model.run(frame);
    opts.onProgress?.(offset + frame.height, rows);
    yield { offset, prediction, frame };
  }
}

export interface Predictions {
  task: ModelTask;
  rows: number;
  classes: readonly (string | number)[];
  labelIndex?: Int32Array;
  probabilities?: Float32Array;
  values?: Float64Array;
}

/** Scores a whole local Parquet file, collecting the predictions into typed arrays. */
export async function scoreFile(model: ScoringModel, file: string, opts: ScoreOptions = {}): Promise<Predictions> {
  const { rows } = parquetInfo(file);
  const C = model.classes.length;
  const classification = model.task !== 'regression';
  const out: Predictions = { task: model.task, rows, classes: model.classes };
  if (classification) out.labelIndex = new Int32Array(rows);
  if (model.hasProbabilities) out.probabilities = new Float32Array(rows * C);
  if (!classification) out.values = new Float64Array(rows);
  for await (const b of scoreFileBatches(model, file, opts)) {
    const p = b.prediction;
    if (p.labelIndex) out.labelIndex!.set(p.labelIndex, b.offset);
    if (p.probabilities) out.probabilities!.set(p.probabilities, b.offset * C);
    if (p.values) out.values!.set(p.values, b.offset);
  }
  return out;
}

/** Scores a dataset (a Parquet artifact) with a model (an ONNX artifact): the reusable entry point. */
export async function scoreDataset(
  store: ArtifactStore,
  model: ModelRef,
  dataset: DatasetRef,
  opts: ScoreOptions & OpenModelOptions = {},
): Promise<Predictions> {
  const scoring = await openModel(store, model, opts);
  try {
    return await withLocalCopy(store, dataset, (file) => scoreFile(scoring, file, opts));
  } finally {
    await scoring.release();
  }
}
