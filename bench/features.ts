/**
 * Feature store benchmark. Prints figures; asserts nothing about timings.
 *
 * 1. Online materialization: 1M entities written to a view's online table (polars writes CSV,
 *    COPY into a staging table, one INSERT … ON CONFLICT DO UPDATE … WHERE newer), as inserts,
 *    as updates (newer values) and as skips (same values), next to a plain `\copy` of the same
 *    CSV rows through psql into an unindexed table, measured in the same run: the ratio is what
 *    the upsert costs over the bulk load itself. Then a whole materialize-features run (read the
 *    source, transform, offline Parquet part, online write) for the end-to-end rate.
 * 2. Point-in-time join: 1M entity rows against the 3M rows of flights-3m (entity = origin,
 *    timestamp = date), after computing the view (with a 7-day rolling mean per origin).
 *
 * `npx tsx bench/features.ts` runs it on its own PostgreSQL (test/helpers/stack.ts); `npm run
 * bench -- features` runs it inside the bench harness on the shared one.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pl from 'nodejs-polars';
import { LocalArtifactStore } from '../infra/artifacts/index';
import { migrate } from '../infra/db/migrate';
import { createPool, type Db } from '../infra/db/pool';
import { projectRoot } from '../infra/paths';
import { writeFrame } from '../activities/data/frames';
import { frameSchema } from '../activities/features/columns';
import { materializeFeatureView } from '../activities/features/materialize';
import { ensureOnlineTable, writeOnline } from '../activities/features/online-store';
import { pointInTimeJoin } from '../activities/features/pit-join';
import { applyFeatureView } from '../activities/features/transform';
import { registerView } from '../activities/features/views';
import { settleFeatureViewSchema } from '../infra/db/features';
import { col, featureView, rollingCount, rollingMean } from '../pipelines/steps/features';
import { tempDir, uniqueId, usePostgres } from '../test/helpers/stack';
import type { Benchmark, BenchContext } from './run';
import { mulberry32 } from '../pipelines/util/seeded-random';

const ONLINE_ROWS = 1_000_000;
const ENTITY_ROWS = 1_000_000;
const FLIGHTS = path.join(projectRoot, 'node_modules', 'vega-datasets', 'data', 'flights-3m.parquet');
const DAY = 86_400_000;
const PSQL = '/usr/bin/psql';

const exec = promisify(execFile);

interface Out {
  print(line: string): void;
  log(msg: string): void;
}


async function timed<T>(fn: () => Promise<T> | T): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, (performance.now() - t0) / 1000];
}

const rate = (rows: number, s: number) => `${Math.round(rows / s).toLocaleString('en-US')} rows/s`;
const secs = (s: number) => `${s.toFixed(2)} s`;

async function onlineBenchmark(db: Db, databaseUrl: string, out: Out): Promise<void> {
  const rnd = mulberry32(7);
  const n = ONLINE_ROWS;
  const t0 = Date.UTC(2024, 0, 1);
  const f1 = new Float64Array(n);
  const f2 = new Float64Array(n);
  const cnt = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    f1[i] = rnd() * 100;
    f2[i] = rnd();
    cnt[i] = Math.floor(rnd() * 1000);
  }
  const source = pl.DataFrame({
    user_id: pl.Series('user_id', Array.from({ length: n }, (_, i) => i), pl.Int64),
    ts: pl.Series('ts', Array.from({ length: n }, (_, i) => new Date(t0 + (i % 86_400) * 1000)), pl.Datetime('ms')),
    spend: pl.Series('spend', f1, pl.Float64),
    score: pl.Series('score', f2, pl.Float64),
    visits: pl.Series('visits', cnt, pl.Float64).cast(pl.Int64),
    segment: pl.Series('segment', Array.from({ length: n }, (_, i) => ['gold', 'silver', 'bronze', 'new'][i % 4]!), pl.Utf8),
  });
  const view = featureView({
    name: `bench_users_${uniqueId('')}`,
    version: 1,
    entities: ['user_id'],
    timestamp: 'ts',
    ttl: '30d',
    features: [col('spend').as('spend'), col('score').as('score'), col('visits').as('visits'), col('segment').as('segment')],
  });
  const applied = applyFeatureView(source, view, { createdAt: new Date(t0 + 2 * DAY) });
  await registerView(db, view);
  await settleFeatureViewSchema(db, view.name, view.version, applied.schema);
  await ensureOnlineTable(db, view, applied.schema);
  out.log(`online: ${n.toLocaleString('en-US')} entities, ${view.features.length} features`);

  const [inserted, tInsert] = await timed(() => writeOnline(db, view, applied.schema, applied.frame));
  const newer = applied.frame.withColumns(pl.col('event_ts').cast(pl.Int64).add(pl.lit(DAY).cast(pl.Int64)).cast(pl.Datetime('ms')).alias('event_ts'), pl.col('spend').add(1));
  const [updated, tUpdate] = await timed(() => writeOnline(db, view, applied.schema, newer));
  const [skipped, tSkip] = await timed(() => writeOnline(db, view, applied.schema, newer));

  // The baseline: the same rows, the same CSV, loaded by psql's \copy into a plain table.
  const dir = tempDir('bench-features');
  const csv = path.join(dir, 'rows.csv');
  const cols = ['user_id', 'event_ts', 'created_ts', 'spend', 'score', 'visits', 'segment'];
  applied.frame.select(...cols.map((c) => pl.col(c))).writeCSV(csv, { includeHeader: true, datetimeFormat: '%Y-%m-%dT%H:%M:%S%.3fZ' });
  const plain = `bench_plain_${uniqueId('')}`;
  await db.query(`CREATE TABLE ${plain} (user_id bigint, event_ts timestamptz, created_ts timestamptz, spend double precision, score double precision, visits bigint, segment text)`);
  let tPsql = Number.NaN;
  if (fs.existsSync(PSQL)) {
    [, tPsql] = await timed(() => exec(PSQL, [databaseUrl, '-v', 'ON_ERROR_STOP=1', '-q', '-c', `\\copy ${plain} (${cols.join(', ')}) FROM '${csv}' WITH (FORMAT csv, HEADER true)`]));
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM ${plain}`);
    if (rows[0].n !== n) throw new Error(`psql loaded ${rows[0].n} rows, expected ${n}`);
  } else out.log(`${PSQL} not found: no baseline`);
  await db.query(`DROP TABLE ${plain}`);
  fs.rmSync(dir, { recursive: true, force: true });

  out.print(`features online write, ${n.toLocaleString('en-US')} entities x ${view.features.length} features:`);
  out.print(`  insert (empty table)     ${secs(tInsert)}  ${rate(n, tInsert)}  (${inserted} rows written)`);
  out.print(`  update (all newer)       ${secs(tUpdate)}  ${rate(n, tUpdate)}  (${updated} rows written)`);
  out.print(`  skip (none newer)        ${secs(tSkip)}  ${rate(n, tSkip)}  (${skipped} rows written)`);
  out.print(`  psql \\copy, plain table  ${secs(tPsql)}  ${rate(n, tPsql)}`);
  out.print(`  ratio insert/psql copy   ${(tPsql / tInsert).toFixed(2)} (1.00 = as fast as a bare COPY)`);
  out.print(`  ratio update/psql copy   ${(tPsql / tUpdate).toFixed(2)}`);

  // End to end through the step's function: source Parquet -> transform -> offline part + online.
  const store = await LocalArtifactStore.open(path.join(tempDir('bench-store'), 'artifacts'));
  const ref = await writeFrame(store, source);
  const e2eView = { ...view, name: `${view.name}_e2e` };
  const [res, tE2e] = await timed(() =>
    materializeFeatureView(
      { store, db, run: { runId: uniqueId('bench-'), node: 'materialize' } },
      { source: { ...ref, name: 'bench_users', version: 1, rows: source.height, schema: frameSchema(source) }, view: e2eView },
    ),
  );
  out.print(`  materialize-features end to end (read, transform, offline Parquet, online insert): ${secs(tE2e)}  ${rate(res.rowsWritten, tE2e)}`);
  fs.rmSync(path.dirname(new URL(store.location).pathname), { recursive: true, force: true });
}

async function pitBenchmark(out: Out): Promise<void> {
  const [flights, tRead] = await timed(() => pl.readParquet(FLIGHTS));
  out.log(`flights-3m: ${flights.height.toLocaleString('en-US')} rows read in ${secs(tRead)}`);
  const view = featureView({
    name: 'flight_route_stats',
    version: 1,
    entities: ['origin'],
    timestamp: 'date',
    ttl: '30d',
    features: [col('distance').as('distance'), col('delay').as('delay'), rollingMean('delay', '7d').as('delay_mean_7d'), rollingCount('delay', '1d').as('flights_1d')],
  });
  const [applied, tTransform] = await timed(() => applyFeatureView(flights, view, { createdAt: new Date(Date.UTC(2030, 0, 1)) }));

  // 1M entity rows: origins of random flights (1% unknown), at times around theirs (±3 days).
  const rnd = mulberry32(42);
  const idx = new Float64Array(ENTITY_ROWS);
  const shift = new Float64Array(ENTITY_ROWS);
  const unknown: boolean[] = new Array(ENTITY_ROWS);
  for (let i = 0; i < ENTITY_ROWS; i++) {
    idx[i] = Math.floor(rnd() * flights.height);
    shift[i] = Math.round((rnd() * 6 - 3) * DAY);
    unknown[i] = rnd() < 0.01;
  }
  const picked = flights.select('origin', 'date').withRowIndex('i').join(pl.DataFrame({ i: pl.Series('i', idx, pl.Float64).cast(pl.UInt32), n: pl.Series('n', Array.from({ length: ENTITY_ROWS }, (_, i) => i), pl.Int64) }), { on: 'i', how: 'inner' }).sort('n');
  const entities = pl.DataFrame({
    origin: pl.Series('origin', picked.getColumn('origin').toArray().map((o, i) => (unknown[i] ? 'ZZZ' : o)) as string[], pl.Utf8),
    event_timestamp: picked.getColumn('date').cast(pl.Datetime('ms')).cast(pl.Int64).add(pl.Series('s', shift, pl.Float64).cast(pl.Int64)).cast(pl.Datetime('ms')),
    label: pl.Series('label', Array.from({ length: ENTITY_ROWS }, (_, i) => i % 2), pl.Int64),
  });

  const [joined, tJoin] = await timed(() => pointInTimeJoin(entities, [{ view, frame: applied.frame }], { timestamp: 'event_timestamp' }));
  const matched = joined.height - joined.getColumn('distance').nullCount();
  out.print(`point-in-time join, flights-3m (entity origin, timestamp date, ttl 30d):`);
  out.print(`  view over ${flights.height.toLocaleString('en-US')} rows (2 columns, 7d mean, 1d count per origin): ${secs(tTransform)}`);
  out.print(`  join ${ENTITY_ROWS.toLocaleString('en-US')} entity rows x ${applied.frame.height.toLocaleString('en-US')} feature rows: ${secs(tJoin)}  ${rate(ENTITY_ROWS, tJoin)}  (${matched.toLocaleString('en-US')} matched)`);
  out.print(`  process RSS after join: ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
}

/** Runs both parts; starts its own PostgreSQL unless given a database URL. */
export async function run(opts: { databaseUrl?: string; print?: (line: string) => void; log?: (msg: string) => void } = {}): Promise<void> {
  const out: Out = { print: opts.print ?? ((l) => process.stdout.write(`${l}\n`)), log: opts.log ?? ((m) => process.stderr.write(`[bench features] ${m}\n`)) };
  let url = opts.databaseUrl;
  let stop = async () => undefined as void;
  if (!url) {
    out.log('starting PostgreSQL');
    const pgHandle = await usePostgres();
    url = pgHandle.url;
    stop = pgHandle.stop;
  }
  const db = createPool(url, { max: 4, application: 'sluice-bench-features' });
  try {
    await migrate(db);
    await onlineBenchmark(db, url, out);
    await pitBenchmark(out);
  } finally {
    await db.end();
    await stop();
  }
}

export const benchmark: Benchmark = {
  name: 'features',
  description: `feature store: online materialization of ${ONLINE_ROWS.toLocaleString('en-US')} entities vs psql \\copy; point-in-time join of ${ENTITY_ROWS.toLocaleString('en-US')} entity rows x flights-3m`,
  run: (ctx: BenchContext) => run({ databaseUrl: ctx.databaseUrl, print: ctx.print, log: ctx.log }),
};

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  run().then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`bench features failed: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
