import { z } from 'zod';
import { passedOnValue } from '../dsl/passed-on';
import { artifactRef } from './artifact-ref';

/**
 * Models as steps see them: an ONNX artifact plus its signature. A model Sluice trains takes the
 * raw feature columns (one input per column, shape [N, 1]) and includes its own preprocessing
 * (imputation, scaling, encoding), so what was evaluated is exactly what serves. A model made
 * elsewhere may instead take one 2-D tensor [N, k] whose k columns are dataset columns in a
 * declared order (skl2onnx's usual `X`).
 */
export const modelTask = z.enum(['binary', 'multiclass', 'regression']);
export type ModelTask = z.infer<typeof modelTask>;

/** One input per column: a [N, 1] tensor. */
export const columnInput = z.object({
  /** ONNX input name (equal to the column name unless the column name is not a valid identifier). */
  name: z.string().min(1),
  /** Dataset column it reads. */
  column: z.string().min(1),
  /** ONNX element type of the input tensor. */
  type: z.enum(['float', 'double', 'int64', 'string']),
});

/** One input for several columns: a [N, k] float or double tensor, column j of it read from `columns[j]`. */
export const matrixInput = z.object({
  name: z.string().min(1),
  /** Dataset columns in the tensor's column order. */
  columns: z.array(z.string().min(1)).min(1),
  type: z.enum(['float', 'double']),
});

export const modelInput = z.union([columnInput, matrixInput]);
export type ModelInput = z.infer<typeof modelInput>;

/** The dataset columns an input reads, in tensor order. */
export function inputColumns(input: ModelInput): string[] {
  return 'columns' in input ? input.columns : [input.column];
}

export type ColumnInput = z.infer<typeof columnInput>;

/** The per-column inputs (all of a model Sluice trained). */
export function columnInputsOf(sig: { inputs: readonly ModelInput[] }): ColumnInput[] {
  return sig.inputs.filter((i): i is ColumnInput => 'column' in i);
}

/** Every dataset column a model reads (each once, in input order). */
export function signatureColumns(sig: { inputs: readonly ModelInput[] }): string[] {
  return [...new Set(sig.inputs.flatMap(inputColumns))];
}

export const modelSignature = z.object({
  task: modelTask,
  inputs: z.array(modelInput).min(1),
  outputs: z.object({
    /** Predicted label (classification) or value (regression). */
    label: z.string().optional(),
    /** Class probabilities, float [N, C] in `classes` order. */
    probabilities: z.string().optional(),
    /** The same as a sequence of maps (scikit-learn's ZipMap, `output_probability`). */
    probabilityMap: z.string().optional(),
    /** Regression output, float [N, 1]. */
    value: z.string().optional(),
  }),
  /** Class labels in output order (classification). */
  classes: z.array(z.union([z.string(), z.number()])).optional(),
  /**
   * The predicted labels' type where the classes do not say it: `bool` for a boolean target,
   * whose classes are [false, true] as strings ("false", "true") or integers (0, 1, as skl2onnx
   * exports them).
   */
  labelType: z.literal('bool').optional(),
  /** The label column the model was trained to predict. */
  target: z.string().optional(),
});
export type ModelSignature = z.infer<typeof modelSignature>;

export const modelRef = passedOnValue(artifactRef.extend({
  signature: modelSignature,
  /** Set once registered: `models:/<name>/<version>`. */
  registered: z.object({ name: z.string(), version: z.number().int().positive() }).optional(),
}));
export type ModelRef = z.infer<typeof modelRef>;

/** What inspecting an ONNX file found: versions, producer, operators, and the outputs Sluice exposed. */
export const onnxDescription = z.object({
  irVersion: z.number().int(),
  producer: z.string(),
  opsets: z.array(z.object({ domain: z.string(), version: z.number().int() })),
  operators: z.array(z.string()),
  /** Outputs added so onnxruntime-node can read them (a ZipMap's probability tensor); then the model is the rewritten file. */
  addedOutputs: z.array(z.string()),
});
