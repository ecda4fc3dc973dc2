/**
 * One side of the serving benchmark (bench/serving.ts), run as a process of its own so that the
 * load generator does not share its event loop: `sluice` (the serving process as `sluice serve`
 * runs it: routing, validation, micro-batching on an inference thread, prediction log, metrics)
 * or `bare` (fastify and one onnxruntime session on the main thread, the model's tensors built
 * straight from the request: the least a server can do). Prints {"url": …} on stdout when ready.
 *
 *   tsx bench/serving-target.ts sluice|bare DATABASE_URL ARTIFACT_ROOT MODEL VERSION
 */
import Fastify from 'fastify';
import ort from 'onnxruntime-node';
import { openArtifactStore } from '../infra/artifacts/index';
import { createPool } from '../infra/db/pool';
import { getModelVersion, toModelRef } from '../infra/db/registry';
import { createLogger } from '../infra/log';
import { startServing } from '../serving/server';

const [mode, databaseUrl, artifactRoot, model, version] = process.argv.slice(2) as [string, string, string, string, string];
const artifacts = { kind: 'local' as const, root: artifactRoot };

if (mode === 'sluice') {
  const server = await startServing({
    databaseUrl,
    artifacts,
    host: '127.0.0.1',
    port: 0,
    rateLimit: 0,
    batchRows: 256,
    batchWaitMs: 1,
    migrate: false,
    log: createLogger({ component: 'serve' }, 'warn'),
  });
  process.stdout.write(JSON.stringify({ url: server.url }) + '\n');
  process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
} else {
  const db = createPool(databaseUrl, { max: 1 });
  const ref = toModelRef((await getModelVersion(db, model, Number(version)))!);
  await db.end();
  const store = await openArtifactStore(artifacts);
  const session = await ort.InferenceSession.create(await store.getBuffer(ref.uri, { expectSha256: ref.sha256 }), { executionProviders: ['cpu'], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  const inputs = ref.signature.inputs.filter((i): i is Extract<typeof i, { column: string }> => 'column' in i);
  const proba = ref.signature.outputs.probabilities!;
  const classes = ref.signature.classes!;
  const app = Fastify({ logger: false });
  app.post('/predict', async (req) => {
    const row = (req.body as { instances: Record<string, number | string | null>[] }).instances[0]!;
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
    return { predictions: [{ prediction: classes[best] }] };
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write(JSON.stringify({ url }) + '\n');
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
}
