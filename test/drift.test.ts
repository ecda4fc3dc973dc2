import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import pl, { type DataType } from 'nodejs-polars';
import { openArtifactStore, type ArtifactStore } from '../infra/artifacts';
import type { Db } from '../infra/db/pool';
import { writeFrame } from '../activities/data/frames';
import { chartSvg, columnDrift, detectDrift, driftImplementations, renderDriftHtml, type DriftReport } from '../activities/drift/index';
import { esc } from '../activities/drift/report-html';
import type { DatasetRef } from '../pipelines/steps/dataset';
import { detectDriftOutput, detectDriftStep, type DetectDriftInput } from '../pipelines/steps/drift';
import { tempDir } from './helpers/stack';
import { testStepContext } from './helpers/step-context';
import { SluiceFailure } from '../pipelines/failures';

/**
 * The detect-drift step on small datasets written with writeFrame into a local artifact store:
 * verdicts, prediction drift, edge cases, and the JSON and HTML reports. The step touches no
 * database, so none is started.
 */

function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t = (t + Math.imul(t ^ (t >>> 7), t | 61)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** ~N(shift, scale²/3): a sum of 4 uniforms. */
function normals(seed: number, n: number, shift = 0, scale = 1): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => (r() + r() + r() + r() - 2) * scale + shift);
}

function categories(seed: number, n: number, labels: string[], weights?: number[]): string[] {
  const r = mulberry32(seed);
  const w = weights ?? labels.map(() => 1);
  const total = w.reduce((a, b) => a + b, 0);
  return Array.from({ length: n }, () => {
    let u = r() * total;
    for (let i = 0; i < labels.length; i++) {
      u -= w[i]!;
      if (u < 0) return labels[i]!;
    }
    return labels[labels.length - 1]!;
  });
}

const typeOf = (dtype: DataType): DatasetRef['schema'][number]['type'] => {
  const v = dtype.variant;
  if (v.startsWith('Int') || v.startsWith('UInt')) return 'int64';
  if (v.startsWith('Float')) return 'float64';
  if (v === 'Bool') return 'bool';
  if (v === 'Date') return 'date';
  if (v === 'Datetime') return 'timestamp';
  return 'string';
};

describe('detect-drift', () => {
  let store: ArtifactStore;
  let root: string;
  const db = undefined as unknown as Db; // the step does not use the database

  before(async () => {
    root = tempDir('drift');
    store = await openArtifactStore({ kind: 'local', root });
  });
  after(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  async function dataset(df: pl.DataFrame, name: string, version = 1): Promise<DatasetRef> {
    const ref = await writeFrame(store, df);
    return { ...ref, name, version, rows: df.height, schema: df.columns.map((c, i) => ({ name: c, type: typeOf(df.dtypes[i]!), nullable: true })) };
  }
  const run = (input: DetectDriftInput, ctx = testStepContext({ store, db })) => detectDrift.run(detectDriftStep.input.parse(input), ctx);
  const readReport = async (uri: string) => JSON.parse((await store.getBuffer(uri)).toString()) as DriftReport;
  const readHtml = async (uri: string) => (await store.getBuffer(uri)).toString();

  const referenceFrame = (n = 400) =>
    pl.DataFrame({
      age: normals(1, n, 40, 10),
      income: normals(2, n, 50_000, 8_000),
      city: categories(3, n, ['Paris', 'Lyon', 'Nice'], [5, 3, 2]),
      member: categories(4, n, ['yes', 'no']).map((v) => v === 'yes'),
    });

  test('a numeric shift is detected, an unchanged column is not; the share decides the dataset verdict', async () => {
    const reference = await dataset(referenceFrame(), 'customers', 1);
    const shifted = referenceFrame(300).withColumns(pl.Series('age', normals(11, 300, 46, 10)));
    const current = await dataset(shifted.withColumns(pl.Series('income', normals(12, 300, 50_000, 8_000))), 'customers', 2);
    const ctx = testStepContext({ store, db });
    const out = await run({ reference, current }, ctx);
    assert.doesNotThrow(() => detectDriftOutput.parse(out));

    assert.equal(out.columns.age!.test, 'ks');
    assert.equal(out.columns.age!.drift, true, `age: p ${out.columns.age!.pValue}`);
    assert.ok(out.columns.age!.pValue! < 1e-6);
    assert.equal(out.columns.income!.test, 'ks');
    assert.equal(out.columns.income!.drift, false, `income: p ${out.columns.income!.pValue}`);
    assert.equal(out.columns.city!.test, 'chisquare');
    assert.equal(out.columns.member!.test, 'z', 'a boolean is a two-valued category');
    assert.deepEqual(out.drifted, ['age']);
    assert.equal(out.evaluated, 4);
    assert.equal(out.share, 0.25);
    assert.equal(out.datasetDrift, false, 'one of four columns is below the 0.5 share');
    assert.equal(out.driftShare, 0.5);

    const lower = await run({ reference, current, datasetDriftShare: 0.25 });
    assert.equal(lower.datasetDrift, true, 'share >= datasetDriftShare');
    assert.ok(ctx.heartbeats.length >= 4, 'progress is heartbeated per column');
  });

  test('a current window compares only the rows a scoring run scored: the window column is read, filtered on, and not compared', async () => {
    const reference = await dataset(referenceFrame(), 'windowed', 1);
    // Two periods in one dataset: January like the reference, February with older customers.
    const day = (d: number) => new Date(Date.UTC(2024, 0, 1) + d * 86_400_000);
    const january = referenceFrame(300).withColumns(pl.Series('age', normals(31, 300, 40, 10)), pl.Series('at', Array.from({ length: 300 }, (_, i) => day(i % 31))));
    const february = referenceFrame(200).withColumns(pl.Series('age', normals(32, 200, 55, 10)), pl.Series('at', Array.from({ length: 200 }, (_, i) => day(31 + (i % 29)))));
    const current = await dataset(pl.concat([january, february]), 'windowed', 2);
    const window = (start: string, end: string) => ({ column: 'at', start, end });
    const jan = await run({ reference, current, columns: ['age', 'income'], currentWindow: window('2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z') });
    const feb = await run({ reference, current, columns: ['age', 'income'], currentWindow: window('2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z') });
    assert.deepEqual([jan.columns.age!.currentCount, feb.columns.age!.currentCount], [300, 200]);
    assert.deepEqual([jan.columns.age!.drift, feb.columns.age!.drift], [false, true], `p: ${jan.columns.age!.pValue} ${feb.columns.age!.pValue}`);
    assert.deepEqual(Object.keys(feb.columns).sort(), ['age', 'income'], 'the window column is not compared');
    const report = await readReport(feb.report.uri);
    assert.deepEqual(report.currentWindow, { ...window('2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z'), rows: 200 });
    assert.match(await readHtml(feb.html.uri), /compared: 200 rows with <code>at<\/code>/);
    await assert.rejects(run({ reference, current, currentWindow: window('2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z'), columns: ['age'] }).then(() => run({ reference: current, current: reference, currentWindow: window('2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z') })), /no window column "at"/);
  });

  test('no shift: no column drifts, no dataset drift', async () => {
    const reference = await dataset(referenceFrame(), 'stable', 1);
    const current = await dataset(
      pl.DataFrame({
        age: normals(21, 350, 40, 10),
        income: normals(22, 350, 50_000, 8_000),
        city: categories(23, 350, ['Paris', 'Lyon', 'Nice'], [5, 3, 2]),
        member: categories(26, 350, ['yes', 'no']).map((v) => v === 'yes'),
      }),
      'stable',
      2,
    );
    const out = await run({ reference, current });
    assert.deepEqual(out.drifted, [], JSON.stringify(out.columns));
    assert.equal(out.datasetDrift, false);
    assert.equal(out.share, 0);
  });

  test('a category unseen in the reference: chi-square is infinite and drifts; JSON and HTML name it', async () => {
    const reference = await dataset(pl.DataFrame({ city: categories(31, 300, ['Paris', 'Lyon', 'Nice']) }), 'cities', 1);
    const cur = categories(32, 200, ['Paris', 'Lyon', 'Nice']);
    for (let i = 0; i < 12; i++) cur[i * 10] = '<script>alert("x")</script>';
    const current = await dataset(pl.DataFrame({ city: cur }), 'cities', 2);
    const out = await run({ reference, current });
    const city = out.columns.city!;
    assert.equal(city.test, 'chisquare');
    assert.equal(city.statistic, null, 'an infinite statistic travels as null');
    assert.equal(city.pValue, 0);
    assert.equal(city.drift, true);
    assert.equal(out.datasetDrift, true);

    const report = await readReport(out.report.uri);
    const col = report.columns.find((c) => c.column === 'city')!;
    assert.deepEqual(col.newCategories, { count: 1, sample: ['<script>alert("x")</script>'] });
    const html = await readHtml(out.html.uri);
    assert.ok(!html.includes('<script>'), 'user strings are escaped');
    assert.ok(html.includes(esc('<script>alert("x")</script>')));
  });

  test('large samples use normed Wasserstein and Jensen–Shannon; thresholds and tests are configurable', async () => {
    const reference = await dataset(
      pl.DataFrame({ x: normals(41, 3000, 0, 1), level: categories(42, 3000, ['a', 'b', 'c', 'd'], [4, 3, 2, 1]) }),
      'big',
      1,
    );
    const current = await dataset(pl.DataFrame({ x: normals(43, 2000, 0.3, 1), level: categories(44, 2000, ['a', 'b', 'c', 'd'], [1, 2, 3, 4]) }), 'big', 2);
    const out = await run({ reference, current });
    assert.equal(out.columns.x!.test, 'wasserstein');
    assert.equal(out.columns.x!.pValue, undefined);
    assert.ok(out.columns.x!.statistic! > 0.1 && out.columns.x!.drift);
    assert.equal(out.columns.level!.test, 'jensenshannon');
    assert.ok(out.columns.level!.statistic! > 0.1 && out.columns.level!.statistic! <= Math.sqrt(Math.LN2));
    assert.equal(out.datasetDrift, true);

    const tuned = await run({
      reference,
      current,
      thresholds: { wasserstein: 10 },
      columnStattests: { level: 'psi' },
      columnThresholds: { level: 100 },
      sampleSizeCutoff: 5000,
      columns: ['x', 'level'],
    });
    assert.equal(tuned.columns.x!.test, 'ks', 'a larger size cut-off keeps KS');
    assert.equal(tuned.columns.x!.drift, true);
    assert.equal(tuned.columns.level!.test, 'psi');
    assert.equal(tuned.columns.level!.threshold, 100);
    assert.equal(tuned.columns.level!.drift, false);

    const forced = await run({ reference, current, stattest: 'wasserstein', columns: ['x'], thresholds: { wasserstein: 10 } });
    assert.equal(forced.columns.x!.threshold, 10);
    assert.equal(forced.columns.x!.drift, false);
  });

  test('prediction drift: a label column, binary probabilities, multiclass probabilities (list or columns)', async () => {
    const n = 300;
    const p1 = mulberry32(51);
    const p2 = mulberry32(52);
    const ref = pl.DataFrame({
      f: normals(53, n),
      label: categories(54, n, ['cat', 'dog']),
      proba: Array.from({ length: n }, () => {
        const p = p1();
        return [1 - p, p];
      }),
      p0: Array.from({ length: n }, () => 0.2),
      p1: Array.from({ length: n }, () => p1() * 0.3),
      p2: Array.from({ length: n }, () => 0.5),
    });
    const cur = pl.DataFrame({
      f: normals(55, n),
      label: categories(56, n, ['cat', 'dog'], [1, 4]),
      proba: Array.from({ length: n }, () => {
        const p = 0.5 + p2() * 0.5;
        return [1 - p, p];
      }),
      p0: Array.from({ length: n }, () => 0.2),
      p1: Array.from({ length: n }, () => 0.6 + p2() * 0.1),
      p2: Array.from({ length: n }, () => 0.1),
    });
    const reference = await dataset(ref, 'scored', 1);
    const current = await dataset(cur, 'scored', 2);

    const byLabel = await run({ reference, current, prediction: 'label', columns: ['f'] });
    assert.equal(byLabel.prediction!.source, 'column');
    assert.equal(byLabel.prediction!.test, 'z');
    assert.equal(byLabel.prediction!.drift, true);
    assert.deepEqual(Object.keys(byLabel.columns), ['f'], 'the prediction is not a feature');
    assert.equal(byLabel.evaluated, 1);

    const binary = await run({ reference, current, prediction: 'proba', columns: ['f'] });
    assert.equal(binary.prediction!.source, 'probability');
    assert.equal(binary.prediction!.test, 'ks');
    assert.equal(binary.prediction!.drift, true);

    const multi = await run({ reference, current, prediction: ['p0', 'p1', 'p2'], columns: ['f'] });
    assert.equal(multi.prediction!.source, 'argmax');
    assert.equal(multi.prediction!.column, 'p0,p1,p2');
    assert.equal(multi.prediction!.drift, true, 'p2 wins in the reference, p1 in the current');
    const report = await readReport(multi.report.uri);
    assert.equal(report.prediction!.chart!.kind, 'values');
    assert.deepEqual(report.prediction!.chart!.kind === 'values' && report.prediction!.chart!.labels, ['p1', 'p2']);

    const defaults = await run({ reference, current, prediction: 'label' });
    assert.ok(!('label' in defaults.columns), 'the prediction column is left out of the default feature list');
  });

  test('edge cases: nulls, ±inf and NaN are dropped; an all-null or empty side is not compared; dates are skipped', async () => {
    const ref = pl.DataFrame({
      x: [1, 2, 3, Infinity, 4, NaN, null, 5, 6, 7, 8, -Infinity],
      gone: pl.Series('gone', [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5], pl.Float64),
      when: pl.Series('when', Array.from({ length: 12 }, (_, i) => new Date(Date.UTC(2024, 0, i + 1)))),
      constant: Array.from({ length: 12 }, () => 3),
    });
    const cur = pl.DataFrame({
      x: [1, 2, 3, 4, Infinity, 5, 6, 7, 8, null],
      gone: pl.Series('gone', Array.from({ length: 10 }, () => null), pl.Float64),
      when: pl.Series('when', Array.from({ length: 10 }, (_, i) => new Date(Date.UTC(2024, 1, i + 1)))),
      constant: Array.from({ length: 10 }, () => 3),
    });
    const reference = await dataset(ref, 'edgy', 1);
    const current = await dataset(cur, 'edgy', 2);
    const out = await run({ reference, current });
    assert.equal(out.columns.x!.referenceCount, 8, 'inf, NaN and null dropped');
    assert.equal(out.columns.x!.currentCount, 8);
    assert.equal(out.columns.x!.test, 'ks');
    assert.equal(out.columns.gone!.test, null);
    assert.match(out.columns.gone!.skipped!, /current/);
    assert.equal(out.columns.when!.test, null);
    assert.match(out.columns.when!.skipped!, /date/);
    assert.equal(out.columns.constant!.test, 'z');
    assert.equal(out.columns.constant!.pValue, 1);
    assert.equal(out.evaluated, 2, 'skipped columns are not in the share');

    const asCategories = await run({ reference, current, columns: ['when'], categorical: ['when'] });
    assert.equal(asCategories.columns.when!.test, 'chisquare');
    assert.equal(asCategories.columns.when!.drift, true, 'no date is shared');

    const empty = await dataset(ref.head(0), 'edgy', 3);
    const none = await run({ reference, current: empty });
    assert.equal(none.evaluated, 0);
    assert.equal(none.share, 0);
    assert.equal(none.datasetDrift, false);
    assert.ok(Object.values(none.columns).every((c) => c.test === null && !c.drift));
    const html = await readHtml(none.html.uri);
    assert.match(html, /not compared/);
  });

  test('bad input fails non-retryably: missing columns, a numeric-only test on a categorical column', async () => {
    const reference = await dataset(pl.DataFrame({ a: [1, 2, 3], s: ['x', 'y', 'z'] }), 'bad', 1);
    const current = await dataset(pl.DataFrame({ a: [1, 2, 4], s: ['x', 'y', 'y'] }), 'bad', 2);
    const invalid = (re: RegExp) => (e: unknown) => e instanceof SluiceFailure && e.type === 'InvalidInput' && !e.retryable && re.test(e.message);
    await assert.rejects(run({ reference, current, columns: ['a', 'nope'] }), invalid(/nope/));
    await assert.rejects(run({ reference, current, prediction: 'score' }), invalid(/score/));
    await assert.rejects(run({ reference, current, columnStattests: { s: 'ks' } }), invalid(/numeric/));
    assert.throws(() => detectDriftStep.input.parse({ reference, current, thresholds: { ks: 2 } }), 'a p-value threshold lies in [0, 1]');
    assert.throws(() => detectDriftStep.input.parse({ reference, current, stattest: 'magic' }));
  });

  test('the report: same inputs, same bytes; JSON holds charts and the policy; HTML is self-contained with one SVG per column', async () => {
    const weird = '<b>"na&me"</b>';
    const df = (seed: number, shift: number) => pl.DataFrame({ [weird]: normals(seed, 200, shift), k: categories(seed + 1, 200, ['u', 'v', 'w']) });
    const reference = await dataset(df(61, 0), 'rep', 1);
    const current = await dataset(df(62, 0.5), 'rep', 2);
    const a = await run({ reference, current });
    const b = await run({ reference, current });
    assert.deepEqual(a.report, b.report, 'deterministic report');
    assert.deepEqual(a.html, b.html);

    const report = await readReport(a.report.uri);
    assert.equal(report.format, 'sluice.drift-report/1');
    assert.deepEqual(report.reference, { name: 'rep', version: 1, uri: reference.uri, sha256: reference.sha256, rows: 200 });
    assert.equal(report.policy.thresholds.ks, 0.05);
    assert.equal(report.policy.datasetDriftShare, 0.5);
    const num = report.columns.find((c) => c.column === weird)!;
    assert.equal(num.chart!.kind, 'bins');
    if (num.chart!.kind === 'bins') {
      assert.equal(num.chart!.reference.reduce((s, x) => s + x, 0), 200);
      assert.equal(num.chart!.edges.length, num.chart!.reference.length + 1);
    }
    assert.deepEqual(report.summary.drifted, a.drifted);

    const html = await readHtml(a.html.uri);
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /Content-Security-Policy/);
    assert.equal((html.match(/<svg /g) ?? []).length, 2);
    assert.ok(!/<script|src=|href=/i.test(html), 'no script, no external asset');
    assert.ok(!html.includes(weird) && html.includes(esc(weird)), 'the column name is escaped');
    assert.equal(renderDriftHtml(report), html);
  });

  test('chart: category values beyond 30 fold into "other"; labels escaped', () => {
    const svg = chartSvg({ kind: 'values', labels: ['<a>', 'b'], reference: [3, 1], current: [1, 3] }, 4, 4);
    assert.ok(svg.includes('&lt;a&gt;') && !svg.includes('<a>'));
    assert.equal((svg.match(/<rect/g) ?? []).length, 4);
    const many = new Map(Array.from({ length: 40 }, (_, i) => [`v${i}`, 100 - i] as [string, number]));
    const r = columnDrift({ kind: 'categorical', reference: many, current: many }, {});
    assert.equal(r.chart!.kind, 'values');
    if (r.chart!.kind === 'values') {
      assert.equal(r.chart!.labels.length, 29);
      assert.deepEqual(r.chart!.other, { categories: 11, reference: [...many.values()].slice(29).reduce((a, b) => a + b, 0), current: [...many.values()].slice(29).reduce((a, b) => a + b, 0) });
    }
  });

  test('registered as detect-drift on the cpu queue', () => {
    assert.deepEqual(
      driftImplementations.map((i) => i.step.name),
      ['detect-drift'],
    );
    assert.equal(detectDriftStep.queue, 'cpu');
  });
});
