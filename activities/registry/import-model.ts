import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pl from 'nodejs-polars';
import { ForeignArtifactUriError, InvalidArtifactKeyError, type ArtifactStore } from '../../infra/artifacts/store';
import { importModelReadStep, type ImportModelReadInput, type ImportModelReadOutput } from '../../pipelines/steps/model-import';
import { inputColumns, type ModelRef, type ModelSignature } from '../../pipelines/steps/model';
import { invalidInput } from '../../pipelines/failures';
import { prepareOnnx } from '../onnx/inspect';
import { loadScoringModel } from '../onnx/scoring';
import { implement } from '../runtime/implement';
import type { StepContext } from '../runtime/step-context';

/**
 * `import-model.read`: an ONNX file made elsewhere, made ready for register-model. The signature
 * comes from the graph (onnx/inspect.ts) with the caller's column order, task and target; then
 * onnxruntime loads the file as scoring will and scores a probe batch of two rows, so a model that
 * cannot serve fails here, naming the input or output at fault, rather than at its first scoring
 * run. The stored file is content-addressed: importing the same file again stores nothing new, and
 * register-model (reuseSameFile) returns the version already made from it unless forced.
 */

/** Largest model file accepted. */
const MAX_BYTES = 2 * 1024 ** 3 - 1;

export const importModelRead = implement(importModelReadStep, async (input, ctx) => runImportModelRead(input, ctx));

export async function runImportModelRead(input: ImportModelReadInput, ctx: StepContext): Promise<ImportModelReadOutput> {
  const original = await readModelFile(ctx.store, input.source);
  const fileSha = createHash('sha256').update(original).digest('hex');
  const { bytes, info, addedOutputs } = prepareOnnx(original, { columnOrder: input.columns, task: input.task, target: input.target });
  const signature = input.booleanLabels ? withBooleanLabels(info.signature) : info.signature;
  await probe(bytes, signature, input.source);
  const stored = await ctx.store.putContent(bytes, { contentType: 'application/onnx' });
  const model: ModelRef = { ...stored, signature };
  ctx.log.info('onnx model read', { source: input.source, task: signature.task, inputs: signature.inputs.map((i) => i.name), producer: info.producer, addedOutputs });
  return {
    model,
    file: { source: input.source, sha256: fileSha, size: original.length },
    onnx: { irVersion: info.irVersion, producer: info.producer, opsets: info.opsets, operators: info.operators, addedOutputs },
    reuseSameFile: !input.force,
    params: {
      source: input.source,
      file_sha256: fileSha,
      producer: info.producer || null,
      ...(input.columns ? { columns: input.columns.join(',') } : {}),
    },
  };
}

/** The bytes at `source`: an artifact of this store, a `file://` URI or a path. */
async function readModelFile(store: ArtifactStore, source: string): Promise<Buffer> {
  let inStore = true;
  try {
    store.keyFromUri(source);
  } catch (e) {
    if (!(e instanceof ForeignArtifactUriError) && !(e instanceof InvalidArtifactKeyError)) throw e;
    inStore = false;
  }
  if (inStore) return store.getBuffer(source, { maxBytes: MAX_BYTES });
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) && !source.startsWith('file://')) {
    throw invalidInput(`model source "${source}" is neither an artifact of Sluice's store (${store.location}) nor a file`);
  }
  const file = source.startsWith('file://') ? fileURLToPath(source) : path.resolve(source);
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw invalidInput(`model source "${source}" is not a file`);
    if (stat.size > MAX_BYTES) throw invalidInput(`model file "${source}" is ${stat.size} bytes; at most ${MAX_BYTES} are accepted`);
    return await fs.readFile(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES') throw invalidInput(`cannot read model file "${source}" (${code}) on this worker; upload it to the artifact store and give its URI`);
    throw e;
  }
}

/** A boolean target's signature: its two classes must be false/true as 0/1 or as strings. */
function withBooleanLabels(sig: ModelSignature): ModelSignature {
  const classes = sig.classes ?? [];
  const ok = classes.length === 2 && ((classes[0] === 0 && classes[1] === 1) || (String(classes[0]).toLowerCase() === 'false' && String(classes[1]).toLowerCase() === 'true'));
  if (sig.task === 'regression' || !ok) {
    throw invalidInput(`boolean labels need two classes, false and true (0 and 1, or "false" and "true"); the model's are [${classes.join(', ')}]`);
  }
  return { ...sig, labelType: 'bool' };
}

/** Loads the model as scoring does and scores two rows of zeros (empty strings for string inputs). */
async function probe(bytes: Uint8Array, signature: ModelSignature, source: string): Promise<void> {
  const ref: ModelRef = { uri: source, sha256: '0'.repeat(64), size: bytes.length, signature };
  const model = await loadScoringModel(bytes, ref, { intraOpNumThreads: 1 });
  try {
    const columns = signature.inputs.flatMap((i) => inputColumns(i).map((c) => (i.type === 'string' ? pl.Series(c, ['', '']) : i.type === 'int64' ? pl.Series(c, [0, 0], pl.Int64) : pl.Series(c, [0, 0], pl.Float64))));
    const byName = new Map(columns.map((s) => [s.name, s]));
    await model.run(pl.DataFrame([...byName.values()]));
  } finally {
    await model.release();
  }
}
