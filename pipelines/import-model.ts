import { z } from 'zod';
import { pipeline } from './dsl/pipeline';
import { modelTask } from './steps/model';
import { importModelReadStep, modelFileSource } from './steps/model-import';
import { aliasName, registeredModelName, registerModelStep } from './steps/registry';

/**
 * Bring your own model: an ONNX file made elsewhere (scikit-learn through skl2onnx, ZipMap on or
 * off; PyTorch…) → read (signature derived and checked, onnxruntime scores a probe batch, the file
 * stored) → registered as a new version of `name` (or, for a file already registered under that
 * name, that version unless `force`). `sluice models import FILE.onnx --name …` starts it; so can
 * the UI, with an artifact URI or a path the worker can read as `source`.
 */
export const importModelParams = z
  .object({
    /** The ONNX file: an artifact URI of Sluice's store, a `file://` URI or a path on the worker. */
    source: modelFileSource,
    /** Registered model name. */
    name: registeredModelName,
    /** A 2-D input's columns in order (skl2onnx's `X [N, k]`). */
    columns: z.array(z.string().min(1)).min(1).max(10_000).optional(),
    task: modelTask.optional(),
    target: z.string().min(1).optional(),
    /** Predicted labels are booleans (classes 0/1 or "false"/"true"). */
    booleanLabels: z.boolean().default(false),
    aliases: z.array(aliasName).max(20).default([]),
    description: z.string().max(20_000).optional(),
    /** A new version even when this file is already one of the model's. */
    force: z.boolean().default(false),
  })
  .strict();

export const importModel = pipeline(
  {
    name: 'import-model',
    description: 'register an ONNX model made elsewhere (scikit-learn/skl2onnx, …): signature checked, file stored, a version registered',
    params: importModelParams,
  },
  (p, b) => {
    const read = b.step('read', importModelReadStep, {
      source: p.source,
      columns: p.columns,
      task: p.task,
      target: p.target,
      booleanLabels: p.booleanLabels,
      force: p.force,
    });
    const registered = b.step('register', registerModelStep, {
      name: p.name,
      model: read.output.model,
      description: p.description,
      params: read.output.params,
      aliases: p.aliases,
      reuseSameFile: read.output.reuseSameFile,
    });
    return {
      name: registered.output.name,
      version: registered.output.version,
      uri: registered.output.uri,
      created: registered.output.created,
      model: registered.output.model,
      aliases: registered.output.aliases,
      onnx: read.output.onnx,
      file: read.output.file,
    };
  },
);
