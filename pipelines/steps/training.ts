import { z } from 'zod';
import { step, type StepOptions } from '../dsl/step';
import { queueSchema } from '../vocab/queue';
import { artifactRef } from './artifact-ref';
import { datasetRef } from './dataset';
import { modelRef, modelTask, onnxDescription } from './model';
import { gbdtCheckpoint, logisticCheckpoint } from './training-checkpoint';

/**
 * Training steps: TypeScript trainers for tabular data that export ONNX (activities/training).
 * Pure (zod only), so workflow code can import it.
 *
 * Every trainer takes the training dataset, an optional validation dataset, the target column,
 * the feature columns (default: every other column, dates left out) and which of them are
 * categorical (string columns always are). Rows with a missing target are dropped. The model
 * artifact is an ONNX file taking the raw feature columns (one [N, 1] input each: float for
 * numbers, NaN = missing; string for categories, '' = missing) with its preprocessing inside;
 * `modelJson` is a small JSON description (params, feature encoding, classes, metrics).
 *
 * `train.gbdt` and `train.gbdt-gpu` share one implementation; the second runs on the GPU
 * queue (for pipelines that put training there). The trainers are CPU code: on a GPU worker
 * the step says so in its log and in `compute`.
 */

const common = {
  train: datasetRef,
  validation: datasetRef.optional().describe('held-out rows for validation metrics (and early stopping for gbdt)'),
  target: z.string().min(1),
  features: z.array(z.string().min(1)).min(1).optional().describe('default: every column but the target (dates and timestamps left out)'),
  categorical: z.array(z.string().min(1)).optional().describe('columns to one-hot / encode as categories; string columns always are'),
};

const seed = z.number().int().min(0).max(2 ** 31 - 1).default(0);
const maxCategories = z.number().int().min(1).max(10_000).default(100).describe('most frequent categories kept per column; others count as unknown');
const validationFraction = z.number().min(0).max(0.9);

export const logisticParams = z.strictObject({
  l2: z.number().min(0).default(1e-3).describe('L2 penalty on the weights (objective: mean log loss + l2/2·||w||²)'),
  maxIter: z.number().int().min(1).max(100_000).default(200),
  tol: z.number().positive().default(1e-6).describe('stop when the largest gradient component is below this'),
  maxCategories,
  validationFraction: validationFraction.default(0).describe('without a validation dataset: share of rows held out for validation metrics'),
  seed,
});
export type LogisticParamsInput = z.input<typeof logisticParams>;

export const linearParams = z.strictObject({
  l2: z.number().min(0).default(0).describe('ridge penalty (objective: mean squared error + l2·||w||²)'),
  maxCategories,
  validationFraction: validationFraction.default(0),
  seed,
});

export const gbdtParams = z.object({
  task: modelTask.optional().describe('default: classification for string / boolean targets (binary with 2 classes), regression for numbers'),
  nEstimators: z.number().int().min(1).max(100_000).default(100),
  learningRate: z.number().positive().max(1).default(0.1),
  maxLeaves: z.number().int().min(2).max(4096).default(31),
  maxDepth: z.number().int().min(0).max(64).default(0).describe('0: unlimited (maxLeaves bounds the tree)'),
  minDataInLeaf: z.number().int().min(1).default(20),
  minSumHessian: z.number().min(0).default(1e-3),
  l2: z.number().min(0).default(1),
  minGainToSplit: z.number().min(0).default(0),
  maxBins: z.number().int().min(2).max(255).default(255),
  maxCategories: z.number().int().min(1).max(255).default(64),
  catSmooth: z.number().min(0).default(10).describe('categorical splits: categories are ordered per node by G/(H + catSmooth); one with less hessian at a node is treated as unknown there'),
  catL2: z.number().min(0).default(10).describe('categorical splits: extra L2 on their children'),
  maxCatThreshold: z.number().int().min(1).max(255).default(32).describe('categorical splits: most categories on the side the scan adds to'),
  minDataPerGroup: z.number().int().min(1).default(100).describe('categorical splits: rows between two candidate category sets, and the least on each side'),
  subsample: z.number().positive().max(1).default(1).describe('share of rows drawn (without replacement) each round'),
  colsample: z.number().positive().max(1).default(1).describe('share of features each tree may split on'),
  earlyStoppingRounds: z.number().int().min(0).default(10).describe('stop after this many rounds without a better validation loss (0: never)'),
  validationFraction: validationFraction.default(0.1).describe('without a validation dataset: share of rows held out for early stopping'),
  seed,
})
  // A misspelt option (nEstimatorz) must fail the run, naming it, not train on defaults.
  .strict();

export const trainingMetrics = z.object({
  task: modelTask,
  /** 'logloss' (classification) or 'mse' (regression). */
  loss: z.enum(['logloss', 'mse']),
  train_loss: z.number(),
  validation_loss: z.number().optional(),
  train_accuracy: z.number().optional(),
  validation_accuracy: z.number().optional(),
  train_r2: z.number().optional(),
  validation_r2: z.number().optional(),
  /** Optimiser iterations (linear: 1) or boosting rounds run. */
  iterations: z.number().int().nonnegative(),
  /** Iterations / rounds in the returned model. */
  best_iteration: z.number().int().nonnegative(),
  train_rows: z.number().int().nonnegative(),
  validation_rows: z.number().int().nonnegative(),
  /** Rows left out for a missing target. */
  dropped_rows: z.number().int().nonnegative(),
  converged: z.boolean().optional(),
});
export type TrainingMetrics = z.infer<typeof trainingMetrics>;

export const trainingCompute = z.object({
  queue: queueSchema,
  /** Where the trainer ran: always the CPU (the trainers are TypeScript). */
  device: z.literal('cpu'),
  /** Whether this worker offers CUDA (to onnxruntime sessions). */
  cudaAvailable: z.boolean(),
  note: z.string(),
});

function trainingOutput<P extends z.ZodType>(params: P) {
  return z.object({
    model: modelRef,
    modelJson: artifactRef,
    metrics: trainingMetrics,
    params,
    compute: trainingCompute,
  });
}

// Training heartbeats after every round (and off the main thread's long phases), so a killed worker's
// step is retried within half a minute rather than a minute.
const timing = { startToClose: '2h', heartbeat: '30s' } as const;
const retry = { maximumAttempts: 3 };

export const trainLogisticStep = step({
  name: 'train.logistic',
  description: 'Logistic regression (binary or multinomial, L2) on tabular data, exported as ONNX',
  input: z.strictObject({ ...common, params: logisticParams.default(logisticParams.parse({})) }),
  output: trainingOutput(logisticParams),
  queue: 'cpu',
  retry,
  timeouts: timing,
  /** Resumes L-BFGS from the weights and curvature pairs of the last checkpoint. */
  checkpoint: logisticCheckpoint.heartbeat,
});

export const trainLinearStep = step({
  name: 'train.linear',
  description: 'Linear / ridge regression on tabular data, exported as ONNX',
  input: z.strictObject({ ...common, params: linearParams.default(linearParams.parse({})) }),
  output: trainingOutput(linearParams),
  queue: 'cpu',
  retry,
  timeouts: timing,
});

const gbdtStep = {
  version: '1',
  input: z.strictObject({ ...common, params: gbdtParams.default(gbdtParams.parse({})) }),
  output: trainingOutput(gbdtParams),
  retry,
  timeouts: timing,
  /** Resumes boosting from the trees of the last checkpoint (both steps: one implementation). */
  checkpoint: gbdtCheckpoint.heartbeat,
} satisfies Partial<StepOptions<z.ZodType, z.ZodType, z.ZodType>>;

export const trainGbdtStep = step({
  ...gbdtStep,
  name: 'train.gbdt',
  description: 'Histogram gradient-boosted trees (binary, multiclass, regression; early stopping; learned missing directions), exported as ONNX',
  queue: 'cpu',
});

export const trainGbdtGpuStep = step({
  ...gbdtStep,
  name: 'train.gbdt-gpu',
  description: 'train.gbdt on the GPU queue (the trainer itself runs on the CPU; the step reports the device)',
  queue: 'gpu',
});

export const inspectOnnxStep = step({
  name: 'inspect-onnx',
  description: 'Reads an ONNX model made elsewhere (scikit-learn, PyTorch…) and derives its signature',
  input: z.strictObject({
    model: artifactRef,
    /** Dataset column of each ONNX input (default: the input name). */
    columns: z.record(z.string(), z.string().min(1)).optional(),
    target: z.string().min(1).optional(),
  }),
  output: z.object({
    model: modelRef,
    onnx: onnxDescription,
  }),
  queue: 'cpu',
  timeouts: { startToClose: '1m', heartbeat: '10s' },
});
