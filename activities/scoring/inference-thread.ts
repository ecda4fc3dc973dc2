import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import pl from 'nodejs-polars';
import { loadScoringModel, onnxProfile, type ScoringModel } from '../onnx/scoring';
import type { InferenceJob, InferenceReply, SerializedError, ThreadControl, ThreadEvent } from './inference-protocol';
import { scoringRows } from './common';
import { compactFrame, predictionColumns } from './prediction-frame';
import { invalidInput, SluiceFailure } from '../../pipelines/failures';

/**
 * An inference thread (started by inference-pool.ts): a batch's rows in (read from the input
 * file, or as Arrow IPC), the Parquet part of its predictions out (prediction-frame.ts).
 * onnxruntime-node's `session.run` blocks the thread that calls it, so running it here keeps the
 * worker's event loop (heartbeats, pollers, I/O of other chunks) free and lets several chunks use
 * several cores. Sessions are kept per model (the most recent few) across jobs.
 */

const KEEP_SESSIONS = 2;
/** Sessions by model sha256, least recently used first. */
const sessions = new Map<string, Promise<ScoringModel>>();

const port = parentPort;
if (!port) throw new Error('inference-thread.ts runs in a worker thread (see inference-pool.ts)');

port.on('message', (msg: InferenceJob | ThreadControl) => {
  if ('kind' in msg) {
    // Idle: the models' memory goes, the loaded modules stay.
    for (const s of sessions.values()) void s.then((m) => m.release()).catch(() => undefined);
    sessions.clear();
    return;
  }
  void run(msg).then((reply) => port.postMessage(reply));
});
port.postMessage({ kind: 'ready' } satisfies ThreadEvent);

async function run(job: InferenceJob): Promise<InferenceReply> {
  try {
    const timings: Record<string, number> = {};
    let t = performance.now();
    const tick = (phase: string) => {
      const now = performance.now();
      timings[phase] = now - t;
      t = now;
    };
    const model = await session(job);
    tick('openModel');
    const frame = readSource(job.source);
    tick('read');
    const before = { ...onnxProfile };
    const prediction = await model.run(frame);
    tick('model.run');
    for (const [k, v] of Object.entries(onnxProfile)) timings[`model.run: ${k}`] = v - (before[k] ?? 0);
    const out = compactFrame(frame, prediction, model, job.keep).select(...columnsFor(model, job));
    tick('predictionsFrame');
    out.writeParquet(job.outFile, { compression: job.compression });
    tick('partWrite');
    return { id: job.id, ok: true, rows: out.height, loaded: [...sessions.keys()], timings };
  } catch (e) {
    return { id: job.id, ok: false, error: serialize(e), loaded: [...sessions.keys()] };
  }
}

/**
 * Polars expressions and lazy frames reused across a chunk's batches (each nodejs-polars object is
 * costly to make): the predictions' columns per (model, kept columns, lineage), the rows to score
 * per (file, window, columns). A few of each are kept.
 */
const columnCache = new Map<string, pl.Expr[]>();
const rowsCache = new Map<string, pl.LazyDataFrame>();

function cached<T>(cache: Map<string, T>, key: string, make: () => T): T {
  let v = cache.get(key);
  if (v === undefined) {
    v = make();
    cache.set(key, v);
    if (cache.size > 8) cache.delete(cache.keys().next().value as string);
  }
  return v;
}

function columnsFor(model: ScoringModel, job: InferenceJob): pl.Expr[] {
  return cached(columnCache, JSON.stringify([model.ref.sha256, job.keep, job.meta]), () => predictionColumns(model, job.keep, job.meta));
}

function readSource(source: InferenceJob['source']): pl.DataFrame {
  if (source.kind === 'ipc') return pl.readIPC(Buffer.from(source.frame.buffer, source.frame.byteOffset, source.frame.byteLength));
  const rows = cached(rowsCache, JSON.stringify([source.file, source.window, source.columns]), () => scoringRows(source.file, source.window).select(...source.columns));
  return rows.slice(source.offset, source.rows).collectSync();
}

function session(job: InferenceJob): Promise<ScoringModel> {
  const key = job.model.sha256;
  let s = sessions.get(key);
  if (s) {
    sessions.delete(key); // re-inserted below: most recently used last
  } else {
    if (!job.modelBytes) throw invalidInput(`inference thread: no session for model ${job.model.uri} and no bytes sent`);
    s = loadScoringModel(job.modelBytes, job.model, {
      intraOpNumThreads: job.intraOpThreads,
      interOpNumThreads: 1,
      ...(job.executionProviders ? { executionProviders: job.executionProviders } : {}),
    });
    s.catch(() => sessions.delete(key)); // a model that fails to load is not kept
  }
  sessions.set(key, s);
  while (sessions.size > KEEP_SESSIONS) {
    const [oldest, evicted] = sessions.entries().next().value as [string, Promise<ScoringModel>];
    sessions.delete(oldest);
    void evicted.then((m) => m.release()).catch(() => undefined);
  }
  return s;
}

function serialize(e: unknown): SerializedError {
  if (e instanceof SluiceFailure) return { message: e.message, name: e.name, type: e.type, stack: e.stack };
  if (e instanceof Error) return { message: e.message, name: e.name, stack: e.stack };
  return { message: String(e), name: 'Error' };
}
