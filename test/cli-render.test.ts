import { gateLines } from '../cli/render/gates';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { nodeStatesFromDb } from '../cli/commands/runs';
import type { StepRunRow } from '../infra/db/runs';
import { describePipeline } from '../cli/commands/pipeline';
import { renderCondition, toMermaid, toText, type RenderStates } from '../cli/render/dag';
import { stepInterfaces } from '../cli/render/interface';
import { artifactOutputNames } from '../cli/render/artifact-outputs';
import { formatSetting } from '../cli/render/duration';
import { formatTable } from '../cli/render/table';
import { durationMs } from '../pipelines/vocab/duration';
import { compile } from '../pipelines/dsl/compile';
import { and, gt, not, eq } from '../pipelines/dsl/conditions';
import { pipeline } from '../pipelines/dsl/pipeline';
import { step } from '../pipelines/dsl/step';

const total = z.object({ total: z.number() });
const loadStep = step({ name: 'demo.load', input: z.object({ n: z.number() }), output: z.object({ items: z.array(z.string()), total: z.number() }) });
const addStep = step({ name: 'demo.add', version: '2', input: total, output: total });
const joinStep = step({ name: 'demo.join', input: z.object({ a: z.number(), b: z.number() }), output: total, queue: 'gpu' });
const lenStep = step({ name: 'demo.len', input: z.object({ item: z.string() }), output: z.object({ len: z.number() }) });

const scoring = pipeline({ name: 'scoring', params: z.object({ total: z.number() }) }, (p, b) => {
  const score = b.step('score', addStep, { total: p.total });
  const report = b.step('report', addStep, { total: score.output.total });
  return { score: report.output.total };
});

const demo = pipeline(
  { name: 'render-demo', description: 'a diamond, a condition, a fan-out and a sub-pipeline', params: z.object({ n: z.number().default(3), threshold: z.number().default(10) }) },
  (p, b) => {
    const load = b.step('load', loadStep, { n: p.n });
    const left = b.step('left', addStep, { total: load.output.total });
    const right = b.step('right', addStep, { total: load.output.total });
    const join = b.step('join', joinStep, { a: left.output.total, b: right.output.total });
    b.when(gt(join.output.total, p.threshold), () => {
      b.step('alert', addStep, { total: join.output.total });
    });
    const each = b.map('each', lenStep, { over: load.output.items, parallelism: 4 }, (item) => ({ item }));
    const scored = b.sub('scoring', scoring, { total: join.output.total });
    b.step('publish', addStep, { total: scored.output.score });
    return { lens: each.output, score: scored.output.score };
  },
);

const spec = compile(demo);

const states: RenderStates = {
  load: { status: 'succeeded', attempts: 1, startedAt: 0, endedAt: 1500, artifacts: ['file:///tmp/a.json'] },
  left: { status: 'cached', attempts: 1, startedAt: 1500, endedAt: 1510 },
  right: { status: 'failed', attempts: 3, startedAt: 1500, endedAt: 9000, error: 'boom\nstack' },
  join: { status: 'skipped' },
  alert: { status: 'skipped' },
  each: { status: 'running', items: { total: 5, done: 2 }, startedAt: 1500 },
  // scoring/* and publish: no state → pending
};

test('spec compiles to the expected shape (sanity)', () => {
  assert.deepEqual(
    spec.nodes.map((n) => n.id),
    ['load', 'left', 'right', 'join', 'alert', 'each', 'scoring/score', 'scoring/report', 'publish'],
  );
});

test('toMermaid: flowchart, labels, diamond edges', () => {
  const m = toMermaid(spec);
  const lines = m.split('\n');
  assert.equal(lines[0], 'flowchart TD');
  assert.match(m, /n_load\["load<br\/>demo\.load@1 \(cpu\)"\]/);
  assert.match(m, /n_join\["join<br\/>demo\.join@1 \(gpu\)"\]/);
  for (const e of ['n_load --> n_left', 'n_load --> n_right', 'n_left --> n_join', 'n_right --> n_join', 'n_join --> n_scoring__score', 'n_scoring__score --> n_scoring__report', 'n_scoring__report --> n_publish', 'n_load --> n_each']) {
    assert.ok(lines.includes(`  ${e}`), `edge ${e} in\n${m}`);
  }
  assert.ok(!m.includes('classDef'), 'no status classes without states');
});

test('toMermaid: conditional node gets a dotted, labelled edge', () => {
  const m = toMermaid(spec);
  assert.ok(m.includes('  n_join -.->|"if join.total #gt; params.threshold"| n_alert'), m);
  assert.ok(!m.includes('n_join --> n_alert'));
});

test('toMermaid: fan-out node has the subroutine shape and ×N', () => {
  const m = toMermaid(spec);
  assert.match(m, /n_each\[\["each<br\/>demo\.len@1 \(cpu\) ×N"\]\]/);
  assert.doesNotMatch(m, /n_load\[\[/);
});

test('toMermaid: sub-pipeline nodes sit in a subgraph', () => {
  const lines = toMermaid(spec).split('\n');
  const start = lines.findIndex((l) => l.trim().startsWith('subgraph g_scoring['));
  assert.ok(start > 0);
  const end = lines.findIndex((l, i) => i > start && l.trim() === 'end');
  const inside = lines.slice(start + 1, end).map((l) => l.trim());
  assert.equal(inside.length, 2);
  assert.ok(inside[0]!.startsWith('n_scoring__score['));
  assert.ok(inside[1]!.startsWith('n_scoring__report['));
  assert.ok(lines.slice(0, start).some((l) => l.trim().startsWith('n_publish[')) || lines.slice(end).some((l) => l.trim().startsWith('n_publish[')));
});

test('toMermaid: nested sub-pipelines nest subgraphs', () => {
  const outer = pipeline({ name: 'outer', params: z.object({ total: z.number() }) }, (p, b) => {
    const s = b.sub('inner', scoring, { total: p.total });
    return { score: s.output.score };
  });
  const top = pipeline({ name: 'top', params: z.object({}) }, (_p, b) => {
    const o = b.sub('outer', outer, { total: 1 });
    b.step('last', addStep, { total: o.output.score });
    return {};
  });
  const lines = toMermaid(compile(top)).split('\n').map((l) => l.trim());
  const iOuter = lines.findIndex((l) => l.startsWith('subgraph g_outer['));
  const iInner = lines.findIndex((l) => l.startsWith('subgraph g_outer__inner['));
  assert.ok(iOuter > 0 && iInner > iOuter, lines.join('\n'));
  assert.equal(lines.filter((l) => l === 'end').length, 2);
});

test('toMermaid: states add a classDef per status and class assignments', () => {
  const m = toMermaid(spec, states);
  for (const s of ['succeeded', 'cached', 'failed', 'running', 'skipped', 'pending']) assert.match(m, new RegExp(`^  classDef ${s} `, 'm'));
  const lines = m.split('\n');
  assert.ok(lines.includes('  class n_load succeeded'));
  assert.ok(lines.includes('  class n_left cached'));
  assert.ok(lines.includes('  class n_right failed'));
  assert.ok(lines.includes('  class n_each running'));
  assert.ok(lines.includes('  class n_join,n_alert skipped'));
  assert.ok(lines.includes('  class n_scoring__score,n_scoring__report,n_publish pending'));
  assert.match(m, /each<br\/>demo\.len@1 \(cpu\) ×N<br\/>running 2\/5/);
  assert.match(m, /right<br\/>demo\.add@2 \(cpu\)<br\/>failed · 7\.50s · 3 attempts/);
});

test('renderCondition: comparisons, and/or/not, literals', () => {
  assert.equal(renderCondition(spec.nodes.find((n) => n.id === 'alert')!.when!), 'join.total > params.threshold');
  const p2 = pipeline({ name: 'c', params: z.object({ mode: z.string(), on: z.boolean() }) }, (p, b) => {
    const load = b.step('load', loadStep, { n: 1 });
    b.when(and(eq(p.mode, 'full'), not(gt(load.output.total, 3))), () => {
      b.when(eq(p.on, true), () => void b.step('x', addStep, { total: 1 }));
    });
    return {};
  });
  const x = compile(p2).nodes.find((n) => n.id === 'x')!;
  assert.equal(renderCondition(x.when!), '(params.mode == "full" and not (load.total > 3)) and params.on == true');
});

test('toText: one line per node in order, deps, queue, condition, fan-out, groups', () => {
  const t = toText(spec);
  const lines = t.trimEnd().split('\n');
  assert.equal(lines.length, spec.nodes.length + 1, t); // + the scoring/ group header
  assert.match(lines[0]!, /^load\s+demo\.load@1\s+\[cpu\]$/);
  assert.match(lines[3]!, /^join\s+demo\.join@1\s+\[gpu\]\s+<- left, right$/);
  assert.match(lines[4]!, /^alert\s+demo\.add@2\s+\[cpu\]\s+<- join\s+if join\.total > params\.threshold$/);
  assert.match(lines[5]!, /^each\s+demo\.len@1 ×N\s+\[cpu\]\s+<- load\s+for each of load\.items \(≤4 at once\)$/);
  assert.equal(lines[6], 'scoring/  (sub-pipeline)');
  assert.match(lines[7]!, /^ {2}scoring\/score\s+demo\.add@2\s+\[cpu\]\s+<- join$/);
  assert.match(lines[8]!, /^ {2}scoring\/report\s+demo\.add@2\s+\[cpu\]\s+<- scoring\/score$/);
  assert.match(lines[9]!, /^publish\s+demo\.add@2\s+\[cpu\]\s+<- scoring\/report$/);
  // Columns line up: the step column starts at the same offset on every node line.
  const col = lines.filter((l) => l.includes('@')).map((l) => l.indexOf('demo.'));
  assert.equal(new Set(col).size, 1, t);
});

test('toText: with states shows status, duration, attempts, artifacts and errors', () => {
  const t = toText(spec, states);
  const line = (id: string) => t.split('\n').find((l) => l.trimStart().startsWith(`${id} `))!;
  assert.match(line('load'), /\bsucceeded\s+1\.50s\s+1 attempt\b/);
  assert.match(line('left'), /\bcached\s+10ms\s+1 attempt\b/);
  assert.match(line('right'), /\bfailed\s+7\.50s\s+3 attempts\b/);
  assert.match(line('each'), /\brunning 2\/5\b/);
  assert.match(line('publish'), /\bpending\b/);
  assert.match(line('alert'), /\bskipped\b.*if join\.total > params\.threshold$/);
  assert.match(t, /\n {4}↳ file:\/\/\/tmp\/a\.json\n/);
  assert.match(t, /\n {4}! boom\n/);
});

test('nodeStatesFromDb: step_runs rows to node states, map items folded, artifacts attached', () => {
  const t = (s: number) => new Date(1_000_000 + s * 1000);
  const row = (node_id: string, status: StepRunRow['status'], attempt: number, a: number, b: number | null, error: string | null = null): StepRunRow => ({
    node_id, step: 'x', step_version: '1', queue: 'cpu', status, attempt, started_at: t(a), ended_at: b === null ? null : t(b), error, cache_key: null,
  });
  const states = nodeStatesFromDb(
    'r1',
    [row('load', 'succeeded', 2, 0, 1), row('each[0]', 'cached', 1, 1, 2), row('each[1]', 'succeeded', 1, 1, 4), row('each[2]', 'running', 1, 2, null)],
    [
      { from_id: 'r1/load', relation: 'produced', to_id: 'file:///a' },
      { from_id: 'r1/each[0]', relation: 'reused', to_id: 'file:///b' },
      { from_id: 'r1/each[1]', relation: 'produced', to_id: 'file:///c' },
      { from_id: 'other/load', relation: 'produced', to_id: 'file:///z' },
    ],
  );
  assert.deepEqual(states.load, { status: 'succeeded', attempts: 2, startedAt: t(0), endedAt: t(1), cached: false, artifacts: ['file:///a'] });
  assert.equal(states.each!.status, 'running');
  assert.deepEqual(states.each!.items, { total: 3, done: 2 });
  assert.equal(states.each!.endedAt, undefined);
  assert.deepEqual(states.each!.artifacts, ['file:///b', 'file:///c']);
  assert.match(toText(spec, states), /each\s+demo\.len@1 ×N.*running 2\/3/);
});

test('pipeline show: each step\'s interface from the spec, inputs and outputs with their types', () => {
  const typed = step({
    name: 'demo.typed',
    description: 'a step with every kind of field',
    input: z.object({
      uri: z.string().describe('where the data is'),
      limit: z.number().int().default(10),
      mode: z.enum(['fast', 'full']).optional(),
      tags: z.array(z.string()),
    }),
    output: z.object({ rows: z.number().int(), label: z.string().nullable() }),
    queue: 'gpu',
  });
  const p = pipeline({ name: 'typed', params: z.object({}) }, (_p, b) => {
    const a = b.step('first', typed, { uri: 'file:///a', tags: [] });
    b.step('second', typed, { uri: 'file:///b', tags: ['x'] }, { after: [a] });
    b.step('count', loadStep, { n: 1 });
    return {};
  });
  // From the spec alone, as a spec read back from JSON (a run's history, `show --json`) would be.
  const spec = JSON.parse(JSON.stringify(compile(p)));
  const text = stepInterfaces(spec);
  assert.equal(
    text,
    [
      'demo.typed@1  [gpu]  nodes first, second  — a step with every kind of field',
      '  in   uri: string  — where the data is',
      '       limit?: integer = 10',
      '       mode?: "fast" | "full"',
      '       tags: string[]',
      '  out  rows: integer',
      '       label: string | null',
      'demo.load@1  [cpu]  node count',
      '  in   n: number',
      '  out  items: string[]',
      '       total: number',
      '',
    ].join('\n'),
  );
  // `sluice pipeline show` prints them after the DAG.
  const shown = describePipeline(spec);
  assert.ok(shown.indexOf('\nsteps:\n  demo.typed@1  [gpu]') > shown.indexOf('\nnodes:\n'), shown);
  assert.match(shown, /\n {4}in {3}uri: string {2}— where the data is\n/);
});

test('pipeline show: a changed step schema shows in the printed interface', () => {
  const before = stepInterfaces(spec);
  const changed = step({ name: 'demo.load', input: z.object({ n: z.string() }), output: loadStep.output });
  const after = stepInterfaces(compile(pipeline({ name: 'c2', params: z.object({}) }, (_p, b) => (b.step('load', changed, { n: 'x' }), {}))));
  assert.match(before, /demo\.load@1 {2}\[cpu\] {2}node load\n {2}in {3}n: number\n/);
  assert.match(after, /demo\.load@1 {2}\[cpu\] {2}node load\n {2}in {3}n: string\n/);
});

test('runs show names each artifact by the output that holds it (items as [i].name)', () => {
  const sha = (c: string) => c.repeat(64);
  const ref = (uri: string, c: string) => ({ uri, sha256: sha(c), size: 3 });
  assert.deepEqual(
    [...artifactOutputNames({ model: ref('file:///m', 'a'), reports: [ref('file:///r0', 'b')], 'odd key': { x: ref('file:///o', 'c') }, same: ref('file:///m', 'a'), n: 3 })],
    [
      ['file:///m', 'model, same'],
      ['file:///r0', 'reports[0]'],
      ['file:///o', '["odd key"].x'],
    ],
  );
  // Not a reference: a uri without a content hash.
  assert.equal(artifactOutputNames({ link: { uri: 'file:///x', sha256: 'nope', size: 1 } }).size, 0);

  const t = (s: number) => new Date(1_000_000 + s * 1000);
  const row = (node_id: string): StepRunRow => ({ node_id, step: 'x', step_version: '1', queue: 'cpu', status: 'succeeded', attempt: 1, started_at: t(0), ended_at: t(1), error: null, cache_key: null });
  const states = nodeStatesFromDb(
    'r1',
    [row('load'), row('each[0]'), row('each[1]')],
    [
      { from_id: 'r1/load', relation: 'produced', to_id: 'file:///a' },
      { from_id: 'r1/load', relation: 'produced', to_id: 'file:///b' },
      { from_id: 'r1/each[1]', relation: 'produced', to_id: 'file:///c' },
    ],
    [
      { node_id: 'load', outputs: { items: ref('file:///a', 'a'), report: ref('file:///b', 'b'), total: 2 } },
      { node_id: 'each[1]', outputs: { len: ref('file:///c', 'c') } },
      { node_id: 'each[0]', outputs: { len: 4 } },
    ],
  );
  assert.deepEqual(states.load!.artifactOutputs, { 'file:///a': 'items', 'file:///b': 'report' });
  assert.deepEqual(states.each!.artifactOutputs, { 'file:///c': '[1].len' });
  const text = toText(spec, states);
  assert.match(text, /\n {4}↳ items: file:\/\/\/a\n {4}↳ report: file:\/\/\/b\n/);
  assert.match(text, /\n {4}↳ \[1\]\.len: file:\/\/\/c\n/);
});

test('listings have a header row and aligned columns; configured durations read as written', () => {
  assert.deepEqual(formatTable(['NAME', 'VERSIONS', 'LATEST'], [['penguins', '12', 'v12'], ['a\u0007b\nc', '1', '']]), [
    'NAME      VERSIONS  LATEST',
    'penguins  12        v12',
    'ab c      1',
  ]);
  assert.deepEqual(formatTable(['NAME'], []), ['NAME']);
  assert.deepEqual(
    [3_600_000, 5_400_000, 45_000, 250, 0, 90_061_001, 86_400_000, undefined, -1].map(formatSetting),
    ['1h', '1h30m', '45s', '250ms', '0s', '1d1h1m1s1ms', '1d', '-', '-'],
  );
  // Exact: the text reads back as the same length of time.
  for (const ms of [3_600_000, 5_400_000, 45_000, 7 * 86_400_000]) {
    const total = [...formatSetting(ms).matchAll(/(\d+)(ms|d|h|m|s)/g)].reduce((sum, [, n, u]) => sum + Number(n) * durationMs(`1${u}`), 0);
    assert.equal(total, ms);
  }
});

test('a run that registered nothing says which gates failed; a registered one or other outputs print nothing', () => {
  const failed = { metric: 'accuracy', op: '>=', value: 0.8, actual: 0.68, passed: false, reason: 'accuracy = 0.68 fails >= 0.8' };
  assert.deepEqual(gateLines({ registered: false, failedGates: [failed] }), ['not registered: accuracy = 0.68 fails >= 0.8 (set "gates" in the params to change the bar)']);
  assert.deepEqual(gateLines({ registered: true, failedGates: [] }), []);
  assert.deepEqual(gateLines({ rows: 3 }), []);
  assert.deepEqual(gateLines(null), []);
});
