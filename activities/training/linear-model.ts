import type { ModelTask } from '../../pipelines/steps/model';
import type { FeatureColumn, RawTable, TargetData } from './data/design-matrix';
import { designMatrix, linearMargins, type LinearPreprocess } from './data/linear-features';
import { accuracy, classHead, logLoss, meanSquaredError, r2Score, type Prediction } from './head';

/**
 * A fitted linear model (linear regression or logistic regression): preprocessing plus
 * float32 coefficients, the very numbers the ONNX file holds.
 */
export interface LinearModel {
  trainer: 'linear' | 'logistic';
  task: ModelTask;
  target: string;
  features: FeatureColumn[];
  pre: LinearPreprocess;
  /** Class labels in output order (classification). */
  classes?: (string | number)[];
  labelType?: 'string' | 'int64';
  /** k × dim, row-major; k = 1 for binary and regression, C for multiclass. */
  coef: Float64Array;
  intercept: Float64Array;
}

export function predictLinear(model: LinearModel, raw: RawTable): Prediction {
  const X = designMatrix(raw, model.pre);
  const m = linearMargins(X, raw.n, model.pre.dim, model.coef, model.intercept);
  if (model.task === 'regression') return { kind: 'value', n: raw.n, values: m };
  return classHead(m, raw.n, model.classes!.length);
}

export interface EvalMetrics {
  loss: number;
  accuracy?: number;
  r2?: number;
}

/** Loss (log loss or MSE) and accuracy / R² of a prediction. */
export function evaluate(pred: Prediction, target: TargetData): EvalMetrics {
  if (pred.kind === 'class' && target.kind === 'class') {
    return { loss: logLoss(pred.probabilities, target.y, pred.classes), accuracy: accuracy(pred.labels, target.y) };
  }
  if (pred.kind === 'value' && target.kind === 'value') return { loss: meanSquaredError(pred.values, target.y), r2: r2Score(pred.values, target.y) };
  throw new Error('prediction and target kinds differ');
}

export const toFloat32 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a, (v) => Math.fround(v));
