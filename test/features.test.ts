import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import pl from 'nodejs-polars';
import { LocalArtifactStore, type ArtifactStore } from '../infra/artifacts/index';
import { createPool, type Db } from '../infra/db/pool';
import { migrate } from '../infra/db/migrate';
import { listMaterializations } from '../infra/db/features';
import { readFrame, writeFrame } from '../activities/data/frames';
import { frameSchema } from '../activities/features/columns';
import { featureImplementations, materializeFeatureView, readOnlineFeatures } from '../activities/features/index';
import { materializeFeatures } from '../activities/features/materialize';
import { buildTrainingSet } from '../activities/features/training-set';
import { applyFeatureView } from '../activities/features/transform';
import { assertSafeView, writeOnline } from '../activities/features/online-store';
import type { DatasetRef } from '../pipelines/steps/dataset';
import {
  buildTrainingSetInput,
  col,
  featureView,
  featureViewSchema,
  ifElse,
  lit,
  materializeFeaturesInput,
  ratio,
  rollingCount,
  rollingMax,
  rollingMean,
  rollingMin,
  rollingSum,
  when,
  type FeatureView,
} from '../pipelines/steps/features';
import { tempDir, usePostgres } from './helpers/stack';
import { testStepContext } from './helpers/step-context';
import { SluiceFailure } from '../pipelines/failures';

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);
const day = (n: number, hours = 0) => new Date(T0 + n * DAY + hours * 3_600_000);
const iso = (n: number) => day(n).toISOString();

function isInvalidInput(re: RegExp) {
  return (e: unknown) => e instanceof SluiceFailure && e.type === 'InvalidInput' && !e.retryable && re.test(e.message);
}

/** A Db that fails the test if any SQL reaches it. */
const noSql = new Proxy({}, { get: () => () => assert.fail('no SQL may run for a hostile view') }) as unknown as Db;

// ---------------------------------------------------------------------------------------------
describe('feature view DSL', () => {
  test('the builder gives plain JSON that the schema accepts as is', () => {
    const v = featureView({
      name: 'flight_route_stats',
      entities: ['origin'],
      timestamp: 'date',
      ttl: '30d',
      version: 1,
      features: [
        col('distance').as('distance'),
        rollingMean('delay', '7d').as('delay_mean_7d'),
        rollingCount('delay', '1d').as('flights_1d'),
        ratio('delay', 'distance').mul(1000).as('delay_per_1000mi', 'float64'),
      ],
    });
    const json = JSON.parse(JSON.stringify(v));
    assert.deepEqual(featureViewSchema.parse(json), v);
    assert.deepEqual(json.features[1].expr, { op: 'window', fn: 'mean', arg: { op: 'col', name: 'delay' }, window: '7d' });
    assert.deepEqual(json.features[3].expr.op, 'mul');
  });

  test('hostile or clashing names and malformed expressions are refused, each by its path', () => {
    const base = { version: 1, entities: ['origin'], timestamp: 'date', ttl: '1d', features: [col('x').as('x')] };
    const bad: [unknown, RegExp][] = [
      [{ ...base, name: 'x"; DROP TABLE runs; --' }, /name: lowercase letters/],
      [{ ...base, name: 'Flights' }, /name: lowercase/],
      [{ ...base, name: 'a'.repeat(49) }, /max 48/],
      [{ ...base, name: 'ok', entities: ['ori"gin'] }, /entities\.0: letters, digits/],
      [{ ...base, name: 'ok', features: [col('x').as('x; drop')] }, /features\.0\.name/],
      [{ ...base, name: 'ok', features: [col('x').as('event_ts')] }, /reserved/],
      [{ ...base, name: 'ok', features: [col('x').as('Origin')] }, /clashes with entity "origin"/],
      [{ ...base, name: 'ok', features: [col('x').as('a'), col('y').as('a')] }, /clashes with feature "a"/],
      [{ ...base, name: 'ok', features: [rollingSum(rollingMean('x', '1d'), '2d').as('a')] }, /cannot contain another/],
      [{ ...base, name: 'ok', ttl: '30 days' }, /ttl: a duration/],
      [{ ...base, name: 'ok', features: [{ name: 'a', expr: { op: 'exec', cmd: 'rm' } }] }, /features\.0\.expr/],
      [{ ...base, name: 'ok', features: [{ name: 'a', expr: { op: 'window', fn: 'mean', window: '1d' } }] }, /needs an argument/],
    ];
    for (const [v, re] of bad) {
      assert.throws(() => featureView(v as never), re, JSON.stringify(v));
      assert.throws(() => assertSafeView(v), isInvalidInput(re));
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('transformations', () => {
  // Two airports; hand-checked below. A@3 appears twice (one with a null delay).
  const src = pl.DataFrame({
    origin: pl.Series('origin', ['A', 'A', 'A', 'B', 'A', 'B', null, 'A'], pl.Utf8),
    date: pl.Series('date', [day(1), day(3), day(3), day(2), day(8), day(10), day(5), day(9, 12)], pl.Datetime('us')),
    delay: pl.Series('delay', [10, 20, null, 5, 40, 7, 1, -4], pl.Int64),
    distance: pl.Series('distance', [100, 200, 300, 50, 400, 70, 1, 800], pl.Int64),
  });
  const view = featureView({
    name: 'route',
    version: 1,
    entities: ['origin'],
    timestamp: 'date',
    ttl: '30d',
    features: [
      col('distance').as('distance'),
      rollingMean('delay', '7d').as('delay_mean_7d'),
      rollingSum('delay', '7d').as('delay_sum_7d'),
      rollingMin('delay', '7d').as('delay_min_7d'),
      rollingMax('delay', '2d').as('delay_max_2d'),
      rollingCount('delay', '2d').as('delays_2d'),
      rollingCount(null, '2d').as('rows_2d'),
      rollingSum('delay', '7d').div(rollingCount('delay', '7d')).as('mean_again'),
      ratio('delay', 'distance').as('delay_per_mile'),
      col('delay').sub(col('distance').div(100)).as('diff'),
      col('delay').cast('float64').gt(15).and(col('distance').lte(400)).as('late_short'),
      ifElse(col('delay').isNull(), lit('unknown'), lit('known')).as('status'),
      col('delay').fillNull(0).abs().neg().as('neg_abs'),
      col('date').as('seen_at'),
    ],
  });

  test('column expressions and window aggregates per entity over (t - window, t]', () => {
    const { frame, schema, dropped } = applyFeatureView(src, view, { createdAt: day(20) });
    assert.equal(dropped, 1, 'the row without an entity key is dropped');
    assert.deepEqual(frame.columns.slice(0, 3), ['origin', 'event_ts', 'created_ts']);
    assert.deepEqual(
      schema.map((c) => `${c.name}:${c.type}`),
      ['origin:string', 'distance:int64', 'delay_mean_7d:float64', 'delay_sum_7d:int64', 'delay_min_7d:int64', 'delay_max_2d:int64', 'delays_2d:int64', 'rows_2d:int64', 'mean_again:float64', 'delay_per_mile:float64', 'diff:float64', 'late_short:bool', 'status:string', 'neg_abs:int64', 'seen_at:timestamp'],
    );
    const rows = frame.toRecords() as Record<string, unknown>[];
    // Source order, less the row without a key.
    assert.deepEqual(rows.map((r) => `${r.origin}@${(r.event_ts as Date).toISOString().slice(5, 13)}`), ['A@01-02T00', 'A@01-04T00', 'A@01-04T00', 'B@01-03T00', 'A@01-09T00', 'B@01-11T00', 'A@01-10T12']);
    // Checked below in entity-then-time order: A@1, A@3, A@3, A@8, A@9.5, B@2, B@10.
    const order = [0, 1, 2, 4, 6, 3, 5];
    const pick = (k: string) => order.map((i) => rows[i]![k]);
    // A: day1 10 | day3 20, null | day8 40 | day9.5 -4;  B: day2 5 | day10 7.
    // 7d windows: A@3 = {10,20,null}; A@8 = (1,8] = {20,null,40}; A@9.5 = (2.5,9.5] = {20,null,40,-4}.
    assert.deepEqual(pick('delay_mean_7d'), [10, 15, 15, 30, 56 / 3, 5, 7]);
    assert.deepEqual(pick('delay_sum_7d'), [10, 30, 30, 60, 56, 5, 7]);
    assert.deepEqual(pick('delay_min_7d'), [10, 10, 10, 20, -4, 5, 7]);
    assert.deepEqual(pick('mean_again'), pick('delay_mean_7d'));
    // 2d windows: A@3 = (1,3] = {20,null}: day 1 is exactly 2 days back, outside; A@9.5 = (7.5,9.5] = {40,-4}.
    assert.deepEqual(pick('delay_max_2d'), [10, 20, 20, 40, 40, 5, 7]);
    assert.deepEqual(pick('delays_2d'), [1, 1, 1, 1, 2, 1, 1]);
    assert.deepEqual(pick('rows_2d'), [1, 2, 2, 1, 2, 1, 1]);
    assert.deepEqual(pick('distance'), [100, 200, 300, 400, 800, 50, 70]);
    assert.deepEqual(pick('delay_per_mile'), [0.1, 0.1, null, 0.1, -0.005, 0.1, 0.1]);
    assert.deepEqual(pick('diff'), [9, 18, null, 36, -12, 4.5, 6.3]);
    assert.deepEqual(pick('late_short'), [false, true, null, true, false, false, false]);
    assert.deepEqual(pick('status'), ['known', 'known', 'unknown', 'known', 'known', 'known', 'known']);
    assert.deepEqual(pick('neg_abs'), [-10, -20, 0, -40, -4, -5, -7]);
    assert.deepEqual((pick('seen_at') as unknown as Date[]).map((d) => d.getTime()), (pick('event_ts') as unknown as Date[]).map((d) => d.getTime()));
    assert.ok((pick('created_ts') as unknown as Date[]).every((d) => d.getTime() === day(20).getTime()));
  });

  test('views use the shared expression language: datetime parts, modulo, floor, when/otherwise, binning', () => {
    const v = featureView({
      name: 'parts',
      version: 1,
      entities: ['origin'],
      timestamp: 'date',
      ttl: '30d',
      features: [
        col('date').hour().as('hour'),
        col('date').weekday().as('weekday'),
        col('delay').mod(7).as('delay_mod_7'),
        col('delay').div(7).floor().as('delay_weeks'),
        when(col('delay').gt(15)).then('late').when(col('delay').isNull()).then('unknown').otherwise('on time').as('status'),
        col('distance').cut([100, 400], ['short', 'medium', 'long']).as('haul'),
      ],
    });
    const { frame, schema } = applyFeatureView(src, v);
    assert.deepEqual(schema.slice(1).map((c) => c.type), ['int64', 'int64', 'int64', 'float64', 'string', 'string']);
    const keep = (src.toRecords() as Record<string, unknown>[]).filter((r) => r.origin !== null);
    const rows = frame.toRecords() as Record<string, unknown>[];
    const delays = keep.map((r) => (r.delay === null ? null : Number(r.delay)));
    const times = keep.map((r) => r.date as Date);
    assert.deepEqual(rows.map((r) => r.hour), times.map((d) => d.getUTCHours()));
    assert.deepEqual(rows.map((r) => r.weekday), times.map((d) => ((d.getUTCDay() + 6) % 7) + 1));
    assert.deepEqual(rows.map((r) => r.delay_mod_7), delays.map((d) => (d === null ? null : ((d % 7) + 7) % 7)));
    assert.deepEqual(rows.map((r) => r.delay_weeks), delays.map((d) => (d === null ? null : Math.floor(d / 7))));
    assert.deepEqual(rows.map((r) => r.status), delays.map((d) => (d === null ? 'unknown' : d > 15 ? 'late' : 'on time')));
    assert.deepEqual(rows.map((r) => r.haul), keep.map((r) => (Number(r.distance) <= 100 ? 'short' : Number(r.distance) <= 400 ? 'medium' : 'long')));
  });

  test('zoned and Date event times become UTC milliseconds; integer keys stay integers', () => {
    const zoned = pl.DataFrame({ id: pl.Series('id', [7, 7], pl.Int32), at: pl.Series('at', [day(1), day(2)], pl.Datetime('us')), v: [1, 2] }).withColumns(
      pl.col('at').cast(pl.Datetime('us', 'America/New_York')),
    );
    const v = featureView({ name: 'z', version: 1, entities: ['id'], timestamp: 'at', ttl: '0s', features: [rollingSum('v', '1d').as('s')] });
    const { frame, schema } = applyFeatureView(zoned, v);
    assert.deepEqual((frame.getColumn('event_ts').toArray() as unknown as Date[]).map((d) => d.toISOString()), [day(1).toISOString(), day(2).toISOString()]);
    assert.equal(schema[0]!.type, 'int64');
    assert.deepEqual(frame.getColumn('s').toArray(), [1, 2]);
    const dates = pl.DataFrame({ id: ['a'], at: pl.Series('at', [day(3)], pl.Date), v: [1] });
    assert.equal((applyFeatureView(dates, v).frame.getColumn('event_ts').toArray()[0] as unknown as Date).toISOString(), day(3).toISOString());
  });

  test('bad sources fail as InvalidInput, naming the problem', () => {
    const v = (features: FeatureView['features'], over: Partial<FeatureView> = {}) => featureView({ name: 'e', version: 1, entities: ['origin'], timestamp: 'date', ttl: '1d', features, ...over });
    assert.throws(() => applyFeatureView(src, v([col('nope').as('x')])), isInvalidInput(/no column "nope"/));
    assert.throws(() => applyFeatureView(src, v([col('delay').as('x')], { timestamp: 'delay' })), isInvalidInput(/must be a Date or Datetime/));
    assert.throws(() => applyFeatureView(src, v([col('delay').as('x')], { entities: ['date'] })), isInvalidInput(/strings or integers/));
    assert.throws(
      () => applyFeatureView(src, v([col('origin').add(col('date')).as('x'), col('delay').gt(15).as('ok'), col('delay').and(true).as('y')])),
      isInvalidInput(/cannot compute its features: features\.x: add\(col\("origin"\), col\("date"\)\): cannot add String and Datetime .*; features\.y: and\(col\("delay"\), true\): and takes Booleans, not Int64/),
    );
    assert.throws(() => applyFeatureView(src, v([lit(null).as('x')])), isInvalidInput(/declare one/));
    assert.equal(applyFeatureView(src, v([lit(null).as('x', 'float64')])).schema[1]!.type, 'float64');
  });
});

// ---------------------------------------------------------------------------------------------
describe('materialization, online store and training sets (PostgreSQL, local store)', () => {
  let pgHandle: Awaited<ReturnType<typeof usePostgres>>;
  let db: Db;
  let store: ArtifactStore;

  before(async () => {
    pgHandle = await usePostgres();
    db = createPool(pgHandle.url, { max: 4 });
    await migrate(db);
    store = await LocalArtifactStore.open(path.join(tempDir('features-store'), 'artifacts'));
  });
  after(async () => {
    await db?.end();
    await pgHandle?.stop();
  });

  async function dataset(name: string, df: pl.DataFrame): Promise<DatasetRef> {
    const ref = await writeFrame(store, df);
    return { ...ref, name, version: 1, rows: df.height, schema: frameSchema(df) };
  }

  // Flights-like: origin, date, delay, distance. D only flies early.
  const flights = () =>
    pl.DataFrame({
      origin: ['A', 'A', 'B', 'D', 'A', 'C', 'A', 'B'],
      date: pl.Series('date', [day(1), day(3), day(2), day(2), day(5), day(4), day(5, 6), day(6)], pl.Datetime('us')),
      delay: pl.Series('delay', [10, 20, 5, 99, 30, 1, 50, 7], pl.Int64),
      distance: pl.Series('distance', [100, 200, 50, 10, 300, 40, 600, 70], pl.Int64),
    });
  const stats = (name: string, version = 1) =>
    featureView({
      name,
      version,
      entities: ['origin'],
      timestamp: 'date',
      ttl: '30d',
      features: [col('distance').as('distance'), rollingMean('delay', '7d').as('delay_mean_7d'), rollingCount('delay', '1d').as('flights_1d')],
    });
  const online = async (view: FeatureView) =>
    (await db.query(`SELECT origin, event_ts, distance, delay_mean_7d, flights_1d FROM fv_${view.name}_v${view.version} ORDER BY origin`)).rows.map(
      (r) => `${r.origin}@${(r.event_ts as Date).toISOString().slice(8, 13)} d=${r.distance} m=${r.delay_mean_7d} n=${r.flights_1d}`,
    );
  const run = (input: unknown, node = 'materialize') =>
    materializeFeatures.run(materializeFeaturesInput.parse(input), testStepContext({ store, db }, { node })) as Promise<{
      offline: DatasetRef;
      rowsWritten: number;
      onlineRows: number;
      interval: { start: string; end: string };
    }>;

  test('the step writes the interval offline (every row) and the latest per entity online; the next run continues from the last end', async () => {
    const view = stats('route_stats');
    const source = await dataset('flights', flights());
    const first = await run({ source, view, start: iso(1), end: iso(3) });
    assert.deepEqual(first.interval, { start: iso(1), end: iso(3) });
    assert.equal(first.rowsWritten, 4); // A@1, A@3, B@2, D@2
    assert.equal(first.onlineRows, 3);
    assert.equal(first.offline.name, 'route_stats.v1');
    assert.equal(first.offline.version, 1);
    const part = await readFrame(store, first.offline);
    assert.deepEqual(part.columns, ['origin', 'event_ts', 'created_ts', 'distance', 'delay_mean_7d', 'flights_1d']);
    assert.equal(part.height, 4);
    assert.deepEqual(await online(view), ['A@04T00 d=200 m=15 n=1', 'B@03T00 d=50 m=5 n=1', 'D@03T00 d=10 m=99 n=1']);

    // Incremental: no start, so from the last end (day 3, inclusive) to the source's latest time (day 6).
    const second = await run({ source, view });
    assert.deepEqual(second.interval, { start: iso(3), end: iso(6) });
    assert.equal(second.rowsWritten, 5); // A@3 again, A@5, A@5.25, C@4, B@6
    assert.equal(second.onlineRows, 3); // A and B updated, C inserted; D untouched
    assert.equal(second.offline.version, 2);
    // A@5.25: 7d window (day -1.75, 5.25] = {10,20,30,50}; 1d window (4.25, 5.25] = {30,50}.
    assert.deepEqual(await online(view), ['A@06T06 d=600 m=27.5 n=2', 'B@07T00 d=70 m=6 n=1', 'C@05T00 d=40 m=1 n=1', 'D@03T00 d=10 m=99 n=1']);
    const intervals = await listMaterializations(db, view);
    assert.deepEqual(intervals.map((m) => [m.start.toISOString(), m.end.toISOString()]), [[iso(1), iso(3)], [iso(3), iso(6)]]);

    // Nothing new: the interval shrinks to the last end and nothing changes online.
    const third = await run({ source, view });
    assert.deepEqual(third.interval, { start: iso(6), end: iso(6) });
    assert.equal(third.onlineRows, 0);
  });

  test('an older value never overwrites a newer one, nor does one with the same event time', async () => {
    const view = stats('route_order');
    const source = await dataset('flights', flights());
    const later = await run({ source, view, start: iso(4), end: iso(6) });
    assert.equal(later.onlineRows, 3);
    const before = await online(view);
    assert.deepEqual(before, ['A@06T06 d=600 m=27.5 n=2', 'B@07T00 d=70 m=6 n=1', 'C@05T00 d=40 m=1 n=1']);
    // The earlier window afterwards: A and B hold newer values and stay; only D is new.
    const earlier = await run({ source, view, start: iso(1), end: iso(3) });
    assert.equal(earlier.onlineRows, 1);
    assert.deepEqual(await online(view), [...before.slice(0, 3), 'D@03T00 d=10 m=99 n=1']);
    // Same event times, other values (a corrected source): not newer, so skipped (Feast's rule).
    const floats = await dataset('flights', flights().withColumns(pl.col('distance').mul(2)));
    await assert.rejects(run({ source: floats, view, start: iso(4), end: iso(6) }), isInvalidInput(/computes columns \(.*distance float64.*\) but was first materialized with \(.*distance int64/));
    const corrected = await dataset('flights', flights().withColumns(pl.col('distance').mul(pl.lit(2).cast(pl.Int64))));
    const again = await run({ source: corrected, view, start: iso(4), end: iso(6) });
    assert.equal(again.onlineRows, 0);
    assert.deepEqual(await online(view), [...before.slice(0, 3), 'D@03T00 d=10 m=99 n=1']);
  });

  test('a retried step (same run and node) keeps its interval and writes nothing new', async () => {
    const view = stats('route_retry');
    const source = await dataset('flights', flights());
    const ctx = testStepContext({ store, db }, { node: 'mat' });
    const input = materializeFeaturesInput.parse({ source, view });
    const a = await materializeFeatures.run(input, ctx);
    const b = await materializeFeatures.run(input, { ...ctx, attempt: 2 });
    assert.deepEqual(b, a);
    assert.equal((await listMaterializations(db, view)).length, 1);
    // One offline part: the retry did not register another.
    const parts = await db.query(`SELECT count(*)::int AS n FROM feature_datasets WHERE view_name = $1`, [view.name]);
    assert.equal(parts.rows[0].n, 1);
  });

  test('an attempt that fails after its online write committed: the retry reports the rows that write put in the table', async () => {
    const view = stats('route_half_done');
    const source = await dataset('flights', flights());
    // The database fails the attempt's last bookkeeping write (after the online rows committed) once.
    let failed = false;
    const flaky = new Proxy(db, {
      get(target, prop) {
        if (prop === 'query') {
          return (text: unknown, ...rest: unknown[]) => {
            if (!failed && typeof text === 'string' && text.includes("SET status = 'succeeded'")) {
              failed = true;
              return Promise.reject(new Error('connection lost after the online write'));
            }
            return (target.query as (...a: unknown[]) => unknown)(text, ...rest);
          };
        }
        const v = Reflect.get(target, prop) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const ctx = testStepContext({ store, db: flaky }, { node: 'mat' });
    const input = materializeFeaturesInput.parse({ source, view, start: iso(1), end: iso(3) });
    await assert.rejects(materializeFeatures.run(input, ctx), /connection lost after the online write/);
    assert.equal(failed, true);
    assert.equal((await online(view)).length, 3, 'the first attempt’s online rows committed');

    const retry = (await materializeFeatures.run(input, { ...ctx, attempt: 2 })) as { onlineRows: number; rowsWritten: number };
    assert.equal(retry.rowsWritten, 4);
    assert.equal(retry.onlineRows, 3, 'the rows in the online table, not the 0 a second (skipped) write counts');
    const [recorded] = await listMaterializations(db, view);
    assert.equal(recorded?.onlineRows, 3);
    assert.equal((await online(view)).length, 3);
  });

  test('a changed definition needs a new version; columns are fixed by the first materialization', async () => {
    const source = await dataset('flights', flights());
    await run({ source, view: stats('route_def'), start: iso(1), end: iso(2) });
    const changed = featureView({ ...stats('route_def'), features: [col('distance').as('distance'), col('delay').as('delay')] });
    await assert.rejects(run({ source, view: changed }), isInvalidInput(/registered with another definition; give the changed view a new version/));
    const v2 = await run({ source, view: { ...changed, version: 2 }, start: iso(1), end: iso(2) });
    assert.equal(v2.offline.name, 'route_def.v2');
  });

  test('online read: one query, the order asked, nulls for unknown keys, composite keys', async () => {
    const view = stats('route_read');
    const source = await dataset('flights', flights());
    const none = await readOnlineFeatures(db, view, ['A']);
    assert.deepEqual(none, [{ origin: 'A', event_ts: null, distance: null, delay_mean_7d: null, flights_1d: null }], 'never materialized: nulls');
    await run({ source, view, start: iso(0), end: iso(9) });
    const rows = await readOnlineFeatures(db, view, ['C', 'ZZZ', 'A', { origin: 'B' }, null, 'A']);
    assert.deepEqual(
      rows.map((r) => [r.origin, r.distance, r.delay_mean_7d, (r.event_ts as Date | null)?.toISOString() ?? null]),
      [
        ['C', 40, 1, day(4).toISOString()],
        ['ZZZ', null, null, null],
        ['A', 600, 27.5, day(5, 6).toISOString()],
        ['B', 70, 6, day(6).toISOString()],
        [null, null, null, null],
        ['A', 600, 27.5, day(5, 6).toISOString()],
      ],
    );
    assert.deepEqual(await readOnlineFeatures(db, view, ['A'], { features: ['flights_1d'] }), [{ origin: 'A', event_ts: day(5, 6), flights_1d: 2 }]);

    // Composite keys (string + integer).
    const pair = featureView({ name: 'route_pair', version: 1, entities: ['origin', 'gate'], timestamp: 'date', ttl: '0s', features: [col('delay').as('delay')] });
    const pairSrc = pl.DataFrame({ origin: ['A', 'A', 'B'], gate: pl.Series('gate', [1, 2, 1], pl.Int64), date: pl.Series('date', [day(1), day(2), day(3)], pl.Datetime('ms')), delay: pl.Series('delay', [3, 4, 5], pl.Int64) });
    assert.equal((await run({ source: await dataset('gates', pairSrc), view: pair, start: iso(0), end: iso(9) })).onlineRows, 3);
    const got = await readOnlineFeatures(db, pair, [{ origin: 'A', gate: 2 }, { origin: 'B', gate: 2 }, { origin: 'B', gate: 1 }]);
    assert.deepEqual(got.map((r) => r.delay), [4, null, 5]);
    await assert.rejects(readOnlineFeatures(db, pair, ['A']), isInvalidInput(/pass each key as an object/));
    await assert.rejects(readOnlineFeatures(db, pair, [{ origin: 'A', gate: 'x' }]), isInvalidInput(/does not fit/));
  });

  test('hostile view and column names fail with a clear error before any SQL', async () => {
    const good = stats('route_safe');
    const hostile: [unknown, RegExp][] = [
      [{ ...good, name: 'x"; DROP TABLE feature_view_versions; --' }, /invalid feature view "x\\"; DROP.*name: lowercase letters/],
      [{ ...good, entities: ['origin" text); DROP TABLE runs; --'] }, /entities\.0: letters, digits/],
      [{ ...good, features: [{ name: 'f"; --', expr: { op: 'col', name: 'delay' } }] }, /features\.0\.name/],
      [{ ...good, name: 'a'.repeat(60) }, /max 48/],
    ];
    const source = await dataset('flights', flights());
    for (const [view, re] of hostile) {
      const ctx = { store, db: noSql, run: { runId: 'r', node: 'n' } };
      await assert.rejects(materializeFeatureView(ctx, { source, view: view as FeatureView }), isInvalidInput(re));
      await assert.rejects(readOnlineFeatures(noSql, view as FeatureView, ['A']), isInvalidInput(re));
      await assert.rejects(writeOnline(noSql, view as FeatureView, [], pl.DataFrame({ a: [1] })), isInvalidInput(re));
      assert.throws(() => materializeFeaturesInput.parse({ source, view }), /feature|name|entities|max/);
    }
    const tables = await db.query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ('runs', 'feature_view_versions')`);
    assert.equal(tables.rows[0].n, 2);
  });

  test('build-training-set: point-in-time join against the offline store of two views', async () => {
    const routes = stats('train_routes');
    const source = await dataset('flights', flights());
    await run({ source, view: routes, start: iso(1), end: iso(3) });
    await run({ source, view: routes }); // the rest, incrementally: the union of both parts is read
    // A second view with a short TTL and its own created column.
    const sizes = featureView({ name: 'train_sizes', version: 1, entities: ['origin'], timestamp: 'date', created: 'loaded', ttl: '1d', features: [col('seats').as('seats')] });
    const sizeSrc = pl.DataFrame({
      origin: ['A', 'A', 'B'],
      date: pl.Series('date', [day(2), day(2), day(1)], pl.Datetime('ms')),
      loaded: pl.Series('loaded', [day(9), day(8), day(1)], pl.Datetime('ms')),
      seats: pl.Series('seats', [180, 150, 90], pl.Int64),
    });
    await run({ source: await dataset('sizes', sizeSrc), view: sizes, start: iso(0), end: iso(9) });

    const labels = pl.DataFrame({
      origin: ['A', 'A', 'B', 'Q', 'A', 'D'],
      event_timestamp: pl.Series('t', [day(2), day(3), day(2), day(5), day(5, 12), day(0)], pl.Datetime('ms')),
      on_time: [1, 0, 1, 1, 0, 1],
    });
    const input = buildTrainingSetInput.parse({ entities: await dataset('labels', labels), views: [routes, sizes], name: 'delay_training' });
    const out = await buildTrainingSet.run(input, testStepContext({ store, db }));
    assert.equal(out.rows, 6);
    assert.equal(out.dataset.name, 'delay_training');
    const df = await readFrame(store, out.dataset);
    assert.deepEqual(df.columns, ['origin', 'event_timestamp', 'on_time', 'distance', 'delay_mean_7d', 'flights_1d', 'seats']);
    assert.deepEqual(df.getColumn('distance').toArray(), [100, 200, 50, null, 600, null]);
    assert.deepEqual(df.getColumn('delay_mean_7d').toArray(), [10, 15, 5, null, 27.5, null]);
    // seats: A@2 has two rows, the later loaded (180) wins; B@1 is 1 day old at day 2 (kept, inclusive); A@3 is exactly 1 day after day 2.
    assert.deepEqual(df.getColumn('seats').toArray(), [180, 180, 90, null, null, null]);
    assert.deepEqual(out.dataset.schema.map((c) => c.name), df.columns);

    // The same inputs give the same dataset version.
    const again = await buildTrainingSet.run(input, testStepContext({ store, db }));
    assert.equal(again.dataset.version, out.dataset.version);
    await assert.rejects(buildTrainingSet.run(buildTrainingSetInput.parse({ ...input, views: [stats('never_materialized')] }), testStepContext({ store, db })), isInvalidInput(/never materialized/));
  });

  test('featureImplementations exports both steps', () => {
    assert.deepEqual(featureImplementations.map((i) => i.step.name).sort(), ['features.build-training-set', 'features.materialize']);
  });
});
