import pl from 'nodejs-polars';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import { parquetInfo, scoreFile, type ScoreOptions, type ScoringModel } from '../onnx/scoring';
import { buildReport, type EvaluationReport } from './report';
import { take } from './metrics/slices';
import { invalidInput } from '../../pipelines/failures';

/**
 * One evaluation: score a local Parquet copy of the holdout with a model, read its target and
 * slice columns, and build the report. The target and slice columns are read whole (one column
 * each); inputs and outputs go through onnxruntime in batches.
 */

export interface EvaluateOptions extends ScoreOptions {
  target?: string;
  sliceBy?: string[];
  maxSlices?: number;
  calibrationBins?: number;
  title?: string;
  /** Called between the phases after scoring (metrics, each slice). */
  onPhase?: (phase: string) => void;
}

const FLOATS = new Set(['Float32', 'Float64', 'Decimal']);
const NUMERIC = new Set([...FLOATS, 'Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16', 'UInt32', 'UInt64']);

/** A column's values as text keys (numbers as JS prints them, so 1.0 and 1 are both "1"); NaN is missing. */
function textValues(s: pl.Series): (string | null)[] {
  if (NUMERIC.has(s.dtype.variant)) {
    return (s.cast(pl.Float64).toArray() as (number | null)[]).map((v) => (v === null || Number.isNaN(v) ? null : String(v)));
  }
  return (s.cast(pl.String).toArray() as (string | null)[]).map((v) => (v === null || v === undefined ? null : v));
}

export async function evaluateFile(model: ScoringModel, file: string, dataset: DatasetRef, opts: EvaluateOptions = {}): Promise<EvaluationReport> {
  const sig = model.signature;
  const target = opts.target ?? sig.target;
  if (!target) throw invalidInput(`model ${model.ref.uri}: its signature names no target column; give the evaluation a target`);
  const sliceBy = opts.sliceBy ?? [];
  const { schema } = parquetInfo(file);
  const absent = [target, ...sliceBy].filter((c) => !(c in schema));
  if (absent.length) throw invalidInput(`dataset ${dataset.name}@${dataset.version} has no column ${absent.map((c) => `"${c}"`).join(', ')} (it has ${Object.keys(schema).join(', ')})`);
  for (const c of sliceBy) {
    if (FLOATS.has(schema[c]!.variant)) throw invalidInput(`slice column "${c}" is ${schema[c]!.variant}: slice by a categorical column (strings, categories, booleans, integers)`);
  }

  const predictions = await scoreFile(model, file, opts);
  const cols = pl.scanParquet(file).select(target, ...sliceBy).collectSync();
  const n = predictions.rows;
  const classification = model.task !== 'regression';

  // Rows with a target value; the others are counted and left out.
  let keep: Uint32Array;
  let yTrue: Int32Array | undefined;
  let actual: Float64Array | undefined;
  const t = cols.getColumn(target);
  if (classification) {
    // A boolean target against integer classes (skl2onnx exports booleans as 0 and 1): compared as 0/1.
    const keys = t.dtype.variant === 'Bool' && model.classes.every((c) => typeof c === 'number') ? textValues(t.cast(pl.Int64)) : textValues(t);
    const index = new Map(model.classes.map((c, i) => [String(c), i]));
    const unknown = new Map<string, number>();
    const kept: number[] = [];
    const y: number[] = [];
    keys.forEach((k, i) => {
      if (k === null) return;
      const c = index.get(k);
      if (c === undefined) unknown.set(k, (unknown.get(k) ?? 0) + 1);
      else {
        kept.push(i);
        y.push(c);
      }
    });
    if (unknown.size) {
      const list = [...unknown.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, c]) => `${JSON.stringify(k)} (${c} rows)`);
      throw invalidInput(
        `target column "${target}" holds label(s) the model does not know: ${list.join(', ')}${unknown.size > 10 ? ', …' : ''}; ` +
          `the model's classes are [${model.classes.map((c) => JSON.stringify(c)).join(', ')}]`,
      );
    }
    keep = Uint32Array.from(kept);
    yTrue = Int32Array.from(y);
  } else {
    if (!NUMERIC.has(t.dtype.variant)) throw invalidInput(`target column "${target}" is ${t.dtype.variant}: a regression target must be numeric`);
    const v = t.cast(pl.Float64).toArray() as (number | null)[];
    const kept: number[] = [];
    v.forEach((x, i) => {
      if (x !== null && Number.isFinite(x)) kept.push(i);
    });
    keep = Uint32Array.from(kept);
    actual = Float64Array.from(kept, (i) => v[i]!);
  }
  const all = keep.length === n;
  const sel = <T extends Float32Array | Float64Array | Int32Array>(a: T, width = 1): T => (all ? a : take(a, keep, width));
  const sliceValues = sliceBy.map((column) => {
    const v = textValues(cols.getColumn(column));
    return { column, values: all ? v : Array.from(keep, (i) => v[i]!) };
  });

  return buildReport({
    task: model.task,
    model: { uri: model.ref.uri, sha256: model.ref.sha256, ...(model.ref.registered ? { registered: model.ref.registered } : {}) },
    dataset: { name: dataset.name, version: dataset.version, uri: dataset.uri, sha256: dataset.sha256, rows: n },
    target,
    ...(opts.title ? { title: opts.title } : {}),
    skippedRows: n - keep.length,
    classes: model.classes,
    ...(classification
      ? { yTrue, yPred: sel(predictions.labelIndex!), proba: predictions.probabilities ? sel(predictions.probabilities, model.classes.length) : null }
      : { actual, predicted: sel(predictions.values!) }),
    sliceValues,
    maxSlices: opts.maxSlices ?? 20,
    calibrationBins: opts.calibrationBins ?? 10,
    ...(opts.onPhase ? { onPhase: opts.onPhase } : {}),
  });
}
