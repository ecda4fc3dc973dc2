/**
 * `npm run bench -- console`: every console page's server render time over a large metadata
 * database: SLUICE_CONSOLE_BENCH_RUNS runs (default 10,000) and about SLUICE_CONSOLE_BENCH_NODE_RUNS
 * node runs (default 1,000,000: each run's nodes and fan-out items, one run with a tenth of them
 * as a single fan-out), with their lineage edges, plus a registry, drift history, validation
 * reports and online traffic. Pages render through fastify's inject (no network): the figure is
 * the server's work, queries and HTML. Target: under 300 ms each. Baseline in the same run: the
 * same pages with migration 0011's indexes dropped, and /healthz (the server's floor).
 */
import fs from 'node:fs';
import path from 'node:path';
import { envSchema } from '../infra/config';
import { LocalArtifactStore } from '../infra/artifacts';
import { registerDatasetVersion } from '../infra/db/datasets';
import { migrate } from '../infra/db/migrate';
import { runNodeSummary } from '../infra/db/console-queries';
import { createPool, type Db } from '../infra/db/pool';
import { registerModelVersion, setAlias } from '../infra/db/registry';
import { loadCatalogue, type Catalogue } from '../pipelines/catalogue';
import { createConsole } from '../console/server';
import { tempDir } from '../test/helpers/stack';
import type { Benchmark, BenchContext } from './run';

const sizes = () =>
  envSchema
    .pick({ SLUICE_CONSOLE_BENCH_RUNS: true, SLUICE_CONSOLE_BENCH_NODE_RUNS: true })
    .parse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined && v !== '')));

export const benchmark: Benchmark = {
  name: 'console',
  description: 'console page render times over 10,000 runs and 1,000,000 node runs (target < 300 ms), against the same pages without migration 0011',
  run,
};

const MODEL = 'bench-model';
const REPEAT = 5;

/** Runs of the pipelines that fan out, with their plain nodes and their first fan-out node. */
function shapes(cat: Catalogue) {
  return [...cat.specs.values()]
    .map((s) => ({ name: s.name, plain: s.nodes.filter((n) => !n.map).map((n, ord) => ({ id: n.id, step: n.step, queue: s.steps[n.step]?.queue ?? 'cpu', ord })), fan: s.nodes.find((n) => n.map) }))
    .filter((s) => s.fan);
}

async function seed(db: Db, cat: Catalogue, runs: number, nodeRuns: number, log: (m: string) => void) {
  const kinds = shapes(cat);
  const big = Math.floor(nodeRuns / 10);
  const plainPerRun = kinds.reduce((n, k) => n + k.plain.length, 0) / kinds.length;
  const itemsPerRun = Math.max(0, Math.round((nodeRuns - big) / runs - plainPerRun));
  log(`seeding ${runs} runs of ${kinds.map((k) => k.name).join(', ')}: ~${Math.round(plainPerRun)} nodes and ${itemsPerRun} fan-out items each, one run with ${big} items`);
  await db.query(
    `INSERT INTO runs (run_id, workflow_id, pipeline_name, pipeline_version, params, status, started_at, ended_at, error)
     SELECT 'bench-run-' || i, ($1::text[])[1 + i % $2] || '-bench-' || i, ($1::text[])[1 + i % $2], 'abcdefabcdef', '{"maxTrials": 4}',
            s.status, now() - make_interval(mins => 4 * i), CASE WHEN s.status = 'running' THEN NULL ELSE now() - make_interval(mins => 4 * i - 3) END,
            CASE WHEN s.status = 'failed' THEN 'a step failed: ValueError at row ' || i END
       FROM generate_series(1, $3) i,
            LATERAL (SELECT CASE WHEN i % 20 = 0 THEN 'failed' WHEN i % 50 = 1 THEN 'running' WHEN i % 33 = 0 THEN 'cancelled' ELSE 'succeeded' END AS status) s`,
    [kinds.map((k) => k.name), kinds.length, runs],
  );
  for (const k of kinds) {
    await db.query(
      `INSERT INTO step_runs (run_id, node_id, step, step_version, queue, status, attempt, started_at, ended_at, error)
       SELECT r.run_id, n.id, n.step, '1', n.queue, 'succeeded', 1 + (n.ord % 3 = 0 AND r.status = 'failed')::int,
              r.started_at + make_interval(secs => 10 * n.ord), r.started_at + make_interval(secs => 10 * n.ord + 8), NULL
         FROM runs r CROSS JOIN jsonb_to_recordset($2::jsonb) AS n(id text, step text, queue text, ord int)
        WHERE r.pipeline_name = $1`,
      [k.name, JSON.stringify(k.plain)],
    );
    if (itemsPerRun) {
      await db.query(
        `INSERT INTO step_runs (run_id, node_id, step, step_version, queue, status, attempt, started_at, ended_at, error)
         SELECT r.run_id, $2 || '[' || i || ']', $3, '1', 'cpu', CASE WHEN r.status = 'failed' AND i = 0 THEN 'failed' ELSE 'succeeded' END, 1,
                r.started_at + make_interval(secs => 60 + i), r.started_at + make_interval(secs => 90 + i),
                CASE WHEN r.status = 'failed' AND i = 0 THEN 'item 0 failed' END
           FROM runs r CROSS JOIN generate_series(0, $4 - 1) i WHERE r.pipeline_name = $1`,
        [k.name, k.fan!.id, k.fan!.step, itemsPerRun],
      );
    }
  }
  const bigRun = 'bench-run-2'; // one of the first kind's runs: the newest runs are the first pages
  const bigKind = kinds[2 % kinds.length]!;
  await db.query(
    `INSERT INTO step_runs (run_id, node_id, step, step_version, queue, status, attempt, started_at, ended_at)
     SELECT $1, $2 || '[' || (100000 + i) || ']', $3, '1', 'cpu', CASE WHEN i % 997 = 0 THEN 'failed' ELSE 'succeeded' END, 1, now() - interval '1 hour', now() - interval '50 minutes'
       FROM generate_series(0, $4 - 1) i`,
    [bigRun, bigKind.fan!.id, bigKind.fan!.step, big],
  );
  // Each plain node produced one artifact.
  await db.query(
    `INSERT INTO lineage_edges (from_kind, from_id, relation, to_kind, to_id, run_id)
     SELECT 'step_run', run_id || '/' || node_id, 'produced', 'artifact', 'file:///bench/cas/' || md5(run_id || node_id), run_id
       FROM step_runs WHERE node_id NOT LIKE '%[%'`,
  );
  // A registry with 30 versions and their alias moves, 500 drift windows of 20 columns, 1,000
  // validation reports, a dataset with a 30-column profile, and an hour of online traffic.
  for (let v = 1; v <= 30; v++) {
    await registerModelVersion(db, {
      name: MODEL, source: { uri: `file:///bench/model-${v}`, sha256: v.toString(16).padStart(64, '0'), size: 1000 },
      signature: { task: 'binary', inputs: [{ name: 'x', column: 'x', type: 'float' }], outputs: { label: 'label', probabilities: 'probabilities' }, classes: ['a', 'b'], target: 'y' } as never,
      createdBy: 'bench', metrics: { auc: 0.7 + v / 200, accuracy: 0.6 + v / 150, logloss: 0.6 - v / 100 }, params: { lr: 0.1, leaves: 31 + v },
    });
    await setAlias(db, { name: MODEL, alias: 'champion', version: v, actor: 'bench', reason: `v${v} promoted` });
  }
  await db.query(
    `INSERT INTO drift_results (model, batch_id, checked_at, dataset_name, dataset_version, reference_name, reference_version, share, dataset_drift, drifted, columns, report_uri, html_uri)
     SELECT $1, 'batch-' || w, now() - make_interval(hours => w), 'bench-data', 1, 'bench-data', 1, (w % 10) / 10.0, w % 10 >= 5, '{}',
            (SELECT jsonb_object_agg('col_' || c, jsonb_build_object('kind', 'numeric', 'test', 'wasserstein', 'statistic', ((w * c) % 17) / 100.0, 'threshold', 0.1, 'drift', ((w * c) % 17) > 10, 'referenceCount', 1000, 'currentCount', 1000))
               FROM generate_series(1, 20) c),
            'file:///bench/drift-' || w || '.json', 'file:///bench/drift-' || w || '.html'
       FROM generate_series(1, 500) w`,
    [MODEL],
  );
  await db.query(
    `INSERT INTO monitor_decisions (model, decided_at, kind, reason, numbers, workflow_id, seq)
     SELECT $1, now() - make_interval(hours => w), 'retrain-skipped', 'cooldown', '{"share": 0.6}', 'drift-monitor-bench', w FROM generate_series(1, 500) w`,
    [MODEL],
  );
  const columns = Array.from({ length: 30 }, (_, c) => ({
    name: `col_${c}`, type: 'float64', nulls: c, nullFraction: c / 1000, distinct: 900,
    numeric: { min: 0, max: 20, mean: 10, std: 3, quantiles: { p0: 0, p5: 1, p25: 5, p50: 10, p75: 15, p95: 19, p100: 20 }, histogram: { edges: Array.from({ length: 21 }, (_, k) => k), counts: Array.from({ length: 20 }, (_, k) => 40 + k) } },
  }));
  await registerDatasetVersion(db, { name: 'bench-data', uri: 'file:///bench/data', sha256: 'f'.repeat(64), sizeBytes: 1, rows: 1000, source: { kind: 'bench' }, schema: columns.map((c) => ({ name: c.name, type: 'float64', nullable: true })) as never, profile: { profileVersion: 1, rows: 1000, columns } });
  await db.query(
    `INSERT INTO validation_reports (dataset_name, dataset_version, suite_name, success, statistics, report_uri, html_uri, run_id, node)
     SELECT 'bench-data', 1, 'suite', i % 7 <> 0, '{"evaluated": 12, "successful": 11}', 'file:///bench/v-' || i || '.json', 'file:///bench/v-' || i || '.html', 'bench-run-' || i, 'validate'
       FROM generate_series(1, 1000) i`,
  );
  await db.query(`INSERT INTO serving_routes (model_name, variant, version, mode, weight, epoch) VALUES ($1, 'a', 29, 'live', 0.9, 3), ($1, 'b', 30, 'live', 0.1, 3)`, [MODEL]);
  await db.query(
    `INSERT INTO online_predictions (id, model_name, version, variant, mode, created_at, latency_ms, features, output)
     SELECT gen_random_uuid(), $1, 29 + (i % 10 = 0)::int, CASE WHEN i % 10 = 0 THEN 'b' ELSE 'a' END, 'live', now() - make_interval(secs => i % 3600), 1 + i % 7, '{}', '{}'
       FROM generate_series(1, 50000) i`,
    [MODEL],
  );
  await db.query('ANALYZE');
  const { rows } = await db.query<{ runs: number; node_runs: number; edges: number }>(
    `SELECT (SELECT count(*) FROM runs)::int AS runs, (SELECT count(*) FROM step_runs)::int AS node_runs, (SELECT count(*) FROM lineage_edges)::int AS edges`,
  );
  return { ...rows[0]!, bigRun, typicalRun: 'bench-run-3', failedRun: 'bench-run-20', pipeline: bigKind.name };
}

async function run(ctx: BenchContext): Promise<void> {
  const { SLUICE_CONSOLE_BENCH_RUNS: runs, SLUICE_CONSOLE_BENCH_NODE_RUNS: nodeRuns } = sizes();
  const db = createPool(ctx.databaseUrl, { max: 8, application: 'bench-console' });
  ctx.onCleanup(() => db.end());
  await migrate(db);
  const catalogue = await loadCatalogue();
  const t0 = Date.now();
  const seeded = await seed(db, catalogue, runs, nodeRuns, ctx.log);
  ctx.log(`seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${seeded.runs} runs, ${seeded.node_runs} node runs, ${seeded.edges} lineage edges`);
  const scratch = tempDir('bench-console');
  ctx.onCleanup(() => fs.rmSync(scratch, { recursive: true, force: true }));
  const store = await LocalArtifactStore.open(path.join(scratch, 'artifacts'));
  const app = await createConsole({ db, store, catalogue, defaultActor: 'bench', actions: { startRun: async () => ({ workflowId: '', runId: '' }), approve: async () => ({ approved: true }) } });
  ctx.onCleanup(() => app.close());

  const pages = [
    '/healthz', '/pipelines', `/pipelines/${seeded.pipeline}`,
    '/runs', '/runs?status=failed', `/runs?pipeline=${seeded.pipeline}`, '/runs?page=150', '/runs?since=2020-01-01&until=2020-02-01',
    `/runs/${seeded.typicalRun}`, `/runs/${seeded.failedRun}`, `/runs/${seeded.bigRun}`, `/runs/${seeded.bigRun}/state.json`,
    '/models', `/models/${MODEL}`, `/models/${MODEL}/versions/30`, `/models/${MODEL}/compare?a=1&b=30`,
    '/datasets', '/datasets/bench-data', '/datasets/bench-data/1',
    '/monitoring', `/monitoring/${MODEL}`, '/reports', '/rollouts',
  ];
  const render = async (url: string) => {
    const s = performance.now();
    const res = await app.inject({ url });
    if (res.statusCode !== 200) throw new Error(`${url}: HTTP ${res.statusCode} ${res.body.slice(0, 300)}`);
    return performance.now() - s;
  };
  const measure = async (url: string) => {
    const times: number[] = [];
    for (let i = 0; i < REPEAT; i++) times.push(await render(url));
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(times.length / 2)]!, max: times.at(-1)! };
  };
  // First renders, cold (routes, plans, buffers; the big run's summary, kept once the run has ended).
  const cold = new Map<string, number>();
  for (const url of pages) cold.set(url, await render(url));
  const sumBig = async () => {
    const s = performance.now();
    await runNodeSummary(db, seeded.bigRun);
    return performance.now() - s;
  };
  const bigSum = [await sumBig(), await sumBig(), await sumBig()].sort((a, b) => a - b)[1]!;
  const withIndexes = new Map<string, { median: number; max: number }>();
  for (const url of pages) withIndexes.set(url, await measure(url));
  // Baseline: the same pages without migration 0011's indexes (what the indexes buy).
  const { rows: defs } = await db.query<{ name: string; def: string; kind: string }>(
    `SELECT indexname AS name, indexdef AS def, 'INDEX' AS kind FROM pg_indexes WHERE indexname IN ('runs_started', 'runs_status_started', 'lineage_edges_run', 'step_runs_problems')
     UNION ALL SELECT stxname, pg_get_statisticsobjdef(oid), 'STATISTICS' FROM pg_statistic_ext WHERE stxname = 'step_runs_node_base'`,
  );
  for (const d of defs) await db.query(`DROP ${d.kind} ${d.name}`);
  await db.query('ANALYZE step_runs');
  const without = new Map<string, { median: number; max: number }>();
  for (const url of pages) without.set(url, await measure(url));
  const bigSumWithout = [await sumBig(), await sumBig(), await sumBig()].sort((a, b) => a - b)[1]!;
  for (const d of defs) await db.query(d.def);
  await db.query('ANALYZE step_runs');

  ctx.print(`console pages over ${seeded.runs} runs, ${seeded.node_runs} node runs, ${seeded.edges} lineage edges (median and max of ${REPEAT} renders; target < 300 ms)`);
  ctx.print(`${'page'.padEnd(48)} ${'first'.padStart(9)} ${'median'.padStart(9)} ${'max'.padStart(9)}   without 0011 (median)`);
  let over = 0;
  const ms = (x: number) => `${x.toFixed(1).padStart(6)} ms`;
  for (const url of pages) {
    const a = withIndexes.get(url)!;
    const b = without.get(url)!;
    if (a.max >= 300) over++;
    ctx.print(`${url.padEnd(48)} ${ms(cold.get(url)!)} ${ms(a.median)} ${ms(a.max)}   ${ms(b.median)}`);
  }
  ctx.print(`summing the ${seeded.bigRun} node runs (the ${Math.floor(nodeRuns / 10)}-item fan-out; done once per ended run, on every poll while it runs): ${ms(bigSum)}, without 0011 ${ms(bigSumWithout)}`);
  ctx.print(over ? `${over} page(s) took 300 ms or more at least once after the first render` : 'every page rendered in under 300 ms after the first render');
}
