import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { loadScoringModel, type ScoringModel } from '../activities/onnx/scoring';
import type { ModelInput } from '../pipelines/steps/model';
import type { BatchColumns, FromThread, ToThread } from './inference-protocol';

/**
 * A serving inference thread (started by inference.ts). onnxruntime-node's `session.run` blocks
 * the thread that calls it; here it blocks this one, so the server's event loop keeps accepting
 * and answering requests. The model is opened by batch scoring's own loader
 * (activities/onnx/scoring.ts): the same input conversion (missing values NaN, ZipMap handling,
 * label from the probabilities) as evaluation and batch scoring, so a row scores the same online
 * and offline.
 */

const port = parentPort;
if (!port) throw new Error('serving/inference-thread.ts runs in a worker thread (see serving/inference.ts)');

const models = new Map<string, Promise<ScoringModel>>();

port.on('message', (msg: ToThread) => {
  switch (msg.kind) {
    case 'load': {
      const m = loadScoringModel(msg.bytes, msg.model, { intraOpNumThreads: msg.intraOpThreads, interOpNumThreads: 1 });
      models.set(msg.key, m);
      m.then(
        () => post({ kind: 'loaded', key: msg.key, ok: true }),
        (e: Error) => {
          models.delete(msg.key);
          post({ kind: 'loaded', key: msg.key, ok: false, error: e.message });
        },
      );
      return;
    }
    case 'unload': {
      const m = models.get(msg.key);
      models.delete(msg.key);
      void m?.then((s) => s.release()).catch(() => undefined);
      return;
    }
    case 'run':
      void run(msg).then(post);
  }
});
post({ kind: 'ready' });

function post(m: FromThread): void {
  const transfer = m.kind === 'result' && m.ok ? [m.labelIndex?.buffer, m.probabilities?.buffer, m.values?.buffer].filter((b): b is ArrayBuffer => !!b) : [];
  port!.postMessage(m, transfer);
}

async function run(job: Extract<ToThread, { kind: 'run' }>): Promise<FromThread> {
  try {
    const model = await models.get(job.key);
    if (!model) return { kind: 'result', id: job.id, ok: false, error: `model ${job.key} is not loaded in this thread` };
    const p = await model.runFeeds(feedsOf(model.signature.inputs, job.columns, job.rows), job.rows);
    return { kind: 'result', id: job.id, ok: true, ...(p.labelIndex ? { labelIndex: p.labelIndex } : {}), ...(p.probabilities ? { probabilities: p.probabilities } : {}), ...(p.values ? { values: p.values } : {}) };
  } catch (e) {
    return { kind: 'result', id: job.id, ok: false, error: (e as Error).message };
  }
}

/**
 * The batch's input tensors, built straight from the JSON values (a polars frame costs more than
 * the whole inference for a few rows), converted as batch scoring's feeders convert a frame's
 * columns: numbers through float64 to the input's type, a missing value NaN for float and double
 * inputs and '' for string inputs; a 2-D input interleaves its columns row by row. Values are
 * checked before they get here (serving/input.ts): int64 inputs never see a missing value.
 */
function feedsOf(inputs: readonly ModelInput[], columns: BatchColumns, n: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of inputs) {
    if ('columns' in input) {
      const k = input.columns.length;
      const out = input.type === 'float' ? new Float32Array(n * k) : new Float64Array(n * k);
      for (const [j, c] of input.columns.entries()) {
        const v = columns[c] ?? [];
        for (let i = 0; i < n; i++) out[i * k + j] = v[i] === null || v[i] === undefined ? NaN : Number(v[i]);
      }
      feeds[input.name] = new ort.Tensor(input.type === 'float' ? 'float32' : 'float64', out, [n, k]);
      continue;
    }
    const v = columns[input.column] ?? [];
    switch (input.type) {
      case 'float':
      case 'double': {
        const out = input.type === 'float' ? new Float32Array(n) : new Float64Array(n);
        for (let i = 0; i < n; i++) out[i] = v[i] === null || v[i] === undefined ? NaN : Number(v[i]);
        feeds[input.name] = new ort.Tensor(input.type === 'float' ? 'float32' : 'float64', out, [n, 1]);
        break;
      }
      case 'int64':
        feeds[input.name] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(v[i] as number)), [n, 1]);
        break;
      case 'string':
        feeds[input.name] = new ort.Tensor('string', Array.from({ length: n }, (_, i) => (v[i] === null || v[i] === undefined ? '' : String(v[i]))), [n, 1]);
        break;
    }
  }
  return feeds;
}
