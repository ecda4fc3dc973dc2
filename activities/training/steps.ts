import ort from 'onnxruntime-node';
import pl from 'nodejs-polars';
import type { z } from 'zod';
import type { ModelSignature, ModelTask } from '../../pipelines/steps/model';
import {
  inspectOnnxStep,
  trainGbdtGpuStep,
  trainGbdtStep,
  trainLinearStep,
  trainLogisticStep,
  type TrainingMetrics,
} from '../../pipelines/steps/training';
import { readFrame } from '../data/frames';
import { implement } from '../runtime/implement';
import type { StepContext } from '../runtime/step-context';
import {
  dropMissingTarget,
  extractRaw,
  extractTarget,
  inferTask,
  resolveFeatures,
  splitRows,
  takeRows,
  takeTarget,
  type FeatureColumn,
  type RawTable,
  type TargetData,
} from './data/design-matrix';
import { exportGbdtOnnx } from './export/gbdt-onnx';
import { exportLinearOnnx } from './export/linear-onnx';
import { trainedSignature } from './export/signature';
import { trainGbdt } from './gbdt/boost';
import { packTrees, predictGbdt, unpackTrees, type GbdtModel } from './gbdt/model';
import type { Prediction } from './head';
import { trainLinear } from './linear';
import { evaluate, predictLinear, type LinearModel } from './linear-model';
import { trainLogistic } from './logistic';
import { IR_VERSION, IR_VERSION_ML5, ML, OPSET_DEFAULT, OPSET_ML, OPSET_ML5 } from '../onnx/builders';
import { prepareOnnx } from '../onnx/inspect';
import { Checkpointer, checkpointKey, type CheckpointOptions } from './checkpoint';
import { gbdtCheckpoint, logisticCheckpoint } from '../../pipelines/steps/training-checkpoint';
import type { CheckpointOf } from '../../pipelines/dsl/step';
import { invalidInput } from '../../pipelines/failures';
import type { Queue } from '../../pipelines/vocab/queue';

/**
 * The training steps: read the datasets, train, export ONNX, store the model and its JSON
 * description, report metrics. Iterative trainers heartbeat every iteration with a resumable
 * checkpoint (checkpoint.ts) and resume from the one a failed attempt left.
 */

type Common = {
  train: z.output<typeof trainGbdtStep.input>['train'];
  validation?: z.output<typeof trainGbdtStep.input>['validation'];
  target: string;
  features?: string[] | undefined;
  categorical?: string[] | undefined;
};

export interface RunOptions {
  queue?: Queue;
  checkpoint?: CheckpointOptions;
}

export interface Loaded {
  task: ModelTask;
  features: FeatureColumn[];
  train: { raw: RawTable; y: TargetData };
  validation?: { raw: RawTable; y: TargetData } | undefined;
  dropped: number;
  /** Where validation rows came from. */
  validationSource: 'dataset' | 'split' | 'none';
}

/** Reads the datasets and extracts features and target (with the validation split the params ask for). */
export async function loadTrainingData(ctx: Pick<StepContext, 'store' | 'log'>, input: Common, taskOf: (df: pl.DataFrame) => ModelTask, split: { fraction: number; seed: number }): Promise<Loaded> {
  const full = await readFrame(ctx.store, input.train);
  const { df, dropped } = dropMissingTarget(full, input.target);
  if (df.height < 2) throw invalidInput(`the training data has ${df.height} row(s) with a target; training needs at least 2`);
  const task = taskOf(df);
  const features = resolveFeatures(df, input, (msg, extra) => ctx.log.info(msg, extra));
  const raw = extractRaw(df, features);
  const y = extractTarget(df, input.target, task);
  let dropTotal = dropped;
  if (input.validation) {
    const v = dropMissingTarget(await readFrame(ctx.store, input.validation), input.target);
    dropTotal += v.dropped;
    const known = y.kind === 'class' ? { classes: y.classes, labelType: y.labelType } : undefined;
    return {
      task,
      features,
      train: { raw, y },
      validation: { raw: extractRaw(v.df, features), y: extractTarget(v.df, input.target, task, known) },
      dropped: dropTotal,
      validationSource: 'dataset',
    };
  }
  if (split.fraction > 0) {
    const s = splitRows(raw.n, split.fraction, split.seed);
    return {
      task,
      features,
      train: { raw: takeRows(raw, s.train), y: takeTarget(y, s.train) },
      validation: { raw: takeRows(raw, s.validation), y: takeTarget(y, s.validation) },
      dropped: dropTotal,
      validationSource: 'split',
    };
  }
  return { task, features, train: { raw, y }, dropped: dropTotal, validationSource: 'none' };
}

function computeReport(ctx: StepContext, queue: Queue, trainer: string) {
  const cuda = ctx.device.provider === 'cuda';
  let note: string;
  if (queue === 'gpu') {
    note = cuda
      ? `GPU worker with CUDA (${ctx.device.count} GPU(s)); the ${trainer} trainer is TypeScript CPU code and ran on the CPU. The exported ONNX model can be scored with the CUDA provider.`
      : `GPU queue, but no CUDA on this worker (${ctx.device.fallbackReason ?? 'CPU provider'}); the ${trainer} trainer ran on the CPU, as it always does.`;
    ctx.log.info(cuda ? 'training on a GPU worker: CUDA available, trainer runs on the CPU' : 'training on a GPU worker without CUDA: CPU fallback', {
      provider: ctx.device.provider,
      gpus: ctx.device.count,
      fallbackReason: ctx.device.fallbackReason,
    });
  } else {
    note = `the ${trainer} trainer ran on the CPU`;
  }
  return { queue, device: 'cpu' as const, cudaAvailable: cuda, note };
}

function metricsOf(
  task: ModelTask,
  train: { pred: Prediction; y: TargetData },
  validation: { pred: Prediction; y: TargetData } | undefined,
  extra: { iterations: number; best_iteration: number; dropped: number; converged?: boolean },
): TrainingMetrics {
  const t = evaluate(train.pred, train.y);
  const v = validation ? evaluate(validation.pred, validation.y) : undefined;
  return {
    task,
    loss: task === 'regression' ? 'mse' : 'logloss',
    train_loss: t.loss,
    ...(v ? { validation_loss: v.loss } : {}),
    ...(t.accuracy !== undefined ? { train_accuracy: t.accuracy } : {}),
    ...(v?.accuracy !== undefined ? { validation_accuracy: v.accuracy } : {}),
    ...(t.r2 !== undefined ? { train_r2: t.r2 } : {}),
    ...(v?.r2 !== undefined ? { validation_r2: v.r2 } : {}),
    iterations: extra.iterations,
    best_iteration: extra.best_iteration,
    train_rows: train.y.y.length,
    validation_rows: validation?.y.y.length ?? 0,
    dropped_rows: extra.dropped,
    ...(extra.converged !== undefined ? { converged: extra.converged } : {}),
  };
}

async function publish(
  ctx: StepContext,
  onnx: Uint8Array,
  signature: ModelSignature,
  description: Record<string, unknown>,
  format: { irVersion: number; mlOpset: number } = { irVersion: IR_VERSION, mlOpset: OPSET_ML },
) {
  const ref = await ctx.store.putContent(onnx, { contentType: 'application/onnx' });
  const doc = {
    format: 'sluice.model/1',
    ...description,
    signature,
    onnx: { file: ref, irVersion: format.irVersion, opsets: { '': OPSET_DEFAULT, [ML]: format.mlOpset } },
    conventions: { missingNumber: 'NaN (float input)', missingString: "'' (empty string input)", inputShape: '[N, 1] per column' },
  };
  const modelJson = await ctx.store.putContent(JSON.stringify(doc, null, 2) + '\n', { contentType: 'application/json' });
  return { model: { ...ref, signature }, modelJson };
}

const dataKey = (input: Common) => ({
  train: input.train.sha256,
  validation: input.validation?.sha256 ?? null,
  target: input.target,
  features: input.features ?? null,
  categorical: input.categorical ?? null,
});

function linearDescription(model: LinearModel) {
  return {
    trainer: model.trainer,
    task: model.task,
    target: model.target,
    classes: model.classes ?? null,
    features: [
      ...model.pre.numeric.map((c) => ({ column: c.column, input: c.input, kind: 'numeric', impute: c.impute, offset: c.offset, scale: c.scale })),
      ...model.pre.categorical.map((c) => ({ column: c.column, input: c.input, kind: 'categorical', encoding: 'one-hot', vocabulary: c.vocab })),
    ],
    coefficients: { rows: model.intercept.length, columns: model.pre.dim, intercepts: Array.from(model.intercept) },
  };
}

// ---------------------------------------------------------------------------------------------
// train.logistic

export async function runLogistic(input: z.output<typeof trainLogisticStep.input>, ctx: StepContext<CheckpointOf<typeof trainLogisticStep>>, opts: RunOptions = {}): Promise<z.input<typeof trainLogisticStep.output>> {
  const params = input.params;
  const compute = computeReport(ctx, opts.queue ?? 'cpu', 'logistic');
  const data = await loadTrainingData(
    ctx,
    input,
    (df) => {
      const n = df.getColumn(input.target).nUnique();
      if (n < 2) throw invalidInput(`target "${input.target}" has ${n} class(es); classification needs at least 2`);
      return n === 2 ? 'binary' : 'multiclass';
    },
    { fraction: params.validationFraction, seed: params.seed },
  );
  const y = data.train.y;
  if (y.kind !== 'class') throw new Error('unreachable: classification target');
  const cp = new Checkpointer(ctx, logisticCheckpoint, checkpointKey({ trainer: 'logistic', params, data: dataKey(input) }), opts.checkpoint);
  const resume = await cp.restore();
  if (resume) ctx.log.info('resuming logistic regression from a checkpoint', { iteration: resume.iteration });
  const { model, iterations, converged } = await trainLogistic(
    { target: input.target, features: data.features, raw: data.train.raw, y },
    params,
    {
      resume: resume?.state,
      onIteration: (st, info) => cp.report({ iteration: st.iteration, of: params.maxIter, trainLoss: info.loss }, () => st),
    },
  );
  const metrics = metricsOf(
    model.task,
    { pred: predictLinear(model, data.train.raw), y: data.train.y },
    data.validation && { pred: predictLinear(model, data.validation.raw), y: data.validation.y },
    { iterations, best_iteration: iterations, dropped: data.dropped, converged },
  );
  const signature = trainedSignature(model);
  const out = await publish(ctx, exportLinearOnnx(model), signature, { ...linearDescription(model), params, metrics });
  return { ...out, metrics, params, compute };
}

// ---------------------------------------------------------------------------------------------
// train.linear

export async function runLinear(input: z.output<typeof trainLinearStep.input>, ctx: StepContext, opts: RunOptions = {}): Promise<z.input<typeof trainLinearStep.output>> {
  const params = input.params;
  const compute = computeReport(ctx, opts.queue ?? 'cpu', 'linear');
  const data = await loadTrainingData(ctx, input, () => 'regression', { fraction: params.validationFraction, seed: params.seed });
  const y = data.train.y;
  if (y.kind !== 'value') throw new Error('unreachable: regression target');
  ctx.heartbeat({ phase: 'training', trainer: 'linear', iteration: 0, of: 1 });
  const model = trainLinear({ target: input.target, features: data.features, raw: data.train.raw, y: y.y }, params);
  const metrics = metricsOf(
    'regression',
    { pred: predictLinear(model, data.train.raw), y: data.train.y },
    data.validation && { pred: predictLinear(model, data.validation.raw), y: data.validation.y },
    { iterations: 1, best_iteration: 1, dropped: data.dropped },
  );
  const signature = trainedSignature(model);
  const out = await publish(ctx, exportLinearOnnx(model), signature, { ...linearDescription(model), params, metrics });
  return { ...out, metrics, params, compute };
}

// ---------------------------------------------------------------------------------------------
// train.gbdt, train.gbdt-gpu

export async function runGbdt(input: z.output<typeof trainGbdtStep.input>, ctx: StepContext<CheckpointOf<typeof trainGbdtStep>>, opts: RunOptions = {}): Promise<z.input<typeof trainGbdtStep.output>> {
  const params = input.params;
  const compute = computeReport(ctx, opts.queue ?? 'cpu', 'gbdt');
  const data = await loadTrainingData(ctx, input, (df) => params.task ?? inferTask(df, input.target), { fraction: params.validationFraction, seed: params.seed });
  const cp = new Checkpointer(ctx, gbdtCheckpoint, checkpointKey({ trainer: 'gbdt', params, data: dataKey(input) }), opts.checkpoint);
  const resume = await cp.restore();
  if (resume) ctx.log.info('resuming gradient boosting from a checkpoint', { iteration: resume.iteration });
  const { model, state } = await trainGbdt(
    { target: input.target, task: data.task, features: data.features, train: data.train, validation: data.validation },
    params,
    {
      resume: resume && { ...resume.state, trees: unpackTrees(resume.state.trees) },
      onIteration: (st, info) =>
        cp.report({ iteration: st.iteration, of: params.nEstimators, ...info }, () => ({
          iteration: st.iteration,
          rng: st.rng,
          trees: packTrees(st.trees),
          bestIteration: st.bestIteration,
          bestLoss: st.bestLoss,
          history: st.history,
          stopped: st.stopped,
        })),
    },
  );
  const metrics = metricsOf(
    data.task,
    { pred: predictGbdt(model, data.train.raw), y: data.train.y },
    data.validation && { pred: predictGbdt(model, data.validation.raw), y: data.validation.y },
    { iterations: state.iteration, best_iteration: state.bestIteration, dropped: data.dropped },
  );
  const signature = trainedSignature(model);
  const out = await publish(ctx, exportGbdtOnnx(model), signature, { ...gbdtDescription(model), validation: data.validationSource, params, metrics }, { irVersion: IR_VERSION_ML5, mlOpset: OPSET_ML5 });
  return { ...out, metrics, params, compute };
}

function gbdtDescription(model: GbdtModel) {
  return {
    trainer: 'gbdt',
    task: model.task,
    target: model.target,
    classes: model.classes ?? null,
    features: model.features.map((f) =>
      f.kind === 'numeric'
        ? { column: f.column, input: f.input, kind: 'numeric', bins: f.nBins }
        : { column: f.column, input: f.input, kind: 'categorical', encoding: 'codes (LabelEncoder), split per node into sets (BRANCH_MEMBER); missing/unknown → NaN', categories: f.categories },
    ),
    baseScores: model.base,
    trees: model.trees.length,
    treesPerRound: model.perIteration,
  };
}

// ---------------------------------------------------------------------------------------------
// inspect-onnx

export async function runInspectOnnx(input: z.output<typeof inspectOnnxStep.input>, ctx: StepContext): Promise<z.input<typeof inspectOnnxStep.output>> {
  const original = await ctx.store.getBuffer(input.model, { maxBytes: 2 * 1024 * 1024 * 1024 - 1 });
  const { bytes, info, addedOutputs } = prepareOnnx(original, { columns: input.columns, target: input.target });
  // the signature is only worth recording if onnxruntime can run the model
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes);
  } catch (e) {
    throw invalidInput(`onnxruntime cannot load the model: ${(e as Error).message}`);
  }
  const missing = info.signature.inputs.filter((i) => !session.inputNames.includes(i.name));
  await session.release();
  if (missing.length) throw invalidInput(`inputs ${missing.map((i) => i.name).join(', ')} not found by onnxruntime`);
  // a ZipMap model gets its probability tensor exposed: that file is the model from here on
  const ref = addedOutputs.length ? await ctx.store.putContent(bytes, { contentType: 'application/onnx' }) : { uri: input.model.uri, sha256: input.model.sha256, size: input.model.size };
  ctx.log.info('onnx model inspected', { task: info.signature.task, inputs: info.signature.inputs.length, producer: info.producer, addedOutputs });
  return {
    model: { ...ref, signature: info.signature },
    onnx: { irVersion: info.irVersion, producer: info.producer, opsets: info.opsets, operators: info.operators, addedOutputs },
  };
}

// ---------------------------------------------------------------------------------------------

export const trainLogisticImpl = implement(trainLogisticStep, (input, ctx) => runLogistic(input, ctx));
export const trainLinearImpl = implement(trainLinearStep, (input, ctx) => runLinear(input, ctx));
export const trainGbdtImpl = implement(trainGbdtStep, (input, ctx) => runGbdt(input, ctx, { queue: 'cpu' }));
export const trainGbdtGpuImpl = implement(trainGbdtGpuStep, (input, ctx) => runGbdt(input, ctx, { queue: 'gpu' }));
export const inspectOnnxImpl = implement(inspectOnnxStep, runInspectOnnx);
