import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import pl from 'nodejs-polars';
import { openArtifactStore } from '../infra/artifacts/index';
import { projectRoot } from '../infra/paths';
import type { RunParams } from '../pipelines/dsl/start';
import { ingestValidate } from '../pipelines/ingest-validate';
import { startRun } from './helpers/runs';
import { col, concat } from '../pipelines/expr/builder';
import { startTestStack, type TestStack } from './helpers/stack';

/**
 * Derived columns and a row filter in ingestion, on a real file (vega-datasets' flights-10k),
 * through the ingest-validate pipeline on Temporal: hour of day and weekday from a timestamp,
 * `delay > 15` as a label, a modulo, a floor, a binning and a concatenation, checked row by row
 * against the same values computed here from the raw JSON.
 */
let stack: TestStack;

before(async () => {
  stack = await startTestStack({ kinds: ['cpu'] });
});
after(async () => {
  await stack?.stop();
});

const FILE = 'node_modules/vega-datasets/data/flights-10k.json';

const start = (input: RunParams<typeof ingestValidate>) => startRun(stack, ingestValidate, input);

/** The params as a UI user would paste them: plain JSON. */
const asJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const derive = {
  hour: col('date').hour(),
  weekday: col('date').weekday(),
  is_late: col('delay').gt(15),
  distance_mod_100: col('distance').mod(100),
  delay_hours: col('delay').div(60).floor(),
  late_band: col('delay').cut([0, 15, 60], ['early', 'on time', 'delayed', 'late']),
  route: concat([col('origin'), col('destination')], '-'),
};
// The filter reads a derived column (hour) as well as a source one.
const filter = col('distance').gte(300).and(col('hour').gte(6));

interface Flight {
  date: string;
  delay: number;
  distance: number;
  origin: string;
  destination: string;
}

test('ingest-validate derives columns and filters rows of flights-10k; values match an independent computation; rows in = kept + filtered + bad', async () => {
  const run = (await (
    await start(
      asJson({
        source: { kind: 'file', path: FILE },
        name: 'flights-derived',
        schema: [{ name: 'date', type: 'timestamp', nullable: false }],
        derive,
        filter,
        suite: {
          name: 'derived',
          expectations: [
            { type: 'between', column: 'hour', min: 6, max: 23 },
            { type: 'between', column: 'weekday', min: 1, max: 7 },
            { type: 'notNull', column: 'is_late' },
            { type: 'between', column: 'distance', min: 300 },
            { type: 'inSet', column: 'late_band', values: ['early', 'on time', 'delayed', 'late'] },
          ],
        },
      }),
    )
  ).result());
  const out = run.outputs;
  assert.equal(out.success, true, 'the suite over the derived columns passes');

  // The same computation, independently, from the raw JSON.
  const raw = JSON.parse(fs.readFileSync(path.join(projectRoot, FILE), 'utf8')) as Flight[];
  const expected = raw
    .map((f) => {
      const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2})$/.exec(f.date)!;
      const t = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!));
      return {
        ...f,
        hour: t.getUTCHours(),
        weekday: ((t.getUTCDay() + 6) % 7) + 1,
        is_late: f.delay > 15,
        distance_mod_100: ((f.distance % 100) + 100) % 100,
        delay_hours: Math.floor(f.delay / 60),
        late_band: f.delay <= 0 ? 'early' : f.delay <= 15 ? 'on time' : f.delay <= 60 ? 'delayed' : 'late',
        route: `${f.origin}-${f.destination}`,
      };
    })
    .filter((r) => r.distance >= 300 && r.hour >= 6);
  assert.ok(expected.length > 1000 && expected.length < raw.length - 1000, `the filter keeps a part: ${expected.length} of ${raw.length}`);

  assert.equal(out.badRows, 0);
  assert.equal(out.dataset.rows, expected.length);
  assert.equal(out.filteredRows, raw.length - expected.length);
  assert.equal(out.dataset.rows + out.filteredRows + out.badRows, raw.length);
  assert.deepEqual(
    out.dataset.schema.map((c) => `${c.name}:${c.type}`),
    ['date:timestamp', 'delay:int64', 'distance:int64', 'origin:string', 'destination:string', 'hour:int64', 'weekday:int64', 'is_late:bool', 'distance_mod_100:int64', 'delay_hours:float64', 'late_band:string', 'route:string'],
  );

  const store = await openArtifactStore(stack.workers.config.artifacts);
  const df = pl.readParquet(await store.getBuffer(out.dataset));
  const got = df.toRecords() as Record<string, unknown>[];
  const num = (v: unknown) => (typeof v === 'bigint' ? Number(v) : v);
  for (const k of Object.keys(derive) as (keyof typeof derive)[]) {
    assert.deepEqual(
      got.map((r) => num(r[k])),
      expected.map((r) => r[k]),
      k,
    );
  }
  assert.deepEqual(got.map((r) => num(r.distance)), expected.map((r) => r.distance));

  // Recorded with the version: the expressions and what the filter dropped.
  const rec = await stack.db.query('SELECT source FROM dataset_versions WHERE name = $1 AND version = $2', ['flights-derived', out.dataset.version]);
  const source = rec.rows[0].source as { derive: Record<string, unknown>; filter: unknown; filteredRows: number };
  // (jsonb keeps keys in its own order.)
  assert.deepEqual([Object.keys(source.derive).sort(), source.filteredRows], [Object.keys(derive).sort(), out.filteredRows]);
  assert.deepEqual(source.derive.late_band, asJson(derive.late_band));
  assert.deepEqual(source.filter, asJson(filter));
});

test('ingest-validate: an expression that does not type-check fails the run at once, naming the column and the offending part', async () => {
  const h = await start({
    source: { kind: 'file', path: FILE },
    name: 'flights-bad-derive',
    schema: [{ name: 'date', type: 'timestamp', nullable: false }],
    derive: { is_late: { op: 'gt', left: { op: 'col', name: 'delay' }, right: { op: 'lit', value: 'x' } }, hour: { op: 'hour', arg: { op: 'col', name: 'dat' } } },
    filter: { op: 'col', name: 'distance' },
    suite: { name: 'none', expectations: [] },
  });
  await assert.rejects(h.result(), (e: unknown) => {
    assert.ok(e instanceof WorkflowFailedError);
    const message = String((e.cause as Error).message);
    assert.match(message, /step "ingest" \(ingest\) failed/);
    assert.match(message, /derive\.is_late: gt\(col\("delay"\), "x"\): cannot compare Int64 with String/);
    assert.match(message, /derive\.hour: col\("dat"\): no column "dat" \(columns: "date", "delay", "distance", "origin", "destination"\)/);
    assert.match(message, /filter: col\("distance"\): must be Boolean \(rows where it is true are kept\), not Int64/);
    return true;
  });
});
