import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { alignCategoryCounts, binNumeric, distinctCount, histogram, linspace, searchSorted, shares, sturgesEdges, valueCounts } from '../activities/drift/stats/binning';
import { chi2Sf, chisquare, gammainc, gammaincc, lgamma } from '../activities/drift/stats/chisquare';
import { cleanSorted } from '../activities/drift/stats/clean';
import { jensenShannon } from '../activities/drift/stats/jensen-shannon';
import { kstwoSf, smirnovSf } from '../activities/drift/stats/kolmogorov';
import { ks2samp, ksStatistic, roundHalfEven } from '../activities/drift/stats/ks';
import { fillZeroes, psi, psiFromShares } from '../activities/drift/stats/psi';
import { normCdf, normSf, twoProportionZTest } from '../activities/drift/stats/ztest';
import { normedWasserstein, std, wassersteinDistance } from '../activities/drift/stats/wasserstein';
import { columnDrift, defaultStatTest, type ColumnSample, type StatTestName } from '../activities/drift/column-drift';

/**
 * The drift statistics against scipy/numpy (test/fixtures/drift/reference.json, written by
 * make_reference.py): KS p-values to 1e-6 in both regimes, chi-square / PSI / Jensen–Shannon to
 * 1e-9, plus the edge cases the step meets (constant, empty, single values, unseen categories).
 */

const here = path.dirname(fileURLToPath(import.meta.url));
const ref = JSON.parse(fs.readFileSync(path.join(here, 'fixtures/drift/reference.json'), 'utf8')) as Reference;

type Num = number | 'nan' | 'inf' | '-inf';
type Spec = { values: (number | string | Num)[] } | { seed: number; n: number; dist: string; scale?: number; shift?: number; k?: number };
interface Reference {
  generator: Record<string, string>;
  ks: { name: string; a: Spec; b: Spec; statistic: Num; pValue: Num; method: string }[];
  kstwo: { n: number; d: number; sf: Num }[];
  smirnov: { n: number; d: number; sf: Num }[];
  chi2sf: { x: number; df: number; sf: Num }[];
  chisquare: { observed: number[]; expected: number[]; statistic: Num; pValue: Num }[];
  normsf: { z: number; sf: Num; cdf: Num }[];
  ztest: { k1: number; n1: number; k2: number; n2: number; statistic: Num; pValue: Num }[];
  wasserstein: { a: Spec; b: Spec; distance: Num; stdRef: Num; normed: Num }[];
  jensenshannon: { p: number[]; q: number[]; value: Num }[];
  psi: { reference: number[]; current: number[]; filledReference: Num[]; filledCurrent: Num[]; value: Num }[];
  columns: {
    name: string;
    kind: 'num' | 'cat';
    a: Spec;
    b: Spec;
    test: StatTestName;
    threshold: number;
    statistic: Num;
    pValue?: Num;
    drift: boolean;
    all: Record<string, { statistic: Num; pValue?: Num; drift: boolean }>;
    bins: { edges?: Num[]; keys?: (Num | string)[]; reference: Num[]; current: Num[] };
  }[];
}

const num = (x: Num | string): number => (x === 'nan' ? NaN : x === 'inf' ? Infinity : x === '-inf' ? -Infinity : Number(x));

/** mulberry32, as in make_reference.py. */
function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mirror of generate() in make_reference.py: only exact IEEE arithmetic, so both sides agree bit for bit. */
function generate(spec: Spec): (number | string)[] {
  if ('values' in spec) return spec.values.map((v) => (typeof v === 'string' && !['nan', 'inf', '-inf'].includes(v) ? v : num(v as Num)));
  const rnd = mulberry32(spec.seed);
  const scale = spec.scale ?? 1;
  const shift = spec.shift ?? 0;
  const k = spec.k ?? 10;
  const out: (number | string)[] = [];
  for (let i = 0; i < spec.n; i++) {
    switch (spec.dist) {
      case 'irwin': {
        let x = rnd() + rnd();
        x = x + rnd();
        x = x + rnd();
        out.push((x - 2) * scale + shift);
        break;
      }
      case 'grid': {
        let x = rnd() + rnd();
        x = x + rnd();
        x = x + rnd();
        out.push((Math.floor((x - 2) * 8) / 8) * scale + shift);
        break;
      }
      case 'skew': {
        const u = rnd();
        const v = rnd();
        out.push(u * v * scale + shift);
        break;
      }
      case 'const':
        out.push(shift);
        break;
      case 'int':
        out.push(Math.floor(rnd() * k) + shift);
        break;
      case 'cat': {
        const u = rnd();
        const idx = shift === 0 ? Math.floor(u * u * k) : Math.min(k - 1, Math.floor(u * k + shift));
        out.push(`c${idx}`);
        break;
      }
      default:
        throw new Error(spec.dist);
    }
  }
  return out;
}

const numeric = (spec: Spec) => cleanSorted(generate(spec) as number[]);

function counts(values: (number | string)[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const v of values) m.set(String(v), (m.get(String(v)) ?? 0) + 1);
  return m;
}

/** Absolute and relative error, NaN/inf aware (equal non-finite values count as 0 error). */
function errors(actual: number, expected: number): { abs: number; rel: number } {
  if (Object.is(actual, expected) || (Number.isNaN(actual) && Number.isNaN(expected)) || actual === expected) return { abs: 0, rel: 0 };
  const abs = Math.abs(actual - expected);
  return { abs, rel: expected === 0 ? abs : abs / Math.abs(expected) };
}

class MaxError {
  abs = 0;
  rel = 0;
  where = '';
  add(actual: number, expected: number, where: string): { abs: number; rel: number } {
    const e = errors(actual, expected);
    if (e.abs > this.abs) {
      this.abs = e.abs;
      this.where = where;
    }
    if (e.rel > this.rel) this.rel = e.rel;
    return e;
  }
  toString(): string {
    return `max abs error ${this.abs.toExponential(2)} (${this.where}), max rel error ${this.rel.toExponential(2)}`;
  }
}

describe('reference values', () => {
  test('written by scipy/numpy', () => {
    assert.ok(ref.generator.scipy, 'generator versions recorded');
    assert.ok(ref.ks.length >= 30 && ref.kstwo.length > 500 && ref.columns.length >= 10);
  });
});

describe('Kolmogorov–Smirnov (scipy.stats.ks_2samp, method=auto)', () => {
  test('p-values to 1e-6 in the exact and the asymptotic regime; statistic to 1e-12', (t) => {
    const pErr = { exact: new MaxError(), asymp: new MaxError() };
    const dErr = new MaxError();
    for (const c of ref.ks) {
      const a = numeric(c.a);
      const b = numeric(c.b);
      const r = ks2samp(a, b);
      assert.equal(r.method, c.method, `${c.name}: method`);
      const e = pErr[r.method].add(r.pValue, num(c.pValue), c.name);
      assert.ok(e.abs <= 1e-6, `${c.name}: p ${r.pValue} vs scipy ${c.pValue}`);
      assert.ok(dErr.add(r.statistic, num(c.statistic), c.name).abs <= 1e-12, `${c.name}: D ${r.statistic} vs ${c.statistic}`);
    }
    t.diagnostic(`KS exact p: ${pErr.exact}`);
    t.diagnostic(`KS asymp p: ${pErr.asymp}`);
    t.diagnostic(`KS statistic: ${dErr}`);
  });

  test('kstwo.sf(d, n) over every branch of scipy _kolmogn, to 1e-6 (and 1e-9 relative where sf > 1e-250)', (t) => {
    const err = new MaxError();
    let relMax = 0;
    for (const c of ref.kstwo) {
      const sf = kstwoSf(c.d, c.n);
      const e = err.add(sf, num(c.sf), `n=${c.n} d=${c.d}`);
      assert.ok(e.abs <= 1e-6, `kstwo.sf(${c.d}, ${c.n}) = ${sf}, scipy ${c.sf}`);
      if (num(c.sf) > 1e-250) relMax = Math.max(relMax, e.rel);
    }
    t.diagnostic(`kstwo.sf: ${err}; max rel (sf > 1e-250) ${relMax.toExponential(2)}`);
    assert.ok(relMax <= 1e-9, `relative error ${relMax}`);
  });

  test('smirnov(n, d) (one-sided), to 1e-9 relative', (t) => {
    const err = new MaxError();
    for (const c of ref.smirnov) {
      const sf = smirnovSf(c.n, c.d);
      const e = err.add(sf, num(c.sf), `n=${c.n} d=${c.d}`);
      assert.ok(e.abs <= 1e-9 && (num(c.sf) < 1e-250 || e.rel <= 1e-9), `smirnov(${c.n}, ${c.d}) = ${sf}, scipy ${c.sf}`);
    }
    t.diagnostic(`smirnov: ${err}`);
  });

  test('edge cases: identical samples, one value each, ties, round-half-even n', () => {
    const same = ks2samp(Float64Array.of(1, 2, 3), Float64Array.of(1, 2, 3));
    assert.deepEqual(same, { statistic: 0, pValue: 1, method: 'exact' });
    const one = ks2samp(Float64Array.of(1), Float64Array.of(2));
    assert.equal(one.statistic, 1);
    assert.equal(one.pValue, 1, 'with one value each, nothing is significant');
    const constant = ks2samp(new Float64Array(50).fill(4), new Float64Array(30).fill(4));
    assert.equal(constant.pValue, 1);
    assert.equal(ksStatistic(Float64Array.of(1, 1, 2), Float64Array.of(1, 2, 2)), 1 / 3);
    assert.equal(roundHalfEven(5000.5), 5000);
    assert.equal(roundHalfEven(5001.5), 5002);
    assert.equal(roundHalfEven(2.4999), 2);
    assert.throws(() => ks2samp(new Float64Array(0), Float64Array.of(1)), RangeError);
    assert.equal(kstwoSf(0, 10), 1);
    assert.equal(kstwoSf(1, 10), 0);
    assert.equal(kstwoSf(0.04, 10), 1, 'below 1/(2n) D cannot be smaller');
  });
});

describe('chi-square (scipy.stats.chisquare, chi2.sf)', () => {
  test('chi2.sf to 1e-9 (absolute, and relative where sf > 1e-250)', (t) => {
    const err = new MaxError();
    let relMax = 0;
    for (const c of ref.chi2sf) {
      const sf = chi2Sf(c.x, c.df);
      const e = err.add(sf, num(c.sf), `x=${c.x} df=${c.df}`);
      assert.ok(e.abs <= 1e-9, `chi2.sf(${c.x}, ${c.df}) = ${sf}, scipy ${c.sf}`);
      if (num(c.sf) > 1e-250) relMax = Math.max(relMax, e.rel);
    }
    t.diagnostic(`chi2.sf: ${err}; max rel (sf > 1e-250) ${relMax.toExponential(2)}`);
    assert.ok(relMax <= 1e-9, `relative error ${relMax}`);
  });

  test('chisquare(f_obs, f_exp) to 1e-9', (t) => {
    const err = new MaxError();
    for (const c of ref.chisquare) {
      const r = chisquare(c.observed, c.expected);
      assert.ok(err.add(r.statistic, num(c.statistic), 'stat').rel <= 1e-12);
      assert.ok(err.add(r.pValue, num(c.pValue), JSON.stringify(c.observed)).abs <= 1e-9);
    }
    t.diagnostic(`chisquare: ${err}`);
  });

  test('gamma helpers: lgamma, P + Q = 1, an unseen category makes the statistic infinite, one category p = 1', () => {
    assert.ok(Math.abs(lgamma(10) - Math.log(362880)) < 1e-13);
    assert.ok(Math.abs(lgamma(0.5) - 0.5 * Math.log(Math.PI)) < 1e-14);
    assert.ok(Math.abs(lgamma(200) - 857.9336698258574) < 1e-11);
    for (const [a, x] of [[0.5, 0.3], [3, 5], [50, 45], [1000, 1040]] as const) assert.ok(Math.abs(gammainc(a, x) + gammaincc(a, x) - 1) < 1e-14);
    const unseen = chisquare([5, 5, 2], [6, 6, 0]);
    assert.equal(unseen.statistic, Infinity);
    assert.equal(unseen.pValue, 0);
    assert.deepEqual(chisquare([7], [7]), { statistic: 0, pValue: 1, dof: 0 });
  });
});

describe('two-proportion z-test and the normal tail', () => {
  test('norm.sf / norm.cdf to 1e-12 relative', (t) => {
    const err = new MaxError();
    for (const c of ref.normsf) {
      assert.ok(err.add(normSf(c.z), num(c.sf), `sf(${c.z})`).rel <= 1e-12, `norm.sf(${c.z})`);
      assert.ok(err.add(normCdf(c.z), num(c.cdf), `cdf(${c.z})`).rel <= 1e-12, `norm.cdf(${c.z})`);
    }
    t.diagnostic(`normal: ${err}`);
  });

  test('z statistic and p-value to 1e-9', (t) => {
    const err = new MaxError();
    for (const c of ref.ztest) {
      const r = twoProportionZTest(c.k1, c.n1, c.k2, c.n2);
      assert.ok(err.add(r.statistic, num(c.statistic), 'z').rel <= 1e-12);
      assert.ok(err.add(r.pValue, num(c.pValue), `${c.k1}/${c.n1} vs ${c.k2}/${c.n2}`).abs <= 1e-9);
    }
    t.diagnostic(`z-test: ${err}`);
    assert.deepEqual(twoProportionZTest(0, 10, 0, 20), { statistic: 0, pValue: 1 }, 'pooled share 0: no difference');
  });
});

describe('Wasserstein (scipy.stats.wasserstein_distance), normed by numpy std', () => {
  test('distance, std (ddof 0) and normed value to 1e-12 relative', (t) => {
    const err = new MaxError();
    for (const c of ref.wasserstein) {
      const a = numeric(c.a);
      const b = numeric(c.b);
      assert.ok(err.add(wassersteinDistance(a, b), num(c.distance), 'W1').rel <= 1e-12);
      assert.ok(err.add(std(a), num(c.stdRef), 'std').rel <= 1e-12);
      assert.ok(err.add(normedWasserstein(a, b).statistic, num(c.normed), 'normed').rel <= 1e-12);
    }
    t.diagnostic(`wasserstein: ${err}`);
    const constant = normedWasserstein(new Float64Array(5).fill(2), Float64Array.of(2, 2.001));
    assert.equal(constant.norm, 0.001, 'a constant reference divides by 0.001');
  });
});

describe('Jensen–Shannon (natural log) and PSI', () => {
  test('jensenshannon to 1e-9', (t) => {
    const err = new MaxError();
    for (const c of ref.jensenshannon) assert.ok(err.add(jensenShannon(c.p, c.q), num(c.value), `k=${c.p.length}`).abs <= 1e-9);
    t.diagnostic(`jensenshannon: ${err}`);
    assert.ok(Math.abs(jensenShannon([1, 0], [0, 1]) - Math.sqrt(Math.LN2)) < 1e-15, 'disjoint supports reach √ln2');
  });

  test('PSI with Evidently’s per-side epsilon, to 1e-9', (t) => {
    const err = new MaxError();
    for (const c of ref.psi) {
      assert.deepEqual([...fillZeroes(c.reference)], c.filledReference.map(num));
      assert.deepEqual([...fillZeroes(c.current)], c.filledCurrent.map(num));
      assert.ok(err.add(psiFromShares(c.reference, c.current), num(c.value), JSON.stringify(c.reference)).abs <= 1e-9);
    }
    t.diagnostic(`psi: ${err}`);
    assert.equal(psi([0.5, 0.5], [0.5, 0.5]), 0);
  });
});

describe('binning (numpy histogram_bin_edges sturges / one bin per value)', () => {
  test('linspace, searchsorted and histogram semantics', () => {
    assert.deepEqual([...linspace(0, 1, 5)], [0, 0.25, 0.5, 0.75, 1]);
    const s = Float64Array.of(1, 2, 2, 3, 5);
    assert.equal(searchSorted(s, 2, 'left'), 1);
    assert.equal(searchSorted(s, 2, 'right'), 3);
    assert.deepEqual([...histogram(s, Float64Array.of(1, 2, 3, 5))], [1, 2, 2], 'half-open bins, the last one closed');
    assert.deepEqual([...sturgesEdges(3, 3, 4)], [2.5, 3.5], 'a zero range widens by 0.5 each side');
    assert.equal(distinctCount(s), 4);
    assert.deepEqual(valueCounts(s), { values: Float64Array.of(1, 2, 3, 5), counts: Float64Array.of(1, 2, 1, 1) });
    const cats = alignCategoryCounts(new Map([['b', 2], ['a', 1]]), new Map([['c', 4]]));
    assert.deepEqual(cats.keys, ['a', 'b', 'c']);
    assert.deepEqual([...cats.current], [0, 0, 4]);
  });

  test('bins and shares equal Evidently’s get_binned_data', () => {
    for (const c of ref.columns) {
      if (c.kind !== 'num') continue;
      const a = numeric(c.a);
      const b = numeric(c.b);
      const bins = binNumeric(a, b);
      if (c.bins.edges) {
        assert.equal(bins.kind, 'edges', c.name);
        if (bins.kind === 'edges') assert.deepEqual([...bins.edges], c.bins.edges.map(num), `${c.name}: edges`);
      } else {
        assert.equal(bins.kind, 'values', c.name);
        if (bins.kind === 'values') assert.deepEqual(bins.keys, c.bins.keys!.map((k) => num(k as Num)), `${c.name}: keys`);
      }
      assert.deepEqual([...shares(bins.reference, a.length)], c.bins.reference.map(num), `${c.name}: reference shares`);
      assert.deepEqual([...shares(bins.current, b.length)], c.bins.current.map(num), `${c.name}: current shares`);
    }
  });
});

describe('column drift (Evidently’s default test choice and verdicts)', () => {
  const sample = (kind: 'num' | 'cat', spec: Spec): { num?: Float64Array; cat?: Map<string, number> } =>
    kind === 'num' ? { num: numeric(spec) } : { cat: counts(generate(spec)) };
  const columnSample = (kind: 'num' | 'cat', a: Spec, b: Spec): ColumnSample => {
    const r = sample(kind, a);
    const c = sample(kind, b);
    return kind === 'num' ? { kind: 'numeric', reference: r.num!, current: c.num! } : { kind: 'categorical', reference: r.cat!, current: c.cat! };
  };

  test('default test, statistic / p-value and drift for each case; every other test when forced', (t) => {
    const err = new MaxError();
    for (const c of ref.columns) {
      const data = columnSample(c.kind, c.a, c.b);
      const r = columnDrift(data, {});
      assert.equal(r.test, c.test, `${c.name}: test`);
      assert.equal(r.threshold, c.threshold, `${c.name}: threshold`);
      assert.equal(r.drift, c.drift, `${c.name}: drift`);
      const tol = c.test === 'ks' ? 1e-6 : 1e-9;
      if (c.pValue !== undefined) assert.ok(err.add(r.pValue!, num(c.pValue), `${c.name}`).abs <= tol, `${c.name}: p ${r.pValue} vs ${c.pValue}`);
      else assert.ok(err.add(r.statistic ?? Infinity, num(c.statistic), `${c.name}`).abs <= 1e-9, `${c.name}: ${r.statistic} vs ${c.statistic}`);
      for (const [test, exp] of Object.entries(c.all)) {
        const forced = columnDrift(data, { stattest: test as StatTestName });
        assert.equal(forced.test, test);
        if (exp.pValue !== undefined) {
          if (Number.isNaN(num(exp.pValue))) {
            assert.equal(forced.pValue, 1, `${c.name}/${test}: one category, nothing to compare`);
            continue;
          }
          assert.ok(err.add(forced.pValue!, num(exp.pValue), `${c.name}/${test}`).abs <= (test === 'ks' ? 1e-6 : 1e-9), `${c.name}/${test}: p ${forced.pValue} vs ${exp.pValue}`);
        } else {
          assert.ok(err.add(forced.statistic!, num(exp.statistic), `${c.name}/${test}`).abs <= 1e-9, `${c.name}/${test}: ${forced.statistic} vs ${exp.statistic}`);
        }
        assert.equal(forced.drift, exp.drift, `${c.name}/${test}: drift`);
      }
    }
    t.diagnostic(`column drift: ${err}`);
  });

  test('the choice table of the notes', () => {
    assert.equal(defaultStatTest('numeric', 1000, 6), 'ks');
    assert.equal(defaultStatTest('numeric', 1001, 6), 'wasserstein');
    assert.equal(defaultStatTest('numeric', 1000, 5), 'chisquare');
    assert.equal(defaultStatTest('numeric', 1000, 2), 'z');
    assert.equal(defaultStatTest('numeric', 5000, 5), 'jensenshannon');
    assert.equal(defaultStatTest('categorical', 10, 3), 'chisquare');
    assert.equal(defaultStatTest('categorical', 10, 2), 'z');
    assert.equal(defaultStatTest('categorical', 10, 1), 'z');
    assert.equal(defaultStatTest('categorical', 1001, 2), 'jensenshannon');
    assert.equal(defaultStatTest('numeric', 50, 8, { sampleSizeCutoff: 20 }), 'wasserstein', 'the size cut-off is configurable');
  });

  test('configurable thresholds, per test and per column', () => {
    const data: ColumnSample = { kind: 'numeric', reference: numeric({ seed: 5, n: 300, dist: 'irwin' }), current: numeric({ seed: 6, n: 300, dist: 'irwin', shift: 0.125 }) };
    const base = columnDrift(data, {});
    assert.equal(base.test, 'ks');
    const strict = columnDrift(data, { thresholds: { ks: base.pValue! / 2 } });
    assert.equal(strict.threshold, base.pValue! / 2);
    assert.equal(strict.drift, false);
    const loose = columnDrift(data, { thresholds: { ks: base.pValue! } });
    assert.equal(loose.drift, true, 'KS drifts at p <= threshold');
    const w = columnDrift(data, { stattest: 'wasserstein', threshold: 10 });
    assert.equal(w.threshold, 10);
    assert.equal(w.drift, false);
  });

  test('edge cases: an empty side is not compared; ks on a categorical column is refused; unseen categories drift', () => {
    const empty = columnDrift({ kind: 'numeric', reference: Float64Array.of(1, 2, 3), current: new Float64Array(0) }, {});
    assert.equal(empty.test, null);
    assert.match(empty.skipped!, /current/);
    assert.equal(empty.drift, false);
    const allNull = columnDrift({ kind: 'categorical', reference: new Map(), current: new Map([['a', 3]]) }, {});
    assert.match(allNull.skipped!, /reference/);
    assert.throws(() => columnDrift({ kind: 'categorical', reference: new Map([['a', 1]]), current: new Map([['a', 1]]) }, { stattest: 'ks' }), /numeric/);
    const unseen = columnDrift({ kind: 'categorical', reference: new Map([['a', 50], ['b', 50], ['c', 10]]), current: new Map([['a', 40], ['b', 40], ['c', 5], ['zz', 5]]) }, {});
    assert.equal(unseen.test, 'chisquare');
    assert.equal(unseen.statistic, null, 'an infinite chi-square statistic is reported as null');
    assert.equal(unseen.pValue, 0);
    assert.equal(unseen.drift, true);
    const single = columnDrift({ kind: 'numeric', reference: Float64Array.of(4), current: Float64Array.of(4) }, {});
    assert.equal(single.test, 'z');
    assert.equal(single.pValue, 1);
    assert.equal(single.drift, false);
  });
});
