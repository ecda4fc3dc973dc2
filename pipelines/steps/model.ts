import { z } from 'zod';
import { artifactRef } from './artifact-ref';

/**
 * Models as steps see them: an ONNX artifact plus its signature. The ONNX file takes the raw
 * feature columns (one input per column, shape [N, 1]) and includes its own preprocessing
 * (imputation, scaling, encoding), so what was evaluated is exactly what serves.
 */
export const modelTask = z.enum(['binary', 'multiclass', 'regression']);
export type ModelTask = z.infer<typeof modelTask>;

export const modelInput = z.object({
  /** ONNX input name (equal to the column name unless the column name is not a valid identifier). */
  name: z.string().min(1),
  /** Dataset column it reads. */
  column: z.string().min(1),
  /** ONNX element type of the input tensor. */
  type: z.enum(['float', 'double', 'int64', 'string']),
});

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
  /** The label column the model was trained to predict. */
  target: z.string().optional(),
});
export type ModelSignature = z.infer<typeof modelSignature>;

export const modelRef = artifactRef.extend({
  signature: modelSignature,
  /** Set once registered: `models:/<name>/<version>`. */
  registered: z.object({ name: z.string(), version: z.number().int().positive() }).optional(),
});
export type ModelRef = z.infer<typeof modelRef>;
