import { z } from 'zod';
import { step } from '../dsl/step';
import { modelRef, modelTask, onnxDescription } from './model';

/**
 * Bring your own model (pipelines/import-model.ts; implementation in activities/registry/import-model.ts):
 * `import-model.read` reads an ONNX file made elsewhere (scikit-learn through skl2onnx, PyTorch…),
 * derives and validates its signature (inputs, outputs, classes; onnxruntime loads it and scores
 * a probe batch) and stores it as an artifact, ready for register-model.
 *
 * This module is imported by workflow code: schemas only.
 */

/** Where the ONNX file is: an artifact URI of Sluice's store, a `file://` URI or a path the worker can read. */
export const modelFileSource = z.string().min(1).max(4096);

export const importModelReadInput = z
  .object({
    source: modelFileSource,
    /**
     * A 2-D input's dataset columns in the tensor's column order (skl2onnx's `X [N, k]`); its
     * length must equal k when the file fixes it. Without it, each input reads the column of its name.
     */
    columns: z.array(z.string().min(1)).min(1).max(10_000).optional(),
    /** The task the model must be; default: what its outputs say (2 classes: binary). */
    task: modelTask.optional(),
    /** The label column it predicts (recorded in the signature, used by evaluation). */
    target: z.string().min(1).optional(),
    /** Predicted labels are booleans (skl2onnx exports a boolean target's classes as 0 and 1). */
    booleanLabels: z.boolean().default(false),
    /** Register a new version even when this file is already a version of the model. */
    force: z.boolean().default(false),
  })
  .strict();
export type ImportModelReadInput = z.infer<typeof importModelReadInput>;

export const importModelReadOutput = z.object({
  /** The model as it will be registered: the stored file (with a ZipMap's probabilities exposed) and its signature. */
  model: modelRef,
  /** The file as given. */
  file: z.object({ source: z.string(), sha256: z.string(), size: z.number().int().nonnegative() }),
  onnx: onnxDescription,
  /** For register-model: return the version already made from this file unless forced. */
  reuseSameFile: z.boolean(),
  /** Recorded with the version. */
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
});
export type ImportModelReadOutput = z.infer<typeof importModelReadOutput>;

export const importModelReadStep = step({
  name: 'import-model.read',
  description: 'read an ONNX model made elsewhere, derive and check its signature (onnxruntime scores a probe batch), store it',
  input: importModelReadInput,
  output: importModelReadOutput,
  queue: 'cpu',
  timeouts: { startToClose: '5m', heartbeat: '30s' },
  retry: { maximumAttempts: 3, initialInterval: '2s' },
  cache: false,
});
