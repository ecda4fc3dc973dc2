import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pl from 'nodejs-polars';
import { strToTimestampUtc } from '../activities/ingestion/polars';
import { profileFrame } from '../activities/ingestion/profile';
import { datasetProfile, type ColumnProfile, type DatasetProfile } from '../pipelines/steps/profile';

/**
 * The profile's statistics against values computed by hand on small frames. Conventions (see
 * pipelines/steps/profile.ts): std is the sample standard deviation (ddof = 1); quantiles use
 * linear interpolation at q·(n-1); 20 equal-width bins as numpy.histogram; NaN and ±Infinity are
 * counted apart and left out of numeric statistics.
 */

const close = (actual: number | null | undefined, expected: number, what: string) =>
  assert.ok(actual !== null && actual !== undefined && Math.abs(actual - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ${actual} != ${expected}`);
const col = (p: DatasetProfile, name: string): ColumnProfile => p.columns.find((c) => c.name === name)!;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

describe('profile', () => {
  test('int64: counts, mean, sample std, linear quantiles, histogram', async () => {
    const p = await profileFrame(pl.DataFrame([pl.Series('x', [1, 2, 3, 4, null], pl.Int64)]));
    assert.equal(p.rows, 5);
    const x = col(p, 'x');
    assert.deepEqual({ type: x.type, count: x.count, nulls: x.nulls, nullFraction: x.nullFraction, distinct: x.distinct }, { type: 'int64', count: 4, nulls: 1, nullFraction: 0.2, distinct: 4 });
    const n = x.numeric!;
    assert.deepEqual([n.min, n.max, n.minExact, n.maxExact], [1, 4, '1', '4']);
    close(n.mean, 2.5, 'mean');
    close(n.std, Math.sqrt(5 / 3), 'std (ddof = 1)'); // squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, over n - 1 = 3
    // Positions q·(n-1) = q·3 between the sorted values 1, 2, 3, 4.
    const expected = { p0: 1, p5: 1.15, p25: 1.75, p50: 2.5, p75: 3.25, p95: 3.85, p100: 4 };
    for (const [q, v] of Object.entries(expected)) close(n.quantiles[q as keyof typeof expected], v, q);
    // Bins of width 0.15 from 1 to 4: 1 -> bin 0, 2 -> bin 6, 3 -> bin 13, 4 -> the last bin (closed).
    assert.equal(n.histogram.edges.length, 21);
    assert.deepEqual([n.histogram.edges[0], n.histogram.edges[20]], [1, 4]);
    const counts = new Array(20).fill(0);
    counts[0] = counts[6] = counts[13] = counts[19] = 1;
    assert.deepEqual(n.histogram.counts, counts);
    assert.equal(sum(n.histogram.counts), x.count);
  });

  test('float64: NaN and ±Infinity counted apart, statistics over finite values', async () => {
    const df = pl.DataFrame({ num: [1, 0, 1, 3, null, -1], den: [1, 0, 0, 1, 1, 0] }).select(pl.col('num').cast(pl.Float64).div(pl.col('den').cast(pl.Float64)).alias('f'));
    const f = col(await profileFrame(df), 'f'); // 1, NaN, +Inf, 3, null, -Inf
    assert.deepEqual({ type: f.type, count: f.count, nulls: f.nulls, nonFinite: f.nonFinite }, { type: 'float64', count: 5, nulls: 1, nonFinite: 3 });
    const n = f.numeric!;
    assert.deepEqual([n.min, n.max, n.mean], [1, 3, 2]);
    close(n.std, Math.SQRT2, 'std');
    close(n.quantiles.p50, 2, 'median');
    close(n.quantiles.p25, 1.5, 'p25');
    assert.equal(n.minExact, undefined);
    assert.equal(n.histogram.counts[0], 1);
    assert.equal(n.histogram.counts[19], 1);
    assert.equal(sum(n.histogram.counts), f.count - f.nonFinite!, 'histogram counts add up to the finite values');
  });

  test('a constant column: the histogram spans min - 0.5 .. max + 0.5 (numpy), std 0', async () => {
    const n = col(await profileFrame(pl.DataFrame([pl.Series('c', [5, 5, 5], pl.Int64)])), 'c').numeric!;
    assert.deepEqual([n.histogram.edges[0], n.histogram.edges[20]], [4.5, 5.5]);
    assert.equal(n.histogram.counts[10], 3);
    assert.equal(sum(n.histogram.counts), 3);
    assert.equal(n.std, 0);
    assert.deepEqual(Object.values(n.quantiles), [5, 5, 5, 5, 5, 5, 5]);
  });

  test('a single value has no sample std; an all-null column has no numeric statistics', async () => {
    const p = await profileFrame(pl.DataFrame([pl.Series('one', [7, null], pl.Float64), pl.Series('none', [null, null], pl.Float64)]));
    assert.equal(col(p, 'one').numeric!.std, null);
    assert.equal(col(p, 'none').numeric, undefined);
    assert.deepEqual([col(p, 'none').count, col(p, 'none').nulls, col(p, 'none').nullFraction], [0, 2, 1]);
  });

  test('int64 beyond 2^53: exact extremes as text', async () => {
    const s = pl.Series('big', ['9007199254740993', '-9223372036854775808', '9223372036854775807']).cast(pl.Int64);
    const n = col(await profileFrame(pl.DataFrame([s])), 'big').numeric!;
    assert.equal(n.minExact, '-9223372036854775808');
    assert.equal(n.maxExact, '9223372036854775807');
  });

  test('strings: top categories by count, ties by value; distinct and nulls', async () => {
    const c = col(await profileFrame(pl.DataFrame([pl.Series('s', ['b', 'a', 'b', 'c', 'a', 'b', null, 'd', 'd'])])), 's');
    assert.deepEqual({ type: c.type, count: c.count, nulls: c.nulls, distinct: c.distinct }, { type: 'string', count: 8, nulls: 1, distinct: 4 });
    assert.deepEqual(c.top, [
      { value: 'b', count: 3 },
      { value: 'a', count: 2 },
      { value: 'd', count: 2 },
      { value: 'c', count: 1 },
    ]);
    assert.equal(c.numeric, undefined);
    const many = col(await profileFrame(pl.DataFrame([pl.Series('m', Array.from({ length: 30 }, (_, i) => `v${i % 15}`))])), 'm');
    assert.equal(many.top!.length, 10);
    assert.equal(many.distinct, 15);
  });

  test('booleans and categories report their top values', async () => {
    const p = await profileFrame(pl.DataFrame([pl.Series('b', [true, false, true, null], pl.Bool), pl.Series('k', ['x', 'y', 'x', 'x']).cast(pl.Categorical)]));
    assert.deepEqual(col(p, 'b').top, [
      { value: 'true', count: 2 },
      { value: 'false', count: 1 },
    ]);
    assert.deepEqual(col(p, 'k').type, 'category');
    assert.deepEqual(col(p, 'k').top, [
      { value: 'x', count: 3 },
      { value: 'y', count: 1 },
    ]);
  });

  test('dates and timestamps: min and max as ISO strings (timestamps in UTC, microseconds)', async () => {
    const df = pl
      .DataFrame({ d: ['2024-03-01', '2023-12-31', null], t: ['2024-03-01T12:34:56.789012+02:00', '2023-12-31T23:59:59Z', null] })
      .select(pl.col('d').str.strptime(pl.Date, '%Y-%m-%d'), strToTimestampUtc(pl.col('t'), '%Y-%m-%dT%H:%M:%S%.f%#z').alias('t'));
    const p = await profileFrame(df);
    assert.deepEqual(col(p, 'd').temporal, { min: '2023-12-31', max: '2024-03-01' });
    assert.deepEqual(col(p, 't').temporal, { min: '2023-12-31T23:59:59.000000Z', max: '2024-03-01T10:34:56.789012Z' });
    assert.deepEqual([col(p, 't').count, col(p, 't').nulls, col(p, 't').distinct], [2, 1, 2]);
  });

  test('an empty frame', async () => {
    const p = await profileFrame(pl.DataFrame([pl.Series('x', [], pl.Int64), pl.Series('s', [], pl.Utf8)]));
    assert.equal(p.rows, 0);
    assert.deepEqual(col(p, 'x'), { name: 'x', type: 'int64', count: 0, nulls: 0, nullFraction: 0, distinct: 0 });
    assert.deepEqual(col(p, 's').top, []);
  });

  test('profiling slice by slice gives the same profile as one pass', async () => {
    // A deterministic pseudo-random frame: skewed ints, floats with repeats, strings.
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const n = 2000;
    const df = pl.DataFrame([
      pl.Series('i', Array.from({ length: n }, () => (rnd() < 0.05 ? null : Math.floor(rnd() ** 3 * 1000))), pl.Int64),
      pl.Series('f', Array.from({ length: n }, () => Math.round(rnd() * 100) / 4 - 10), pl.Float64),
      pl.Series('s', Array.from({ length: n }, () => `k${Math.floor(rnd() ** 2 * 40)}`), pl.Utf8),
    ]);
    const whole = await profileFrame(df);
    const sliced = await profileFrame(df.lazy(), { sliceRows: 137 });
    datasetProfile.parse(sliced);
    for (const name of ['i', 'f', 's']) {
      const a = col(whole, name);
      const b = col(sliced, name);
      assert.deepEqual({ ...b, numeric: undefined }, { ...a, numeric: undefined }, name);
      if (a.numeric) {
        assert.deepEqual(b.numeric!.quantiles, a.numeric.quantiles, `${name} quantiles`);
        assert.deepEqual(b.numeric!.histogram, a.numeric.histogram, `${name} histogram`);
        assert.deepEqual([b.numeric!.min, b.numeric!.max], [a.numeric.min, a.numeric.max]);
        close(b.numeric!.mean, a.numeric.mean, `${name} mean`);
        close(b.numeric!.std, a.numeric.std!, `${name} std`);
      }
    }
    // And both agree with polars' own whole-column statistics.
    const ref = df.select(
      pl.col('i').mean().alias('mean'),
      pl.col('i').std().alias('std'),
      pl.col('i').quantile(0.95, 'linear').alias('p95'),
      pl.col('f').quantile(0.05, 'linear').alias('fp5'),
      pl.col('f').median().alias('fp50'),
    ).toRecords()[0] as Record<string, number>;
    close(col(sliced, 'i').numeric!.mean, ref.mean!, 'mean vs polars');
    close(col(sliced, 'i').numeric!.std, ref.std!, 'std vs polars');
    close(col(sliced, 'i').numeric!.quantiles.p95, ref.p95!, 'p95 vs polars');
    close(col(sliced, 'f').numeric!.quantiles.p5, ref.fp5!, 'float p5 vs polars');
    close(col(sliced, 'f').numeric!.quantiles.p50, ref.fp50!, 'float median vs polars');
  });
});
