/**
 * Type-level tests of the pipeline DSL: checked by `tsc -p tsconfig.json` (part of `npm test`),
 * never run. Each wrong wiring carries `@ts-expect-error`, so if the DSL stopped rejecting it,
 * tsc would fail with "Unused '@ts-expect-error' directive". Correct wirings sit beside them and
 * must keep compiling.
 */
import { z } from 'zod';
import { and, eq, gt, gte, isTrue, lt, ne, not, or } from '../../pipelines/dsl/conditions';
import { pipeline, type Node, type OutputTypes, type PipelineDef } from '../../pipelines/dsl/pipeline';
import type { Binding, Ref, RefTree } from '../../pipelines/dsl/refs';
import { step } from '../../pipelines/dsl/step';
import { artifactRef, type ArtifactRefValue } from '../../pipelines/steps/artifact-ref';

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

// ---------------------------------------------------------------------------------------------
// Steps used below
// ---------------------------------------------------------------------------------------------

const greet = step({
  name: 'types.greet',
  input: z.object({ name: z.string(), times: z.number().int().default(1) }),
  output: z.object({ greeting: artifactRef, length: z.number(), tags: z.array(z.string()), lang: z.enum(['en', 'fr']) }),
});
const takesString = step({ name: 'types.takes-string', input: z.object({ text: z.string() }), output: z.object({ ok: z.boolean() }) });
const takesNumber = step({ name: 'types.takes-number', input: z.object({ n: z.number() }), output: z.object({ doubled: z.number() }) });
const takesArtifact = step({ name: 'types.takes-artifact', input: z.object({ file: artifactRef }), output: z.object({ rows: z.number() }) });
const takesShape = step({
  name: 'types.takes-shape',
  input: z.object({ model: z.object({ path: z.string(), epochs: z.number() }) }),
  output: z.object({ score: z.number() }),
});
const takesNumbers = step({ name: 'types.takes-numbers', input: z.object({ values: z.array(z.number()) }), output: z.object({ total: z.number() }) });
const takesScores = step({
  name: 'types.takes-scores',
  input: z.object({ results: z.array(z.object({ doubled: z.number() })) }),
  output: z.object({ best: z.number() }),
});
const takesLang = step({ name: 'types.takes-lang', input: z.object({ lang: z.enum(['en', 'fr']) }), output: z.object({ ok: z.boolean() }) });
const listRuns = step({
  name: 'types.list-runs',
  input: z.object({}),
  output: z.object({ runs: z.array(z.object({ path: z.string(), epochs: z.number() })) }),
});
const range = step({ name: 'types.range', input: z.object({ n: z.number() }), output: z.object({ items: z.array(z.number()), words: z.array(z.string()) }) });

const params = z.object({ name: z.string().default('world'), count: z.number().default(3), flag: z.boolean().default(false) });

// ---------------------------------------------------------------------------------------------
// Refs, fields and literals
// ---------------------------------------------------------------------------------------------

export const wiring = pipeline({ name: 'types-wiring', params }, (p, b) => {
  // Params are typed refs.
  type _params = [Expect<Equal<typeof p.name, RefTree<string>>>, Expect<Equal<typeof p.count, RefTree<number>>>];

  const g = b.step('greet', greet, { name: p.name, times: p.count });
  type _node = Expect<Equal<typeof g, Node<{ greeting: ArtifactRefValue; length: number; tags: string[]; lang: 'en' | 'fr' }>>>;

  // Correct: nested field refs of the right type, whole object refs of the right shape, literals.
  b.step('ok-nested', takesString, { text: g.output.greeting.uri });
  b.step('ok-param', takesString, { text: p.name });
  b.step('ok-literal', takesString, { text: 'hello' });
  b.step('ok-number', takesNumber, { n: g.output.greeting.size });
  b.step('ok-artifact', takesArtifact, { file: g.output.greeting });
  b.step('ok-artifact-fields', takesArtifact, { file: { uri: g.output.greeting.uri, sha256: 'a'.repeat(64), size: p.count } });
  b.step('ok-shape', takesShape, { model: { path: g.output.greeting.uri, epochs: 3 } });
  b.step('ok-list', takesNumbers, { values: [1, 2, 3] });
  b.step('ok-enum', takesLang, { lang: g.output.lang });
  b.step('ok-enum-literal', takesLang, { lang: 'fr' });
  // Defaulted input may be left out.
  b.step('ok-default', greet, { name: 'x' });
  // Ordering without data, and a per-node cache override.
  b.step('ok-after', takesString, { text: 'x' }, { after: [g], cache: false });
  // @ts-expect-error after: takes nodes, not refs
  b.step('bad-after', takesString, { text: 'x' }, { after: [g.output] });

  // @ts-expect-error a Ref<number> (param) where a string is expected
  b.step('bad-param', takesString, { text: p.count });
  // @ts-expect-error a Ref<number> (output field) where a string is expected
  b.step('bad-field', takesString, { text: g.output.length });
  // @ts-expect-error a Ref<string> where a number is expected
  b.step('bad-string', takesNumber, { n: g.output.greeting.uri });
  // @ts-expect-error an artifact ref where a { path, epochs } object is expected
  b.step('bad-shape', takesShape, { model: g.output.greeting });
  // @ts-expect-error an object ref where a string is expected
  b.step('bad-object', takesString, { text: g.output.greeting });
  // @ts-expect-error a field that the output does not have
  b.step('bad-missing-field', takesString, { text: g.output.nope });
  // @ts-expect-error a nested field that the output does not have
  b.step('bad-missing-nested', takesString, { text: g.output.greeting.url });
  // @ts-expect-error a field that the params do not have
  b.step('bad-missing-param', takesString, { text: p.nope });
  // @ts-expect-error a required input left out
  b.step('bad-required', takesString, {});
  // @ts-expect-error a required input left out (others given)
  b.step('bad-required-2', greet, { times: 2 });
  // @ts-expect-error an input the step does not take (excess property)
  b.step('bad-excess', takesString, { text: 'x', extra: 1 });
  // @ts-expect-error a literal of the wrong type
  b.step('bad-literal', takesNumber, { n: 'three' });
  // @ts-expect-error a literal of the wrong type inside an object binding
  b.step('bad-nested-literal', takesShape, { model: { path: 'm', epochs: '3' } });
  // @ts-expect-error a ref of the wrong type inside an object binding
  b.step('bad-nested-ref', takesShape, { model: { path: g.output.length, epochs: 3 } });
  // @ts-expect-error an object binding missing a field
  b.step('bad-nested-missing', takesShape, { model: { path: 'm' } });
  // @ts-expect-error a list of the wrong element type
  b.step('bad-list-literal', takesNumbers, { values: ['a'] });
  // @ts-expect-error a Ref<string[]> where a number[] is expected
  b.step('bad-list-ref', takesNumbers, { values: g.output.tags });
  // @ts-expect-error a Ref<string> where an enum is expected
  b.step('bad-enum', takesLang, { lang: g.output.greeting.uri });
  // @ts-expect-error a literal outside the enum
  b.step('bad-enum-literal', takesLang, { lang: 'de' });
  // @ts-expect-error refs cannot be coerced to strings (a template literal would lose the ref)
  const notAString: string = g.output.greeting.uri;
  void notAString;

  return { greeting: g.output.greeting, length: g.output.length, name: p.name, uri: g.output.greeting.uri };
});

// Pipeline outputs are typed from the refs build() returns.
type WiringOut = typeof wiring extends PipelineDef<infer _P, infer O> ? O : never;
type _wiringOut = Expect<Equal<WiringOut, { greeting: ArtifactRefValue; length: number; name: string; uri: string }>>;
type _outputTypes = Expect<Equal<OutputTypes<{ a: Ref<number>; b: RefTree<{ x: string }> }>, { a: number; b: { x: string } }>>;
// @ts-expect-error build() must return refs, not literals
pipeline({ name: 'types-bad-output', params }, () => ({ value: 1 }));

// ---------------------------------------------------------------------------------------------
// Fan-out (map) and fan-in
// ---------------------------------------------------------------------------------------------

export const fanOut = pipeline({ name: 'types-map', params }, (p, b) => {
  const r = b.step('range', range, { n: p.count });
  // Item refs have the list's element type.
  const m = b.map('double', takesNumber, { over: r.output.items, parallelism: 4 }, (item) => {
    type _item = Expect<Equal<typeof item, RefTree<number>>>;
    return { n: item };
  });
  type _mapOut = Expect<Equal<typeof m, Node<{ doubled: number }[]>>>;
  b.map('shout', takesString, { over: r.output.words }, (w) => ({ text: w }));
  // Object items: the whole item, or its fields.
  const runs = b.step('runs', listRuns, {});
  b.map('train', takesShape, { over: runs.output.runs }, (run) => ({ model: run }));
  b.map('train-fields', takesShape, { over: runs.output.runs }, (run) => ({ model: { path: run.path, epochs: p.count } }));
  // @ts-expect-error an item field of the wrong type
  b.map('bad-item-field', takesString, { over: runs.output.runs }, (run) => ({ text: run.epochs }));
  // @ts-expect-error an item field that does not exist
  b.map('bad-item-nope', takesString, { over: runs.output.runs }, (run) => ({ text: run.nope }));

  // @ts-expect-error an item of number where a string is expected
  b.map('bad-item', takesString, { over: r.output.items }, (item) => ({ text: item }));
  // @ts-expect-error `over` must be a list
  b.map('bad-over', takesNumber, { over: p.count }, () => ({ n: 1 }));
  // @ts-expect-error the item's inputs must still be complete
  b.map('bad-item-missing', takesNumber, { over: r.output.items }, () => ({}));

  // Fan-in: the list of outputs goes to a list input of the right element type…
  b.step('best', takesScores, { results: m.output });
  // @ts-expect-error …and not to one of another element type.
  b.step('bad-fan-in', takesNumbers, { values: m.output });
  // @ts-expect-error a list of outputs is not one output
  b.step('bad-fan-in-2', takesNumber, { n: m.output });
  // @ts-expect-error no field access on the list of outputs (it is not one output)
  b.step('bad-fan-in-3', takesNumber, { n: m.output.doubled });

  return { results: m.output };
});
type _fanOutOut = Expect<Equal<(typeof fanOut extends PipelineDef<infer _P, infer O> ? O : never)['results'], { doubled: number }[]>>;

// ---------------------------------------------------------------------------------------------
// Sub-pipelines
// ---------------------------------------------------------------------------------------------

const inner = pipeline({ name: 'types-inner', params: z.object({ text: z.string(), n: z.number().default(2) }) }, (p, b) => {
  const d = b.step('double', takesNumber, { n: p.n });
  const t = b.step('check', takesString, { text: p.text });
  return { doubled: d.output.doubled, ok: t.output.ok, text: p.text };
});

export const outer = pipeline({ name: 'types-outer', params }, (p, b) => {
  const s = b.sub('inner', inner, { text: p.name });
  type _sub = Expect<Equal<typeof s, Node<{ doubled: number; ok: boolean; text: string }>>>;
  b.step('use-sub', takesNumber, { n: s.output.doubled });
  b.sub('inner-2', inner, { text: 'literal', n: p.count });

  // @ts-expect-error a sub-pipeline output of the wrong type
  b.step('bad-sub-out', takesString, { text: s.output.doubled });
  // @ts-expect-error a sub-pipeline has only the outputs its build() returns
  b.step('bad-sub-missing', takesString, { text: s.output.nope });
  // @ts-expect-error a required sub-pipeline param left out
  b.sub('bad-sub-params', inner, { n: 1 });
  // @ts-expect-error a sub-pipeline param of the wrong type
  b.sub('bad-sub-type', inner, { text: p.count });
  // @ts-expect-error a param the sub-pipeline does not have
  b.sub('bad-sub-excess', inner, { text: 'x', other: 1 });

  return { doubled: s.output.doubled };
});
type _outerOut = Expect<Equal<typeof outer extends PipelineDef<infer _P, infer O> ? O : never, { doubled: number }>>;

// ---------------------------------------------------------------------------------------------
// Conditions
// ---------------------------------------------------------------------------------------------

export const conditional = pipeline({ name: 'types-when', params }, (p, b) => {
  const g = b.step('greet', greet, { name: p.name });
  b.when(eq(p.name, 'a'), () => undefined);
  b.when(eq('a', p.name), () => undefined);
  b.when(ne(g.output.lang, 'fr'), () => undefined);
  b.when(gt(p.count, 2), () => undefined);
  b.when(gte(g.output.length, p.count), () => undefined);
  b.when(lt(p.name, 'm'), () => undefined);
  b.when(and(isTrue(p.flag), or(eq(p.count, 1), not(eq(p.name, 'x')))), () => undefined);

  // @ts-expect-error comparing a Ref<number> with a string
  gt(p.count, 'x');
  // @ts-expect-error comparing a Ref<string> with a number
  eq(p.name, 1);
  // @ts-expect-error comparing refs of different types
  eq(p.name, p.count);
  // @ts-expect-error ordering booleans
  gt(p.flag, true);
  // @ts-expect-error comparing objects
  eq(g.output.greeting, g.output.greeting);
  // @ts-expect-error isTrue() takes a boolean ref
  isTrue(p.count);
  // @ts-expect-error and() needs at least one condition
  and();
  // @ts-expect-error when() takes a condition, not a ref
  b.when(p.flag, () => undefined);
  return {};
});

// ---------------------------------------------------------------------------------------------
// Binding<T> by itself
// ---------------------------------------------------------------------------------------------

declare const numRef: Ref<number>;
declare const strRef: Ref<string>;
export const bindings: [Binding<string>, Binding<number>, Binding<{ a: string }>, Binding<{ a: string }>] = [strRef, numRef, { a: strRef }, { a: 'x' }];
// @ts-expect-error Ref<number> is not a Binding<string>
export const badBinding: Binding<string> = numRef;

// ---------------------------------------------------------------------------------------------
// Formerly holes, now rejected
// ---------------------------------------------------------------------------------------------

const maybeObj = step({
  name: 'types.maybe-obj',
  input: z.object({}),
  output: z.object({ obj: z.object({ path: z.string(), epochs: z.number() }).optional() }),
});
const innerText = pipeline({ name: 'types-inner-text', params: z.object({ text: z.string() }) }, (p, b) => {
  const t = b.step('t', takesString, { text: p.text });
  return { ok: t.output.ok };
});

export const formerHoles = pipeline({ name: 'types-former-holes', params: z.object({ text: z.string(), n: z.number() }) }, (p, b) => {
  const o = b.step('o', maybeObj, {});
  // @ts-expect-error an optional object output where a required one is expected
  b.step('x', takesShape, { model: o.output.obj });
  // @ts-expect-error a field reached through an optional object may be missing
  b.step('y', takesString, { text: o.output.obj.path });
  const g = b.step('g', greet, { name: p.text });
  // @ts-expect-error 'de' is not one of the enum's values
  eq(g.output.lang, 'de');
  // @ts-expect-error 'de' is not one of the enum's values (literal first)
  eq('de', g.output.lang);
  eq(g.output.lang, 'fr');
  // Whole params bound to a sub-pipeline with the same params: fine, and compile() binds each field.
  b.sub('whole', innerText, p);
  // Lists of refs and literals are bindings too.
  b.step('list', takesNumbers, { values: [p.n, 2, g.output.length] });
  // @ts-expect-error a string ref in a list of numbers
  b.step('bad-list', takesNumbers, { values: [p.text, 2] });
  return {};
});
