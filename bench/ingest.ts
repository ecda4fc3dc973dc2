/**
 * Ingestion benchmark: flights-3m.parquet (3M rows, 5 columns) ingested as a dataset version
 * (lazy scan -> typed, streamed Parquet -> content-addressed artifact -> profile -> registered),
 * then the profile computed again on its own. Prints rows/s, peak RSS growth and the profile's
 * time; asserts nothing. `npx tsx bench/ingest.ts` runs it alone; bench/run.ts calls `run()`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pl from 'nodejs-polars';
import { withLocalCopy } from '../activities/data/frames';
import { runIngest } from '../activities/ingestion';
import { profileFrame } from '../activities/ingestion/profile';
import { LocalArtifactStore } from '../infra/artifacts';
import { migrate } from '../infra/db/migrate';
import { createPool } from '../infra/db/pool';
import { projectRoot } from '../infra/paths';
import { ingestInput } from '../pipelines/steps/ingestion';
import { tempDir, uniqueId, usePostgres } from '../test/helpers/stack';
import { testStepContext } from '../test/helpers/step-context';

const FLIGHTS = path.join(projectRoot, 'node_modules', 'vega-datasets', 'data', 'flights-3m.parquet');
const MiB = 2 ** 20;

/** Peak RSS while `fn` runs: the kernel's high-water mark on Linux, else 10 ms samples. */
async function measure<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number; peakGrowth: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  let hwm: (() => number) | undefined;
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    hwm = () => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    hwm = undefined;
  }
  const t0 = performance.now();
  try {
    const result = await fn();
    return { result, ms: performance.now() - t0, peakGrowth: Math.max(peak, hwm?.() ?? 0) - base };
  } finally {
    clearInterval(timer);
  }
}

export async function run(): Promise<void> {
  const pgh = await usePostgres();
  const db = createPool(pgh.url);
  const dir = tempDir('bench-ingest');
  // File sources read only under the data roots: the project (flights-3m) and the scratch files here.
  process.env.SLUICE_DATA_ROOTS = [projectRoot, dir].join(':');
  try {
    await migrate(db);
    const store = await LocalArtifactStore.open(path.join(dir, 'artifacts'));
    const ingest = (file: string, name: string) => runIngest(ingestInput.parse({ source: { kind: 'file', path: file }, name }), testStepContext({ store, db }));

    // Warm-up on 10k rows: polars maps its native library and starts its thread pools once.
    const sample = path.join(dir, 'sample.parquet');
    await pl.scanParquet(FLIGHTS).head(10_000).sinkParquet(sample).collect();
    await ingest(sample, 'warmup');

    const name = uniqueId('flights');
    const first = await measure(() => ingest(FLIGHTS, name));
    const rows = first.result.dataset.rows;
    const again = await measure(() => ingest(FLIGHTS, name));
    const profile = await measure(() => withLocalCopy(store, first.result.dataset, (f) => profileFrame(pl.scanParquet(f))));

    const line = (k: string, v: string) => console.log(`${k.padEnd(44)} ${v}`);
    console.log(`ingest: ${path.relative(projectRoot, FLIGHTS)} (${rows.toLocaleString('en-US')} rows, ${(fs.statSync(FLIGHTS).size / MiB).toFixed(1)} MiB)`);
    line('first ingest (convert + profile + register)', `${(first.ms / 1000).toFixed(2)} s, ${Math.round(rows / (first.ms / 1000)).toLocaleString('en-US')} rows/s, peak RSS +${(first.peakGrowth / MiB).toFixed(0)} MiB`);
    line('identical data again (same version reused)', `${(again.ms / 1000).toFixed(2)} s, ${Math.round(rows / (again.ms / 1000)).toLocaleString('en-US')} rows/s, reused=${again.result.reused}`);
    line('profile alone (5 columns)', `${(profile.ms / 1000).toFixed(2)} s, peak RSS +${(profile.peakGrowth / MiB).toFixed(0)} MiB`);
    line('dataset', `${first.result.dataset.name}@${first.result.dataset.version}, ${(first.result.dataset.size / MiB).toFixed(1)} MiB Parquet`);
  } finally {
    await db.end();
    await pgh.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  run().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}

/** For `npm run bench` (bench/run.ts). */
export const benchmark = {
  name: 'ingest',
  description: 'ingest flights-3m.parquet: rows/s, peak RSS, profile time',
  run: async () => run(),
};
