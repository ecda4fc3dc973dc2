import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pl, { type DataType } from 'nodejs-polars';
import { pointInTimeJoin, type PitFeatureSource } from '../activities/features/pit-join';
import { applyFeatureView } from '../activities/features/transform';
import { durationMs, featureView, col, type FeatureView } from '../pipelines/steps/features';
import { mulberry32 } from '../pipelines/util/seeded-random';

/**
 * The point-in-time join against a brute-force reference that reads Feast's rule literally:
 * for an entity row at t, candidates share the key(s), have event_ts <= t and (ttl > 0)
 * event_ts >= t - ttl; the largest event_ts wins, then the largest created_ts (null = oldest),
 * then the later row; no candidate gives nulls.
 */

const DAY = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);


interface FeatureRow {
  keys: (string | number | null)[];
  ts: number;
  created: number | null;
  values: Record<string, unknown>;
}

/** Feast's rule, row by row. */
function bruteForce(keys: (string | number | null)[], t: number, rows: FeatureRow[], ttl: number): FeatureRow | undefined {
  let best: { row: FeatureRow; i: number } | undefined;
  rows.forEach((row, i) => {
    if (keys.some((k) => k === null) || row.keys.some((k, j) => k !== keys[j])) return;
    if (row.ts > t) return;
    if (ttl > 0 && row.ts < t - ttl) return;
    if (!best) return void (best = { row, i });
    const b = best.row;
    const c = (x: number | null) => (x === null ? -Infinity : x);
    if (row.ts > b.ts || (row.ts === b.ts && (c(row.created) > c(b.created) || (c(row.created) === c(b.created) && i > best.i)))) best = { row, i };
  });
  return best?.row;
}

function featureFrame(view: FeatureView, rows: FeatureRow[], types: Record<string, DataType>): pl.DataFrame {
  const data: Record<string, pl.Series> = {};
  view.entities.forEach((k, j) => {
    const vals = rows.map((r) => r.keys[j] ?? null);
    data[k] = typeof vals.find((v) => v !== null) === 'number' ? pl.Series(k, vals as (number | null)[], pl.Int64) : pl.Series(k, vals as (string | null)[], pl.Utf8);
  });
  data.event_ts = pl.Series('event_ts', rows.map((r) => new Date(r.ts)), pl.Datetime('ms'));
  data.created_ts = pl.Series('created_ts', rows.map((r) => (r.created === null ? null : new Date(r.created))), pl.Datetime('ms'));
  for (const f of view.features) data[f.name] = pl.Series(f.name, rows.map((r) => r.values[f.name] ?? null), types[f.name]!);
  return pl.DataFrame(data);
}

const viewA = featureView({
  name: 'user_stats',
  version: 1,
  entities: ['user'],
  timestamp: 'ts',
  ttl: '5d',
  features: [col('x').as('spend', 'float64'), col('y').as('visits', 'int64')],
});
const viewB = featureView({
  name: 'user_device',
  version: 1,
  entities: ['user', 'device'],
  timestamp: 'ts',
  ttl: '36h',
  features: [col('s').as('last_os', 'string'), col('z').as('battery', 'float64')],
});
const viewC = featureView({ name: 'user_profile', version: 1, entities: ['user'], timestamp: 'ts', ttl: '0s', features: [col('a').as('age', 'int64')] });

function randomRows(rnd: () => number, n: number, mk: () => FeatureRow['keys'], values: () => Record<string, unknown>): FeatureRow[] {
  const rows: FeatureRow[] = [];
  for (let i = 0; i < n; i++) {
    // A grid of whole days and half days: event times repeat (ties) and sit exactly at t - ttl.
    const ts = T0 + Math.floor(rnd() * 60) * DAY + (rnd() < 0.3 ? DAY / 2 : 0);
    const r = rnd();
    const created = r < 0.1 ? null : T0 + 100 * DAY + Math.floor(rnd() * 4) * 1000; // few values: created ties too
    rows.push({ keys: mk(), ts, created, values: values() });
  }
  return rows;
}

describe('point-in-time join', () => {
  test('matches a brute-force reference on random data (ties, TTL edges, missing entities, three views, composite keys)', () => {
    const rnd = mulberry32(20240601);
    const users = (n: number) => `u${Math.floor(rnd() * n)}`;
    const rowsA = randomRows(rnd, 3000, () => [users(20)], () => ({ spend: rnd() < 0.05 ? null : Math.round(rnd() * 1e4) / 100, visits: Math.floor(rnd() * 50) }));
    const rowsB = randomRows(rnd, 2000, () => [users(20), Math.floor(rnd() * 3)], () => ({ last_os: rnd() < 0.5 ? 'ios' : 'android', battery: rnd() }));
    const rowsC = randomRows(rnd, 300, () => [users(15)], () => ({ age: 18 + Math.floor(rnd() * 60) }));
    const sources: PitFeatureSource[] = [
      { view: viewA, frame: featureFrame(viewA, rowsA, { spend: pl.Float64, visits: pl.Int64 }) },
      { view: viewB, frame: featureFrame(viewB, rowsB, { last_os: pl.Utf8, battery: pl.Float64 }) },
      { view: viewC, frame: featureFrame(viewC, rowsC, { age: pl.Int64 }) },
    ];

    // Entity rows: users u0..u24 (u20..u24 have no features), a few null keys, times on the same grid.
    const n = 4000;
    const ent = Array.from({ length: n }, (_, i) => ({
      user: rnd() < 0.02 ? null : users(25),
      device: Math.floor(rnd() * 4), // device 3 never appears in view B
      ts: T0 + Math.floor(rnd() * 70) * DAY + (rnd() < 0.3 ? DAY / 2 : 0) + (rnd() < 0.05 ? 1 : 0),
      label: i % 2,
    }));
    const entities = pl.DataFrame({
      user: pl.Series('user', ent.map((e) => e.user), pl.Utf8),
      device: pl.Series('device', ent.map((e) => e.device), pl.Int32),
      event_timestamp: pl.Series('event_timestamp', ent.map((e) => new Date(e.ts)), pl.Datetime('us')),
      label: pl.Series('label', ent.map((e) => e.label), pl.Int64),
    });

    const out = pointInTimeJoin(entities, sources, { timestamp: 'event_timestamp' });
    assert.deepEqual(out.columns, ['user', 'device', 'event_timestamp', 'label', 'spend', 'visits', 'last_os', 'battery', 'age']);
    assert.equal(out.height, n);
    const got = out.toRecords() as Record<string, unknown>[];

    let matched = 0;
    let edges = 0;
    const viewsWithRows: [FeatureView, FeatureRow[]][] = [
      [viewA, rowsA],
      [viewB, rowsB],
      [viewC, rowsC],
    ];
    ent.forEach((e, i) => {
      const row = got[i]!;
      assert.equal(row.user, e.user, `row ${i} keeps its order`);
      assert.equal(row.label, e.label);
      for (const [view, rows] of viewsWithRows) {
        const keys = view.entities.map((k) => (k === 'user' ? e.user : e.device));
        const ttl = durationMs(view.ttl);
        const want = bruteForce(keys, e.ts, rows, ttl);
        if (want) matched++;
        if (want && ttl > 0 && want.ts === e.ts - ttl) edges++;
        for (const f of view.features) {
          assert.deepEqual(row[f.name] ?? null, want ? (want.values[f.name] ?? null) : null, `row ${i} (${JSON.stringify(e)}) view ${view.name} feature ${f.name}`);
        }
      }
    });
    // The data exercised what it was meant to.
    assert.ok(matched > 3000, `matched ${matched}`);
    assert.ok(edges > 20, `rows matched exactly at t - ttl: ${edges}`);
  });

  test('TTL bounds are inclusive, measured from the entity time', () => {
    const view = featureView({ name: 'v', version: 1, entities: ['k'], timestamp: 'ts', ttl: '1d', features: [col('f').as('f', 'int64')] });
    const t = T0 + 10 * DAY;
    const frame = pl.DataFrame({
      k: ['a', 'b', 'c'],
      event_ts: pl.Series('event_ts', [new Date(t - DAY), new Date(t - DAY - 1), new Date(t + 1)], pl.Datetime('ms')),
      created_ts: pl.Series('created_ts', [null, null, null], pl.Datetime('ms')),
      f: pl.Series('f', [1, 2, 3], pl.Int64),
    });
    const entities = pl.DataFrame({ k: ['a', 'b', 'c', 'c'], event_timestamp: pl.Series('t', [new Date(t), new Date(t), new Date(t), new Date(t + 1)], pl.Datetime('ms')) });
    const out = pointInTimeJoin(entities, [{ view, frame }], { timestamp: 'event_timestamp' });
    // a: exactly t - ttl, kept; b: 1 ms older, dropped; c: 1 ms in the future, then exactly at t.
    assert.deepEqual(out.getColumn('f').toArray(), [1, null, null, 3]);
  });

  test('ties on event_ts go to the largest created_ts, null created counts as oldest', () => {
    const view = featureView({ name: 'v', version: 1, entities: ['k'], timestamp: 'ts', ttl: '0s', features: [col('f').as('f', 'int64')] });
    const d = (ms: number | null) => (ms === null ? null : new Date(T0 + ms));
    const frame = pl.DataFrame({
      k: ['a', 'a', 'a', 'b', 'b', 'c', 'c'],
      event_ts: pl.Series('e', [d(100), d(100), d(50), d(100), d(100), d(100), d(100)], pl.Datetime('ms')),
      created_ts: pl.Series('c', [d(7), d(9), d(99), d(null), d(1), d(5), d(5)], pl.Datetime('ms')),
      f: pl.Series('f', [1, 2, 3, 4, 5, 6, 7], pl.Int64),
    });
    const entities = pl.DataFrame({ k: ['a', 'b', 'c', 'a'], ts: pl.Series('ts', [d(100), d(100), d(100), d(99)], pl.Datetime('ms')) });
    const out = pointInTimeJoin(entities, [{ view, frame }], { timestamp: 'ts' });
    // c: a full tie goes to the later row.
    assert.deepEqual(out.getColumn('f').toArray(), [2, 5, 7, 3]);
  });

  test('Date entity times, integer keys of another width, fullFeatureNames, and refusals', () => {
    const view = featureView({ name: 'acct', version: 1, entities: ['id'], timestamp: 'ts', ttl: '2d', features: [col('f').as('score', 'float64')] });
    const frame = pl.DataFrame({
      id: pl.Series('id', [1, 2], pl.Int64),
      event_ts: pl.Series('e', [new Date(T0), new Date(T0)], pl.Datetime('ms')),
      created_ts: pl.Series('c', [null, null], pl.Datetime('ms')),
      score: [0.5, 0.7],
    });
    const entities = pl.DataFrame({ id: pl.Series('id', [2, 1, 3], pl.Int16), day: pl.Series('day', [new Date(T0 + DAY), new Date(T0 + 2 * DAY), new Date(T0)], pl.Date), score: [1, 2, 3] });
    assert.throws(() => pointInTimeJoin(entities, [{ view, frame }], { timestamp: 'day' }), /"score".*exists already; set fullFeatureNames/);
    const out = pointInTimeJoin(entities, [{ view, frame }], { timestamp: 'day', fullFeatureNames: true });
    assert.deepEqual(out.columns, ['id', 'day', 'score', 'acct__score']);
    assert.deepEqual(out.getColumn('acct__score').toArray(), [0.7, 0.5, null]);
    assert.equal(String(out.getColumn('id').dtype), String(pl.Int16), 'entity columns keep their types');

    const strKeys = pl.DataFrame({ id: ['1'], day: pl.Series('day', [new Date(T0)], pl.Date) });
    assert.throws(() => pointInTimeJoin(strKeys, [{ view, frame }], { timestamp: 'day', fullFeatureNames: true }), /key "id" is .* in the entity rows but .* in view acct/);
    assert.throws(() => pointInTimeJoin(entities, [{ view, frame }], { timestamp: 'nope', fullFeatureNames: true }), /no timestamp column "nope"/);
    const nullTimes = pl.DataFrame({ id: [1], day: pl.Series('day', [null], pl.Date) });
    assert.throws(() => pointInTimeJoin(nullTimes, [{ view, frame }], { timestamp: 'day' }), /has nulls/);
  });
});

/** Times in `unit` since the epoch, from whole microseconds (exact as numbers) plus a few units. */
function timesIn(unit: 'us' | 'ns', us: number[], extra: number[] = us.map(() => 0)): pl.Series {
  const base = pl.Series('t', us, pl.Int64).cast(pl.Datetime('us')).cast(pl.Datetime(unit)).cast(pl.Int64);
  return pl
    .DataFrame({ t: base, x: pl.Series('x', extra, pl.Int64) })
    .select(pl.col('t').add(pl.col('x')).cast(pl.Datetime(unit)).alias('t'))
    .getColumn('t');
}

describe('point-in-time join below the millisecond', () => {
  const US = T0 * 1000; // T0 in microseconds
  const view = featureView({ name: 'tick', version: 1, entities: ['id'], timestamp: 'ts', ttl: '1s', features: [col('v').as('price', 'float64')] });
  const featureRows = (unit: 'us' | 'ns', us: number[], extra?: number[]) =>
    pl.DataFrame({
      id: pl.Series('id', us.map(() => 1), pl.Int64),
      event_ts: timesIn(unit, us, extra),
      created_ts: pl.Series('c', us.map(() => null), pl.Datetime('ms')),
      price: us.map((_, i) => i + 1),
    });

  test('an event microseconds after the entity time is not joined; one at or before it is', () => {
    // Events at T0 + 100 µs, + 500 µs (price 1, 2); entities at + 499, + 500, + 501 and + 999 µs, all in one millisecond.
    const frame = featureRows('us', [US + 100, US + 500]);
    const entities = pl.DataFrame({ id: pl.Series('id', [1, 1, 1, 1], pl.Int64), t: timesIn('us', [US + 499, US + 500, US + 501, US + 999]) });
    const out = pointInTimeJoin(entities, [{ view, frame }], { timestamp: 't' });
    assert.deepEqual(out.getColumn('price').toArray(), [1, 2, 2, 2]);
    // A millisecond entity time (T0) and microsecond events: the event 100 µs later is in the future.
    const msEntities = pl.DataFrame({ id: pl.Series('id', [1], pl.Int64), t: pl.Series('t', [new Date(T0)], pl.Datetime('ms')) });
    assert.deepEqual(pointInTimeJoin(msEntities, [{ view, frame }], { timestamp: 't' }).getColumn('price').toArray(), [null]);
  });

  test('nanosecond events against microsecond entity times, and the TTL edge to the nanosecond', () => {
    // Events at T0 + 200 µs + 1 ns (price 1) and T0 + 100 µs (price 2).
    const frame = featureRows('ns', [US + 200, US + 100], [1, 0]);
    const entities = pl.DataFrame({ id: pl.Series('id', [1, 1], pl.Int64), t: timesIn('us', [US + 200, US + 201]) });
    // At +200 µs the event 1 ns later is not visible: the one at +100 µs is; at +201 µs the later one is.
    assert.deepEqual(pointInTimeJoin(entities, [{ view, frame }], { timestamp: 't' }).getColumn('price').toArray(), [2, 1]);
    // TTL 1 s, inclusive: an entity exactly 1 s after the only event (+100 µs) sees it; one 1 ns later does not.
    const one = featureRows('ns', [US + 100]);
    const edge = pl.DataFrame({ id: pl.Series('id', [1, 1], pl.Int64), t: timesIn('ns', [US + 100 + 1_000_000, US + 100 + 1_000_000], [0, 1]) });
    assert.deepEqual(pointInTimeJoin(edge, [{ view, frame: one }], { timestamp: 't' }).getColumn('price').toArray(), [1, null]);
  });

  test('materialization keeps the source unit, so the join after it still sees microseconds', () => {
    const source = pl.DataFrame({ id: pl.Series('id', [1, 1], pl.Int64), ts: timesIn('us', [US + 100, US + 500]), v: [1.5, 2.5] });
    const applied = applyFeatureView(source, view);
    assert.equal(String(applied.frame.getColumn('event_ts').dtype), String(pl.Datetime('us')));
    assert.deepEqual(applied.frame.getColumn('event_ts').cast(pl.Int64).toArray(), [US + 100, US + 500]);
    const entities = pl.DataFrame({ id: pl.Series('id', [1], pl.Int64), t: timesIn('us', [US + 499]) });
    assert.deepEqual(pointInTimeJoin(entities, [{ view, frame: applied.frame }], { timestamp: 't' }).getColumn('price').toArray(), [1.5]);
  });

  test('a float entity key is refused, naming the column and what keys must be', () => {
    const frame = featureRows('us', [US]);
    const floats = pl.DataFrame({ id: pl.Series('id', [1.0], pl.Float64), t: timesIn('us', [US]) });
    assert.throws(() => pointInTimeJoin(floats, [{ view, frame }], { timestamp: 't' }), /entity key "id" is Float64 in the entity rows; keys must be strings or integers/);
  });
});
