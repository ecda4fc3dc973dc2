import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openArtifactStore } from '../infra/artifacts/index';
import { migrate } from '../infra/db/migrate';
import { createPool, type Db } from '../infra/db/pool';
import { setAlias } from '../infra/db/registry';
import { clearRoutes, shadowComparison, writeRoutes } from '../infra/db/serving';
import { createLogger } from '../infra/log';
import { startServing, type ServingServer } from '../serving/server';
import { registerPenguinModels, SERVING_MODEL, type PenguinModels } from './helpers/serving-models';
import { tempDir, usePostgres } from './helpers/stack';

/**
 * Two serving replicas on one database, listening for real: they follow route changes and alias
 * moves (LISTEN/NOTIFY), agree on every request key's variant, mirror traffic to a shadow, and
 * no request fails while they swap.
 */

let pgh: Awaited<ReturnType<typeof usePostgres>>;
let db: Db;
let models: PenguinModels;
let replicas: ServingServer[] = [];

const t0 = performance.now();
const mark = (what: string) => process.stderr.write(`[serving-routes] ${what} at ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

before(async () => {
  pgh = await usePostgres();
  mark('postgres');
  const home = tempDir('serving-routes');
  db = createPool(pgh.url, { max: 2 });
  await migrate(db);
  const artifacts = { kind: 'local' as const, root: path.join(home, 'artifacts') };
  models = await registerPenguinModels(db, await openArtifactStore(artifacts), home);
  mark('models registered');
  const log = createLogger({ test: 'serving-routes' }, 'error');
  replicas = await Promise.all(
    [1, 2].map(() =>
      startServing({ databaseUrl: pgh.url, artifacts, host: '127.0.0.1', port: 0, rateLimit: 0, batchRows: 64, batchWaitMs: 1, migrate: false, log, predictionLog: { flushRows: 100_000, flushMs: 60_000 } }),
    ),
  );
});
after(async () => {
  for (const r of replicas) await r.close();
  await db?.end();
  await pgh?.stop();
});

interface Answer {
  status: number;
  version?: number;
  variant?: string;
  predictions?: { id: string }[];
}

async function predict(r: ServingServer, key?: string, rows = 1): Promise<Answer> {
  const res = await fetch(`${r.url}/v1/models/${SERVING_MODEL}:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: models.rows.slice(0, rows), ...(key ? { key } : {}) }),
  });
  const body = (await res.json()) as Omit<Answer, 'status'>;
  return { status: res.status, ...body };
}

/** Waits until every replica's table satisfies `ok` (read through the metadata endpoint); returns how long that took. */
async function converge(ok: (meta: { parameters: { source: string; epoch: number; variants: { variant: string; version: number }[] } }) => boolean): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const metas = await Promise.all(replicas.map(async (r) => (await fetch(`${r.url}/v2/models/${SERVING_MODEL}`)).json()));
    if (metas.every((m) => ok(m as never))) return performance.now() - t0;
    if (performance.now() - t0 > 15_000) assert.fail(`replicas did not follow: ${JSON.stringify(metas.map((m) => (m as { parameters: unknown }).parameters))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('replicas follow route changes and alias moves, agree on sticky variants, mirror to shadows, and fail no request meanwhile', async () => {
  mark('replicas started');
  for (const r of replicas) assert.equal((await predict(r)).version, 1, 'the champion serves before any route');
  mark('first answers');

  // Traffic on both replicas through every change below: not one request may fail.
  let traffic = true;
  const statuses: number[] = [];
  const load = Promise.all(
    replicas.map(async (r, i) => {
      for (let n = 0; traffic; n++) {
        statuses.push((await predict(r, `load-${i}-${n % 7}`)).status);
        await new Promise((done) => setTimeout(done, 10));
      }
    }),
  );

  try {
    // An A/B split: both replicas pick the new table up and agree on each key's variant.
    const ab = await writeRoutes(db, SERVING_MODEL, [
      { variant: 'a', version: models.v1.registered!.version, mode: 'live', weight: 0.5 },
      { variant: 'b', version: models.v2.registered!.version, mode: 'live', weight: 0.5 },
    ]);
    const ms = await converge((m) => m.parameters.source === 'routes' && m.parameters.epoch === ab.epoch);
    process.stderr.write(`[serving-routes] route change followed by both replicas in ${ms.toFixed(0)} ms\n`);
    const seen = new Map<string, number>();
    for (let k = 0; k < 12; k++) {
      const key = `user-${k}`;
      const [x, y, again] = await Promise.all([predict(replicas[0]!, key), predict(replicas[1]!, key), predict(replicas[0]!, key)]);
      assert.equal(x.variant, y.variant, `${key}: both replicas give the same variant`);
      assert.equal(x.variant, again.variant, `${key}: sticky`);
      assert.equal(x.version, x.variant === 'a' ? 1 : 2);
      seen.set(x.variant!, (seen.get(x.variant!) ?? 0) + 1);
    }
    mark('sticky keys checked');
    assert.ok((seen.get('a') ?? 0) > 0 && (seen.get('b') ?? 0) > 0, `both variants get keys: ${JSON.stringify([...seen])}`);

    // A live variant with a shadow: the shadow scores every request, answers none, and is logged paired.
    const since = new Date();
    const sh = await writeRoutes(db, SERVING_MODEL, [
      { variant: 'control', version: 1, mode: 'live', weight: 1 },
      { variant: 'candidate', version: 2, mode: 'shadow', weight: 0 },
    ]);
    await converge((m) => m.parameters.epoch === sh.epoch);
    const liveIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const a = await predict(replicas[i % 2]!, undefined, 3);
      assert.equal(a.variant, 'control');
      liveIds.push(...a.predictions!.map((p) => p.id));
    }
    const mirrored = async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM online_predictions WHERE mode = 'shadow' AND variant = 'candidate' AND shadow_of = ANY($1::uuid[])", [liveIds])).rows[0]!.n;
    // Shadows score after the live answer is sent: wait until their rows are logged.
    for (const t = performance.now(); (await mirrored()) < liveIds.length && performance.now() - t < 15_000; ) {
      await new Promise((r) => setTimeout(r, 50));
      for (const r of replicas) await r.predictionLog.flush();
    }
    assert.equal(await mirrored(), liveIds.length, 'every live row has its shadow row');
    const cmp = await shadowComparison(db, SERVING_MODEL, since);
    assert.equal(cmp.length, 1);
    assert.equal(cmp[0]!.variant, 'candidate');
    assert.ok(cmp[0]!.pairs >= liveIds.length, `every mirrored row is paired with its live prediction (${cmp[0]!.pairs})`);
    assert.ok(cmp[0]!.agreed > 0 && cmp[0]!.agreed <= cmp[0]!.pairs);

    mark('shadow checked');
    // Routes removed and the champion alias moved: both replicas serve v2 as `champion`.
    await clearRoutes(db, SERVING_MODEL);
    await setAlias(db, { name: SERVING_MODEL, alias: 'champion', version: 2, actor: 'test', reason: 'promote v2' });
    const msAlias = await converge((m) => m.parameters.source === 'alias' && m.parameters.variants[0]!.version === 2);
    process.stderr.write(`[serving-routes] alias move followed by both replicas in ${msAlias.toFixed(0)} ms\n`);
    for (const r of replicas) {
      const a = await predict(r, 'user-1');
      assert.equal(a.version, 2);
      assert.equal(a.variant, 'champion');
    }
  } finally {
    traffic = false;
    await load;
  }
  assert.ok(statuses.length > 10, `traffic ran (${statuses.length} requests)`);
  assert.deepEqual([...new Set(statuses)], [200], 'no request failed during the swaps');
});
