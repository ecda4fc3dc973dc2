/**
 * One side of the serving benchmark (bench/serving.ts), run as a process of its own so that the
 * load generator does not share its event loop: `sluice` (the serving process as `sluice serve`
 * runs it: routing, validation, micro-batching on an inference thread, prediction log, metrics)
 * or `bare` (fastify and one onnxruntime session on the main thread, the model's tensors built
 * straight from the request: the least a server can do). Prints {"url": …} on stdout when ready.
 * With a second model served by entity key, the bare side also answers /predict-by-key: one
 * `SELECT … WHERE key = $1` on the view's online table per request, then the session (the least
 * an online look-up costs, where Sluice batches the look-ups of concurrent requests).
 *
 *   tsx bench/serving-target.ts sluice|bare DATABASE_URL ARTIFACT_ROOT MODEL VERSION [ONLINE_MODEL ONLINE_VERSION ONLINE_TABLE]
 */
import Fastify from 'fastify';
import ort from 'onnxruntime-node';
import pg from 'pg';
import { openArtifactStore, type ArtifactStore } from '../infra/artifacts/index';
import { createPool, type Db } from '../infra/db/pool';
import { getModelVersion, toModelRef } from '../infra/db/registry';
import { loadConfig } from '../infra/config';
import { createLogger } from '../infra/log';
import { serveOptions, startServing } from '../serving/server';

const [mode, databaseUrl, artifactRoot, model, version, onlineModel, onlineVersion, onlineTable] = process.argv.slice(2) as [string, string, string, string, string, string?, string?, string?];
const artifacts = { kind: 'local' as const, root: artifactRoot };

if (mode === 'sluice') {
  const serve = serveOptions(loadConfig(), databaseUrl);
  const server = await startServing({
    databaseUrl,
    artifacts,
    host: '127.0.0.1',
    port: 0,
    rateLimit: 0,
    // Micro-batching as `sluice serve` configures it (SLUICE_SERVE_BATCH_*, their defaults unless set).
    batchRows: serve.batchRows,
    batchWaitMs: serve.batchWaitMs,
    migrate: false,
    log: createLogger({ component: 'serve' }, 'warn'),
  });
  process.stdout.write(JSON.stringify({ url: server.url }) + '\n');
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
} else {
  const db = createPool(databaseUrl, { max: 4 });
  const store = await openArtifactStore(artifacts);
  const inline = await bareModel(db, store, model, Number(version));
  const online = onlineModel ? await bareModel(db, store, onlineModel, Number(onlineVersion)) : undefined;
  const app = Fastify({ logger: false });
  app.post('/predict', async (req) => ({ predictions: [{ prediction: await inline((req.body as { instances: Row[] }).instances[0]!) }] }));
  if (online) {
    const columns = online.columns.map((c) => pg.escapeIdentifier(c)).join(', ');
    const sql = `SELECT ${columns} FROM ${pg.escapeIdentifier(onlineTable!)} WHERE penguin_id = $1`;
    app.post('/predict-by-key', async (req) => {
      const key = (req.body as { instances: { entity: { penguin_id: number } }[] }).instances[0]!.entity.penguin_id;
      const { rows } = await db.query<Row>(sql, [key]);
      return { predictions: [{ prediction: await online(rows[0]!) }] };
    });
  }
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(JSON.stringify({ url }) + '\n');
  process.once('SIGTERM', () => void app.close().then(() => db.end()).then(() => process.exit(0)));
}

type Row = Record<string, number | string | null>;

/** One onnxruntime session on this thread, fed one row's tensors; answers the likeliest class. */
async function bareModel(db: Db, store: ArtifactStore, name: string, v: number): Promise<((row: Row) => Promise<string | number>) & { columns: string[] }> {
  const ref = toModelRef((await getModelVersion(db, name, v))!);
  const session = await ort.InferenceSession.create(await store.getBuffer(ref.uri, { expectSha256: ref.sha256 }), { executionProviders: ['cpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  const inputs = ref.signature.inputs.filter((i): i is Extract<typeof i, { column: string }> => 'column' in i);
  const proba = ref.signature.outputs.probabilities!;
  const classes = ref.signature.classes!;
  const predict = async (row: Row) => {
    const feeds: Record<string, ort.Tensor> = {};
    for (const i of inputs) {
      const v = row[i.column];
      feeds[i.name] =
        i.type === 'string' ? new ort.Tensor('string', [String(v ?? '')], [1, 1]) : i.type === 'int64' ? new ort.Tensor('int64', BigInt64Array.of(BigInt(v as number)), [1, 1]) : new ort.Tensor(i.type === 'float' ? 'float32' : 'float64', [v === null ? NaN : Number(v)], [1, 1]);
    }
    const out = await session.run(feeds, [proba]);
    const p = out[proba]!.data as Float32Array;
    let best = 0;
    for (let k = 1; k < p.length; k++) if (p[k]! > p[best]!) best = k;
    return classes[best]!;
  };
  return Object.assign(predict, { columns: inputs.map((i) => i.column) });
}
