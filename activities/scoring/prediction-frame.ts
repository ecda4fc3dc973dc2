import pl from 'nodejs-polars';
import type { ModelSignature } from '../../pipelines/steps/model';
import type { BatchPrediction } from '../onnx/scoring';
import { labelsAreNumbers, META_COLUMNS, PREDICTION, probaColumn, ROW_ID } from './common';

/**
 * A batch's predictions, as users see them (the predictions dataset, table rows): row id, kept
 * columns, `prediction` (the class label, or the value), `proba_<class>` (Float32: the model's own
 * precision, widening it would only double the bytes), and the lineage
 * columns `model_name`, `model_version`, `run_id` on every row.
 *
 * Built in two steps: the model's outputs in compact form (`compactFrame`: class index and Float32
 * probabilities from typed arrays), then `predictionColumns` over it: vectorised polars
 * expressions for labels and constant columns, rather than a JavaScript string per row.
 */

/** Class index of a row in a compact frame (classification). */
export const LABEL_INDEX = 'label_index';

/** Lineage columns every prediction row carries. */
export interface PredictionMeta {
  modelName: string;
  modelVersion: number | null;
  runId: string;
}

/** What the predictions' columns depend on in a model. */
export interface ModelShape {
  task: ModelSignature['task'];
  classes: readonly (string | number)[];
  hasProbabilities: boolean;
  labelType?: ModelSignature['labelType'];
}

export function shapeOf(sig: ModelSignature): ModelShape {
  const classification = sig.task !== 'regression';
  return {
    task: sig.task,
    classes: classification ? (sig.classes ?? []) : [],
    hasProbabilities: classification && !!(sig.outputs.probabilities ?? sig.outputs.probabilityMap),
    ...(sig.labelType ? { labelType: sig.labelType } : {}),
  };
}

/**
 * The predicted label column from the class index, typed as the model's labels are: booleans for
 * a boolean target, Int64 for integer classes (not 2.0), Float64 for other numbers, else strings.
 */
function labelColumn(model: ModelShape): pl.Expr {
  const classes = model.classes;
  const index = classes.map((_, i) => i);
  const k = pl.col(LABEL_INDEX);
  if (model.labelType === 'bool') return k.eq(pl.lit(classes.findIndex((c) => c === 1 || String(c).toLowerCase() === 'true')));
  if (labelsAreNumbers(classes)) {
    const integers = classes.every((c) => Number.isSafeInteger(c));
    return k.replaceStrict(index, classes as number[], undefined, integers ? pl.Int64 : pl.Float64);
  }
  return k.replaceStrict(index, classes.map(String), undefined, pl.Utf8);
}

/** The model's outputs for a batch: row id, kept columns, class index and probabilities (or the value). */
export function compactFrame(frame: pl.DataFrame, p: BatchPrediction, model: ModelShape, keep: string[]): pl.DataFrame {
  const n = frame.height;
  const cols: pl.Series[] = [frame.getColumn(ROW_ID).cast(pl.Int64), ...keep.map((k) => frame.getColumn(k))];
  if (model.task === 'regression') {
    cols.push(pl.Series(PREDICTION, p.values!, pl.Float64));
  } else {
    cols.push(pl.Series(LABEL_INDEX, p.labelIndex!, pl.Int32));
    if (p.probabilities) {
      const C = model.classes.length;
      for (let k = 0; k < C; k++) {
        const col = new Float32Array(n);
        for (let i = 0; i < n; i++) col[i] = p.probabilities[i * C + k]!;
        cols.push(pl.Series(probaColumn(model.classes[k]!), col, pl.Float32));
      }
    }
  }
  return pl.DataFrame(cols);
}

/** The predictions' columns, from a compact frame's (lazy or eager `select`). */
export function predictionColumns(model: ModelShape, keep: string[], meta: PredictionMeta): pl.Expr[] {
  const exprs: pl.Expr[] = [pl.col(ROW_ID), ...keep.map((k) => pl.col(k))];
  if (model.task === 'regression') {
    exprs.push(pl.col(PREDICTION));
  } else {
    exprs.push(labelColumn(model).alias(PREDICTION));
    if (model.hasProbabilities) for (const c of model.classes) exprs.push(pl.col(probaColumn(c)));
  }
  const [name, version, run] = META_COLUMNS;
  exprs.push(
    pl.lit(meta.modelName).alias(name),
    (meta.modelVersion === null ? pl.lit(null).cast(pl.Int32) : pl.lit(meta.modelVersion).cast(pl.Int32)).alias(version),
    pl.lit(meta.runId).alias(run),
  );
  return exprs;
}
