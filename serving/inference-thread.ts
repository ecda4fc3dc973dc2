import { parentPort } from 'node:worker_threads';
import pl from 'nodejs-polars';
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
    const p = await model.run(frameOf(model.signature.inputs, job.columns));
    return { kind: 'result', id: job.id, ok: true, ...(p.labelIndex ? { labelIndex: p.labelIndex } : {}), ...(p.probabilities ? { probabilities: p.probabilities } : {}), ...(p.values ? { values: p.values } : {}) };
  } catch (e) {
    return { kind: 'result', id: job.id, ok: false, error: (e as Error).message };
  }
}

/** The batch as the frame the loader's feeders read, each column typed as its input wants (numbers as Float64 or Int64, strings as Utf8). */
function frameOf(inputs: readonly ModelInput[], columns: BatchColumns): pl.DataFrame {
  const series: pl.Series[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    const cols = 'columns' in input ? input.columns : [input.column];
    const dtype = input.type === 'string' ? pl.Utf8 : input.type === 'int64' && !('columns' in input) ? pl.Int64 : pl.Float64;
    for (const c of cols) {
      if (seen.has(c)) continue;
      seen.add(c);
      series.push(pl.Series(c, columns[c] ?? [], dtype));
    }
  }
  return pl.DataFrame(series);
}
