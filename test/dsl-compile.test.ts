import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { compile, CompileError } from '../pipelines/dsl/compile';
import { and, eq, gt, isTrue, not, or } from '../pipelines/dsl/conditions';
import { pipeline, type AnyPipeline } from '../pipelines/dsl/pipeline';
import type { Ref, RefTree } from '../pipelines/dsl/refs';
import { nodeStep, pipelineSpecSchema, type NodeSpec, type PipelineSpec } from '../pipelines/dsl/spec';
import { stepInterface } from '../pipelines/dsl/step-interface';
import { step } from '../pipelines/dsl/step';

/** Unit tests of compile(): the PipelineSpec a pipeline's build function turns into. No Temporal. */

const artifact = z.object({ uri: z.string(), size: z.number() });

const load = step({
  name: 'test.load',
  version: '1',
  input: z.object({ name: z.string(), limit: z.number().default(10) }),
  output: z.object({ data: artifact, rows: z.number(), items: z.array(z.object({ id: z.string(), weight: z.number() })) }),
  queue: 'cpu',
  timeouts: { startToClose: '5m', heartbeat: '10s' },
});
const train = step({
  name: 'test.train',
  input: z.object({ data: artifact, config: z.object({ path: z.string(), epochs: z.number() }) }),
  output: z.object({ model: artifact, score: z.number() }),
  queue: 'gpu',
  cache: { enabled: true, key: 'version' },
});
const echo = step({ name: 'test.echo', input: z.object({ text: z.string() }), output: z.object({ text: z.string() }), cache: false });
const score = step({ name: 'test.score', input: z.object({ id: z.string(), weight: z.number() }), output: z.object({ value: z.number() }) });
const total = step({ name: 'test.total', input: z.object({ values: z.array(z.object({ value: z.number() })) }), output: z.object({ sum: z.number() }) });

const params = z.object({
  name: z.string().default('iris'),
  epochs: z.number().int().min(1).default(3),
  deploy: z.boolean().default(false),
  note: z.string().optional(),
});

function node(spec: PipelineSpec, id: string): NodeSpec {
  const n = spec.nodes.find((x) => x.id === id);
  assert.ok(n, `no node "${id}" in ${spec.nodes.map((x) => x.id).join(', ')}`);
  return n;
}

function compileError(def: AnyPipeline): CompileError {
  try {
    compile(def);
  } catch (e) {
    assert.ok(e instanceof CompileError, `expected a CompileError, got ${(e as Error)?.stack ?? e}`);
    return e;
  }
  assert.fail(`compile(${def.name}) did not fail`);
}

/** A linear pipeline used by several tests; `variant` changes one thing at a time. */
function trainPipeline(variant: { loadStep?: typeof load; epochsLiteral?: number; scoreFrom?: 'train' | 'load'; name?: string } = {}) {
  return pipeline({ name: variant.name ?? 'train-demo', description: 'load, train, report', params }, (p, b) => {
    const l = b.step('load', variant.loadStep ?? load, { name: p.name });
    const t = b.step('train', train, { data: l.output.data, config: { path: l.output.data.uri, epochs: variant.epochsLiteral ?? 5 } });
    const r = b.step('report', echo, { text: variant.scoreFrom === 'load' ? l.output.data.uri : t.output.model.uri });
    return { model: t.output.model, score: t.output.score, report: r.output.text };
  });
}

describe('compile(): nodes, bindings, dependencies', () => {
  const spec = compile(trainPipeline());

  test('nodes come in declaration order, each naming its step in the steps table', () => {
    assert.deepEqual(
      spec.nodes.map((n) => [n.id, n.step]),
      [
        ['load', 'test.load'],
        ['train', 'test.train'],
        ['report', 'test.echo'],
      ],
    );
    for (const n of spec.nodes) {
      assert.equal('options' in n || 'queue' in n, false, `node ${n.id} repeats no step options`);
      assert.ok(spec.steps[n.step], `node ${n.id} points into the steps table`);
    }
    assert.deepEqual(Object.keys(spec.steps).sort(), ['test.echo', 'test.load', 'test.train']);
    assert.equal(spec.name, 'train-demo');
    assert.equal(spec.description, 'load, train, report');
    assert.equal(spec.specVersion, 2);
  });

  test('the steps table holds each step\'s version, queue and options', () => {
    const l = spec.steps['test.load']!;
    assert.equal(l.version, '1');
    assert.equal(l.queue, 'cpu');
    assert.equal(l.options.startToCloseTimeout, '5m');
    assert.equal(l.options.heartbeatTimeout, '10s');
    assert.deepEqual(l.options.cache, { enabled: true, key: 'code' });
    assert.equal(l.options.retry.maximumAttempts, 3);
    const t = spec.steps['test.train']!;
    assert.equal(t.queue, 'gpu');
    assert.deepEqual(t.options.cache, { enabled: true, key: 'version' });
    assert.equal(t.options.heartbeatTimeout, undefined);
    assert.deepEqual(spec.steps['test.echo']!.options.cache, { enabled: false });
    // What the engine schedules: the table's entry for the node.
    assert.deepEqual(nodeStep(spec, node(spec, 'train')), {
      name: 'test.train',
      version: '1',
      queue: 'gpu',
      options: t.options,
      inputSchemaHash: t.inputSchemaHash,
      outputSchemaHash: t.outputSchemaHash,
    });
  });

  test('the steps table holds the input and output JSON Schemas and their hashes', () => {
    const l = spec.steps['test.load']!;
    const input = l.input as { type: string; properties: Record<string, { type: string; default?: unknown }>; required?: string[] };
    assert.equal(input.type, 'object');
    assert.deepEqual(Object.keys(input.properties), ['name', 'limit']);
    assert.equal(input.properties.limit!.default, 10);
    assert.deepEqual(input.required, ['name'], 'input as callers write it: a field with a default is optional');
    const output = l.output as { properties: Record<string, { type: string }>; required: string[] };
    assert.deepEqual(Object.keys(output.properties), ['data', 'rows', 'items']);
    assert.equal(output.properties.items!.type, 'array');
    assert.match(l.inputSchemaHash, /^[0-9a-f]{16}$/);
    assert.notEqual(l.inputSchemaHash, l.outputSchemaHash);
    assert.equal(stepInterface(load).inputSchemaHash, l.inputSchemaHash, 'a worker computes the same hash from the signature');
  });

  test('a node\'s own cache switch is kept on the node and applied over the step\'s', () => {
    assert.equal(node(spec, 'load').cache, undefined);
    assert.deepEqual(nodeStep(spec, node(spec, 'report')).options.cache, { enabled: false });
  });

  test('dependsOn comes from the refs in the inputs, nested object bindings included', () => {
    assert.deepEqual(node(spec, 'load').dependsOn, [], 'params refs are no dependency');
    // train refers to load only inside { data } and { config: { path } }.
    assert.deepEqual(node(spec, 'train').dependsOn, ['load']);
    assert.deepEqual(node(spec, 'report').dependsOn, ['train']);
  });

  test('a ref nested only inside an object binding is a dependency', () => {
    const s = compile(
      pipeline({ name: 'nested-dep', params }, (p, b) => {
        const l = b.step('load', load, { name: 'x' });
        const l2 = b.step('load-two', load, { name: 'y' });
        b.step('train', train, { data: { uri: 'file:///d', size: 1 }, config: { path: l2.output.data.uri, epochs: p.epochs } });
        return { rows: l.output.rows };
      }),
    );
    assert.deepEqual(node(s, 'train').dependsOn, ['load-two']);
  });

  test('after adds dependencies without data; dependsOn is sorted and without duplicates', () => {
    const s = compile(
      pipeline({ name: 'after-deps', params }, (_p, b) => {
        const z1 = b.step('zeta', echo, { text: 'z' });
        const a1 = b.step('alpha', echo, { text: 'a' });
        b.step('last', echo, { text: z1.output.text }, { after: [z1, a1], cache: true });
        return {};
      }),
    );
    const last = node(s, 'last');
    assert.deepEqual(last.dependsOn, ['alpha', 'zeta']);
    assert.equal(last.cache, true);
    assert.deepEqual(nodeStep(s, last).options.cache, { enabled: true }, 'node option overrides the step cache policy');
    assert.deepEqual(s.steps['test.echo']!.options.cache, { enabled: false }, 'the step entry keeps the step\'s policy');
    assert.deepEqual(node(s, 'alpha').dependsOn, []);
  });

  test('literal and ref bindings', () => {
    const l = node(spec, 'load');
    // Only the fields given are bound; the step's default (limit) is left to the step's schema.
    assert.deepEqual(l.inputs, { kind: 'object', fields: { name: { kind: 'ref', ref: { source: 'params', path: ['name'] } } } });
    assert.deepEqual(node(spec, 'train').inputs, {
      kind: 'object',
      fields: {
        data: { kind: 'ref', ref: { source: 'node', node: 'load', path: ['data'] } },
        config: {
          kind: 'object',
          fields: {
            path: { kind: 'ref', ref: { source: 'node', node: 'load', path: ['data', 'uri'] } },
            epochs: { kind: 'literal', value: 5 },
          },
        },
      },
    });
    assert.deepEqual(spec.outputs, {
      model: { kind: 'ref', ref: { source: 'node', node: 'train', path: ['model'] } },
      score: { kind: 'ref', ref: { source: 'node', node: 'train', path: ['score'] } },
      report: { kind: 'ref', ref: { source: 'node', node: 'report', path: ['text'] } },
    });
  });

  test('inputs without refs collapse into one literal; Dates become ISO strings', () => {
    const s = compile(
      pipeline({ name: 'literals', params }, (_p, b) => {
        b.step('train', train, { data: { uri: 'file:///d', size: 3 }, config: { path: 'm', epochs: 2 } });
        b.step('date', echo, { text: new Date(Date.UTC(2024, 0, 2)) as unknown as string });
        return {};
      }),
    );
    assert.deepEqual(node(s, 'train').inputs, { kind: 'literal', value: { data: { uri: 'file:///d', size: 3 }, config: { path: 'm', epochs: 2 } } });
    assert.deepEqual(node(s, 'date').inputs, { kind: 'literal', value: { text: '2024-01-02T00:00:00.000Z' } });
  });

  test('a list mixing refs and literals is a list binding', () => {
    const s = compile(
      pipeline({ name: 'lists', params }, (p, b) => {
        const l = b.step('load', load, { name: 'x' });
        b.step('total', total, { values: [{ value: l.output.rows }, { value: 2 }] as unknown as { value: number }[] });
        b.step('echo', echo, { text: p.name });
        return {};
      }),
    );
    assert.deepEqual(node(s, 'total').inputs, {
      kind: 'object',
      fields: {
        values: {
          kind: 'list',
          items: [
            { kind: 'object', fields: { value: { kind: 'ref', ref: { source: 'node', node: 'load', path: ['rows'] } } } },
            { kind: 'literal', value: { value: 2 } },
          ],
        },
      },
    });
    assert.deepEqual(node(s, 'total').dependsOn, ['load']);
  });

  test('params are a JSON schema of the params input, with defaults', () => {
    const props = spec.params.properties as Record<string, { type?: string; default?: unknown; minimum?: number }>;
    assert.equal(spec.params.type, 'object');
    assert.deepEqual(Object.keys(props).sort(), ['deploy', 'epochs', 'name', 'note']);
    assert.equal(props.name!.type, 'string');
    assert.equal(props.name!.default, 'iris');
    assert.equal(props.epochs!.default, 3);
    assert.equal(props.epochs!.minimum, 1);
    assert.equal(props.deploy!.default, false);
    // io: 'input': fields with defaults are not required of the caller.
    assert.ok(!((spec.params.required as string[] | undefined) ?? []).includes('name'));
  });

  test('the spec passes pipelineSpecSchema and survives a JSON round trip', () => {
    assert.deepEqual(pipelineSpecSchema.parse(spec), spec);
    assert.deepEqual(JSON.parse(JSON.stringify(spec)), spec);
    assert.match(spec.version, /^[0-9a-f]{12}$/);
  });
});

describe('compile(): conditions', () => {
  const spec = compile(
    pipeline({ name: 'conditional', params }, (p, b) => {
      const l = b.step('load', load, { name: p.name });
      const t = b.step('train', train, { data: l.output.data, config: { path: 'm', epochs: p.epochs } });
      b.when(and(gt(t.output.score, 0.9), or(isTrue(p.deploy), not(eq(p.name, 'test')))), () => {
        b.step('deploy', echo, { text: 'go' });
        b.when(eq(l.output.rows, 0), () => {
          b.step('alert', echo, { text: 'empty' });
        });
        b.step('after-inner', echo, { text: 'x' });
      });
      b.step('always', echo, { text: 'x' });
      return {};
    }),
  );
  const outer = {
    op: 'and',
    all: [
      { op: 'gt', left: { kind: 'ref', ref: { source: 'node', node: 'train', path: ['score'] } }, right: { kind: 'literal', value: 0.9 } },
      {
        op: 'or',
        all: [
          { op: 'truthy', value: { kind: 'ref', ref: { source: 'params', path: ['deploy'] } } },
          { op: 'not', cond: { op: 'eq', left: { kind: 'ref', ref: { source: 'params', path: ['name'] } }, right: { kind: 'literal', value: 'test' } } },
        ],
      },
    ],
  };
  const inner = { op: 'eq', left: { kind: 'ref', ref: { source: 'node', node: 'load', path: ['rows'] } }, right: { kind: 'literal', value: 0 } };

  test('nodes in a when() block carry its condition; the nodes outside do not', () => {
    assert.deepEqual(node(spec, 'deploy').when, outer);
    assert.deepEqual(node(spec, 'after-inner').when, outer, 'the inner block ends, the outer one goes on');
    assert.equal(node(spec, 'always').when, undefined);
    assert.equal(node(spec, 'load').when, undefined);
  });

  test('nested when() blocks: both conditions must hold', () => {
    assert.deepEqual(node(spec, 'alert').when, { op: 'and', all: [outer, inner] });
  });

  test('the nodes a condition refers to are dependencies', () => {
    assert.deepEqual(node(spec, 'deploy').dependsOn, ['train']);
    assert.deepEqual(node(spec, 'alert').dependsOn, ['load', 'train']);
    assert.deepEqual(node(spec, 'always').dependsOn, []);
  });

  test('when() with something other than a condition fails', () => {
    const e = compileError(
      pipeline({ name: 'bad-when', params }, (p, b) => {
        b.when(p.deploy as never, () => b.step('x', echo, { text: 'x' }));
        return {};
      }),
    );
    assert.match(e.message, /condition/);
  });
});

describe('compile(): map (fan-out)', () => {
  const spec = compile(
    pipeline({ name: 'fan-out', params }, (p, b) => {
      const l = b.step('load', load, { name: p.name });
      const scored = b.map('score', score, { over: l.output.items, parallelism: 4 }, (item) => ({ id: item.id, weight: item.weight }));
      const whole = b.map('score-whole', score, { over: l.output.items }, (item) => item);
      const sum = b.step('total', total, { values: scored.output });
      return { sum: sum.output.sum, all: whole.output };
    }),
  );

  test('map nodes record the list, parallelism (default 8) and item refs', () => {
    const m = node(spec, 'score');
    assert.deepEqual(m.map, { over: { kind: 'ref', ref: { source: 'node', node: 'load', path: ['items'] } }, parallelism: 4 });
    assert.deepEqual(m.inputs, {
      kind: 'object',
      fields: {
        id: { kind: 'ref', ref: { source: 'item', node: 'score', path: ['id'] } },
        weight: { kind: 'ref', ref: { source: 'item', node: 'score', path: ['weight'] } },
      },
    });
    assert.deepEqual(m.dependsOn, ['load'], 'the list it maps over is a dependency; the item is not');
    const w = node(spec, 'score-whole');
    assert.equal(w.map?.parallelism, 8);
    assert.deepEqual(w.inputs, { kind: 'ref', ref: { source: 'item', node: 'score-whole', path: [] } });
    assert.equal(node(spec, 'load').map, undefined);
  });

  test('the list of results feeds later nodes', () => {
    const t = node(spec, 'total');
    assert.deepEqual(t.inputs, { kind: 'object', fields: { values: { kind: 'ref', ref: { source: 'node', node: 'score', path: [] } } } });
    assert.deepEqual(t.dependsOn, ['score']);
    assert.deepEqual(spec.outputs.all, { kind: 'ref', ref: { source: 'node', node: 'score-whole', path: [] } });
  });

  for (const parallelism of [0, 1.5, -1]) {
    test(`parallelism ${parallelism} is refused, naming the node`, () => {
      const e = compileError(
        pipeline({ name: 'bad-parallelism', params }, (p, b) => {
          const l = b.step('load', load, { name: p.name });
          b.map('score', score, { over: l.output.items, parallelism }, (item) => item);
          return {};
        }),
      );
      assert.equal(e.node, 'score');
      assert.match(e.message, /parallelism/);
    });
  }

  test('itemsPerTask is recorded when set and refused out of range, naming the node', () => {
    const batched = compile(
      pipeline({ name: 'batched', params }, (p, b) => {
        const l = b.step('load', load, { name: p.name });
        b.map('score', score, { over: l.output.items, itemsPerTask: 16 }, (item) => item);
        return {};
      }),
    );
    assert.equal(node(batched, 'score').map?.itemsPerTask, 16);
    assert.equal(node(spec, 'score').map?.itemsPerTask, undefined, 'absent: the engine sizes batches');
    for (const itemsPerTask of [0, 2.5, 257]) {
      const e = compileError(
        pipeline({ name: 'bad-batch', params }, (p, b) => {
          const l = b.step('load', load, { name: p.name });
          b.map('score', score, { over: l.output.items, itemsPerTask }, (item) => item);
          return {};
        }),
      );
      assert.equal(e.node, 'score');
      assert.match(e.message, /itemsPerTask must be an integer from 1 to 256/);
    }
  });
});

describe('compile(): sub-pipelines', () => {
  const innerParams = z.object({ text: z.string(), rows: z.number().default(7), tag: z.string().default('inner') });
  const inner = pipeline({ name: 'inner', params: innerParams }, (p, b) => {
    const first = b.step('first', echo, { text: p.text });
    const t = b.step('train', train, { data: { uri: p.tag, size: p.rows }, config: { path: first.output.text, epochs: 1 } });
    return { text: first.output.text, model: t.output.model, tag: p.tag };
  });

  const spec = compile(
    pipeline({ name: 'outer', params }, (p, b) => {
      const l = b.step('load', load, { name: p.name });
      const a = b.sub('lit', inner, { text: 'hello' });
      const c = b.sub('wired', inner, { text: l.output.data.uri, rows: p.epochs });
      b.step('use', train, { data: c.output.model, config: { path: a.output.text, epochs: 1 } });
      b.step('use-param', echo, { text: a.output.tag });
      return { model: c.output.model, text: a.output.text };
    }),
  );

  test('sub-pipeline nodes are inlined under "<id>/", grouped by the sub node', () => {
    assert.deepEqual(
      spec.nodes.map((n) => n.id),
      ['load', 'lit/first', 'lit/train', 'wired/first', 'wired/train', 'use', 'use-param'],
    );
    assert.equal(node(spec, 'lit/first').group, 'lit');
    assert.equal(node(spec, 'wired/train').group, 'wired');
    assert.equal(node(spec, 'load').group, undefined);
    assert.deepEqual(node(spec, 'lit/train').dependsOn, ['lit/first'], 'dependencies inside the sub are prefixed');
  });

  test('params bound to literals are substituted, defaults fill the rest', () => {
    // The param became a literal, so the inputs are one literal.
    assert.deepEqual(node(spec, 'lit/first').inputs, { kind: 'literal', value: { text: 'hello' } });
    assert.deepEqual(node(spec, 'lit/first').dependsOn, []);
    assert.deepEqual(node(spec, 'lit/train').inputs, {
      kind: 'object',
      fields: {
        data: { kind: 'literal', value: { uri: 'inner', size: 7 } },
        config: { kind: 'object', fields: { path: { kind: 'ref', ref: { source: 'node', node: 'lit/first', path: ['text'] } }, epochs: { kind: 'literal', value: 1 } } },
      },
    });
  });

  test('params bound to refs are substituted by those refs, in the parent\'s terms', () => {
    assert.deepEqual(node(spec, 'wired/first').inputs, {
      kind: 'object',
      fields: { text: { kind: 'ref', ref: { source: 'node', node: 'load', path: ['data', 'uri'] } } },
    });
    assert.deepEqual(node(spec, 'wired/first').dependsOn, ['load'], 'a node ref bound to a param is a dependency');
    const data = (node(spec, 'wired/train').inputs as { fields: Record<string, unknown> }).fields.data;
    assert.deepEqual(data, {
      kind: 'object',
      fields: { uri: { kind: 'literal', value: 'inner' }, size: { kind: 'ref', ref: { source: 'params', path: ['epochs'] } } },
    });
  });

  test('sub-pipeline outputs resolve to the inner nodes for later parent nodes and outputs', () => {
    const use = node(spec, 'use');
    assert.deepEqual(use.inputs, {
      kind: 'object',
      fields: {
        data: { kind: 'ref', ref: { source: 'node', node: 'wired/train', path: ['model'] } },
        config: { kind: 'object', fields: { path: { kind: 'ref', ref: { source: 'node', node: 'lit/first', path: ['text'] } }, epochs: { kind: 'literal', value: 1 } } },
      },
    });
    assert.deepEqual(use.dependsOn, ['lit/first', 'wired/train']);
    // An output that is a sub param resolves to what the param was bound to (here, its default).
    assert.deepEqual(node(spec, 'use-param').inputs, { kind: 'literal', value: { text: 'inner' } });
    assert.deepEqual(node(spec, 'use-param').dependsOn, []);
    assert.deepEqual(spec.outputs, {
      model: { kind: 'ref', ref: { source: 'node', node: 'wired/train', path: ['model'] } },
      text: { kind: 'ref', ref: { source: 'node', node: 'lit/first', path: ['text'] } },
    });
  });

  test('field refs into a sub output go through to the inner node', () => {
    const s = compile(
      pipeline({ name: 'outer-field', params }, (_p, b) => {
        const a = b.sub('a', inner, { text: 'x' });
        b.step('uri', echo, { text: a.output.model.uri });
        return {};
      }),
    );
    assert.deepEqual(node(s, 'uri').inputs, { kind: 'object', fields: { text: { kind: 'ref', ref: { source: 'node', node: 'a/train', path: ['model', 'uri'] } } } });
    assert.deepEqual(node(s, 'uri').dependsOn, ['a/train']);
  });

  test('a param bound to an object binding with refs in it: its refs are dependencies where it is used', () => {
    const withConfig = pipeline({ name: 'with-config', params: z.object({ cfg: z.object({ path: z.string(), epochs: z.number() }) }) }, (p, b) => {
      b.step('fit', train, { data: { uri: 'u', size: 1 }, config: p.cfg });
      b.step('path', echo, { text: p.cfg.path });
      return {};
    });
    const s = compile(
      pipeline({ name: 'outer-config', params }, (p, b) => {
        const l = b.step('load', load, { name: p.name });
        b.sub('c', withConfig, { cfg: { path: l.output.data.uri, epochs: p.epochs } });
        return {};
      }),
    );
    const path = { kind: 'ref', ref: { source: 'node', node: 'load', path: ['data', 'uri'] } };
    assert.deepEqual((node(s, 'c/fit').inputs as { fields: Record<string, unknown> }).fields.config, {
      kind: 'object',
      fields: { path, epochs: { kind: 'ref', ref: { source: 'params', path: ['epochs'] } } },
    });
    assert.deepEqual(node(s, 'c/fit').dependsOn, ['load']);
    // A field of the bound object: only that field's binding.
    assert.deepEqual(node(s, 'c/path').inputs, { kind: 'object', fields: { text: path } });
    assert.deepEqual(node(s, 'c/path').dependsOn, ['load']);
  });

  test('a param bound to a list with refs in it: its refs are dependencies where it is used', () => {
    const summing = pipeline({ name: 'summing', params: z.object({ values: z.array(z.object({ value: z.number() })) }) }, (p, b) => {
      b.step('sum', total, { values: p.values });
      return {};
    });
    const s = compile(
      pipeline({ name: 'outer-list', params }, (p, b) => {
        const l = b.step('load', load, { name: p.name });
        b.sub('s', summing, { values: [{ value: l.output.rows }] as unknown as { value: number }[] });
        return {};
      }),
    );
    assert.deepEqual(node(s, 's/sum').dependsOn, ['load']);
    assert.equal(((node(s, 's/sum').inputs as { fields: Record<string, { kind: string }> }).fields.values)!.kind, 'list');
  });

  test('sub-pipelines nest, and when() applies to the nodes of a sub inside it', () => {
    const middle = pipeline({ name: 'middle', params: z.object({ word: z.string() }) }, (p, b) => {
      const i = b.sub('in', inner, { text: p.word, tag: 'deep' });
      return { text: i.output.text };
    });
    const s = compile(
      pipeline({ name: 'outer-nested', params }, (p, b) => {
        b.when(isTrue(p.deploy), () => {
          const m = b.sub('mid', middle, { word: p.name });
          b.step('end', echo, { text: m.output.text });
        });
        return {};
      }),
    );
    assert.deepEqual(
      s.nodes.map((n) => [n.id, n.group]),
      [
        ['mid/in/first', 'mid/in'],
        ['mid/in/train', 'mid/in'],
        ['end', undefined],
      ],
    );
    assert.deepEqual(node(s, 'mid/in/first').inputs, { kind: 'object', fields: { text: { kind: 'ref', ref: { source: 'params', path: ['name'] } } } });
    const cond = { op: 'truthy', value: { kind: 'ref', ref: { source: 'params', path: ['deploy'] } } };
    for (const n of s.nodes) assert.deepEqual(n.when, cond, n.id);
    assert.deepEqual(node(s, 'end').inputs, { kind: 'object', fields: { text: { kind: 'ref', ref: { source: 'node', node: 'mid/in/first', path: ['text'] } } } });
    assert.deepEqual(node(s, 'mid/in/train').inputs, {
      kind: 'object',
      fields: {
        data: { kind: 'literal', value: { uri: 'deep', size: 7 } },
        config: { kind: 'object', fields: { path: { kind: 'ref', ref: { source: 'node', node: 'mid/in/first', path: ['text'] } }, epochs: { kind: 'literal', value: 1 } } },
      },
    });
  });

  test('a sub node name may not clash with a node', () => {
    const e = compileError(
      pipeline({ name: 'sub-dup', params }, (_p, b) => {
        b.step('x', echo, { text: 'x' });
        b.sub('x', inner, { text: 'x' });
        return {};
      }),
    );
    assert.equal(e.node, 'x');
    assert.match(e.message, /duplicate/);
  });

  test('the spec with sub-pipelines passes pipelineSpecSchema', () => {
    assert.deepEqual(pipelineSpecSchema.parse(spec), spec);
  });

  test('after: a sub node waits for all its nodes (dependsOn names real nodes only)', () => {
    const s = compile(
      pipeline({ name: 'after-sub', params }, (_p, b) => {
        const a = b.sub('a', inner, { text: 'x' });
        b.step('later', echo, { text: 'y' }, { after: [a] });
        return {};
      }),
    );
    const ids = new Set(s.nodes.map((n) => n.id));
    for (const n of s.nodes) for (const d of n.dependsOn) assert.ok(ids.has(d), `${n.id} depends on "${d}", which is no node`);
    assert.deepEqual(node(s, 'later').dependsOn, ['a/first', 'a/train']);
  });

  test('sub params bound to a whole object ref keep their bindings', () => {
    const s = compile(
      pipeline({ name: 'whole-params', params: z.object({ text: z.string() }) }, (p, b) => {
        b.sub('a', inner, p);
        return {};
      }),
    );
    assert.deepEqual(node(s, 'a/first').inputs, { kind: 'object', fields: { text: { kind: 'ref', ref: { source: 'params', path: ['text'] } } } });
  });

  test('a ref used as a value (template literal) fails naming the ref', () => {
    assert.throws(
      () =>
        compile(
          pipeline({ name: 'templated', params: z.object({ text: z.string() }) }, (p, b) => {
            b.step('x', echo, { text: `${p.text}!` });
            return {};
          }),
        ),
      /a ref to params\.text was used as a value/,
    );
  });
});

describe('compile(): version hash', () => {
  test('compiling twice gives the same spec and version', () => {
    const def = trainPipeline();
    const a = compile(def);
    const b = compile(def);
    assert.deepEqual(a, b);
    assert.equal(a.version, b.version);
  });

  test('equal pipelines declared separately get the same version', () => {
    assert.equal(compile(trainPipeline()).version, compile(trainPipeline()).version);
    // The version does not depend on object key order.
    const x = pipeline({ name: 'order', params }, (p, b) => {
      b.step('t', train, { data: { uri: 'u', size: 1 }, config: { path: p.name, epochs: 1 } });
      return {};
    });
    const y = pipeline({ name: 'order', params }, (p, b) => {
      b.step('t', train, { config: { epochs: 1, path: p.name }, data: { size: 1, uri: 'u' } });
      return {};
    });
    assert.equal(compile(x).version, compile(y).version);
  });

  test('the version changes with a step version, a literal, the wiring, the name or the params', () => {
    const base = compile(trainPipeline()).version;
    // Same as `load` in every way but its version.
    const load2 = step({ name: 'test.load', version: '2', input: load.input, output: load.output, queue: 'cpu', timeouts: { startToClose: '5m', heartbeat: '10s' } });
    assert.deepEqual({ ...load2, version: '1' }, { ...load });
    const variants = {
      stepVersion: compile(trainPipeline({ loadStep: load2 })).version,
      literal: compile(trainPipeline({ epochsLiteral: 6 })).version,
      wiring: compile(trainPipeline({ scoreFrom: 'load' })).version,
      name: compile(trainPipeline({ name: 'train-demo-two' })).version,
      params: compile(
        pipeline({ name: 'train-demo', description: 'load, train, report', params: params.extend({ epochs: z.number().int().min(1).default(4) }) }, (p, b) => {
          const l = b.step('load', load, { name: p.name });
          const t = b.step('train', train, { data: l.output.data, config: { path: l.output.data.uri, epochs: 5 } });
          const r = b.step('report', echo, { text: t.output.model.uri });
          return { model: t.output.model, score: t.output.score, report: r.output.text };
        }),
      ).version,
    };
    for (const [what, v] of Object.entries(variants)) assert.notEqual(v, base, `changing the ${what} must change the version`);
    assert.equal(new Set(Object.values(variants)).size, Object.keys(variants).length);
  });

  test('a step schema change changes its hash and the version; a reworded description changes neither', () => {
    const base = compile(trainPipeline());
    const withInput = (input: z.ZodObject) => step({ name: 'test.load', version: '1', input, output: load.output, queue: 'cpu', timeouts: { startToClose: '5m', heartbeat: '10s' } }) as unknown as typeof load;
    const typeChanged = compile(trainPipeline({ loadStep: withInput(z.object({ name: z.string(), limit: z.string().default('10') })) }));
    assert.notEqual(typeChanged.steps['test.load']!.inputSchemaHash, base.steps['test.load']!.inputSchemaHash);
    assert.equal(typeChanged.steps['test.load']!.outputSchemaHash, base.steps['test.load']!.outputSchemaHash);
    assert.notEqual(typeChanged.version, base.version);
    const described = compile(trainPipeline({ loadStep: withInput(z.object({ name: z.string().describe('dataset name'), limit: z.number().default(10) })) }));
    assert.equal((described.steps['test.load']!.input.properties as Record<string, { description?: string }>).name!.description, 'dataset name');
    assert.equal(described.steps['test.load']!.inputSchemaHash, base.steps['test.load']!.inputSchemaHash, 'annotations are no interface change');
  });

  test('the same nodes declared in another order give another version (node order is part of the spec)', () => {
    const ab = pipeline({ name: 'ab', params }, (_p, b) => {
      b.step('a', echo, { text: 'a' });
      b.step('b', echo, { text: 'b' });
      return {};
    });
    const ba = pipeline({ name: 'ab', params }, (_p, b) => {
      b.step('b', echo, { text: 'b' });
      b.step('a', echo, { text: 'a' });
      return {};
    });
    assert.notEqual(compile(ab).version, compile(ba).version);
  });
});

describe('compile(): errors name the node', () => {
  test('duplicate node names', () => {
    const e = compileError(
      pipeline({ name: 'dup', params }, (_p, b) => {
        b.step('same', echo, { text: 'a' });
        b.step('same', echo, { text: 'b' });
        return {};
      }),
    );
    assert.equal(e.node, 'same');
    assert.equal(e.pipeline, 'dup');
    assert.match(e.message, /pipeline dup, node "same": duplicate node name/);
  });

  test('duplicate names inside a sub-pipeline name the prefixed node', () => {
    const inner = pipeline({ name: 'inner-dup', params: z.object({}) }, (_p, b) => {
      b.step('x', echo, { text: 'a' });
      b.step('x', echo, { text: 'b' });
      return {};
    });
    const e = compileError(
      pipeline({ name: 'outer-dup', params }, (_p, b) => {
        b.sub('s', inner, {});
        return {};
      }),
    );
    assert.equal(e.node, 's/x');
  });

  test('a non-step passed as a step', () => {
    const e = compileError(
      pipeline({ name: 'not-a-step', params }, (_p, b) => {
        b.step('fake', { name: 'test.echo', version: '1', input: echo.input, output: echo.output } as unknown as typeof echo, { text: 'x' });
        return {};
      }),
    );
    assert.equal(e.node, 'fake');
    assert.match(e.message, /unknown step/);
  });

  test('one step name used with two signatures', () => {
    const echo2 = step({ name: 'test.echo', input: z.object({ text: z.string(), loud: z.boolean() }), output: echo.output, cache: false });
    const e = compileError(
      pipeline({ name: 'two-echoes', params }, (_p, b) => {
        b.step('a', echo, { text: 'a' });
        b.step('b', echo2, { text: 'b', loud: true });
        return {};
      }),
    );
    assert.equal(e.node, 'b');
    assert.match(e.message, /step "test\.echo" is used with two different signatures/);
  });

  test('a non-pipeline passed to sub()', () => {
    const e = compileError(
      pipeline({ name: 'not-a-pipeline', params }, (_p, b) => {
        b.sub('fake', { name: 'x', params: z.object({}), build: () => ({}) } as never, {});
        return {};
      }),
    );
    assert.equal(e.node, 'fake');
  });

  test('a ref to a node of another pipeline', () => {
    let captured: RefTree<{ text: string }> | undefined;
    const a = pipeline({ name: 'pipe-a', params }, (_p, b) => {
      captured = b.step('source', echo, { text: 'a' }).output;
      return {};
    });
    compile(a);
    assert.ok(captured);
    const stolen = captured;
    const e = compileError(
      pipeline({ name: 'pipe-b', params }, (_p, b) => {
        b.step('source', echo, { text: 'b' }); // same id here: the owner, not the name, decides
        b.step('thief', echo, { text: stolen.text });
        return {};
      }),
    );
    assert.equal(e.pipeline, 'pipe-b');
    assert.equal(e.node, 'thief');
    assert.match(e.message, /another pipeline/);
  });

  test('a ref to the params of another pipeline, and one from an earlier compile of the same pipeline', () => {
    let first: Ref<string> | undefined;
    const def = pipeline({ name: 'leaky', params }, (p, b) => {
      b.step('use', echo, { text: first ?? p.name });
      first ??= p.name;
      return {};
    });
    compile(def); // captures the params ref of this compile
    const e = compileError(def); // a second compile has a new owner: the old ref is foreign
    assert.equal(e.node, 'use');
    assert.match(e.message, /params of another pipeline/);
  });

  test('an item ref used outside its map node', () => {
    let item: RefTree<{ id: string; weight: number }> | undefined;
    const e = compileError(
      pipeline({ name: 'item-leak', params }, (p, b) => {
        const l = b.step('load', load, { name: p.name });
        b.map('score', score, { over: l.output.items }, (i) => {
          item = i;
          return i;
        });
        b.step('later', echo, { text: item!.id });
        return {};
      }),
    );
    assert.equal(e.node, 'later');
    assert.match(e.message, /fan-out item of node "score"/);
  });

  test('an item ref of one map node used in another', () => {
    let item: RefTree<{ id: string; weight: number }> | undefined;
    const e = compileError(
      pipeline({ name: 'item-cross', params }, (p, b) => {
        const l = b.step('load', load, { name: p.name });
        b.map('one', score, { over: l.output.items }, (i) => {
          item = i;
          return i;
        });
        b.map('two', score, { over: l.output.items }, () => ({ id: item!.id, weight: 1 }));
        return {};
      }),
    );
    assert.equal(e.node, 'two');
  });

  for (const bad of ['Upper', '1st', 'with_underscore', 'a/b', '', 'trailing ']) {
    test(`bad node name ${JSON.stringify(bad)}`, () => {
      const e = compileError(
        pipeline({ name: 'bad-name', params }, (_p, b) => {
          b.step(bad, echo, { text: 'x' });
          return {};
        }),
      );
      assert.equal(e.node, bad);
      assert.match(e.message, /node names/);
    });
  }

  test('a bad sub node name', () => {
    const inner = pipeline({ name: 'inner-ok', params: z.object({}) }, () => ({}));
    const e = compileError(
      pipeline({ name: 'bad-sub-name', params }, (_p, b) => {
        b.sub('Sub', inner, {});
        return {};
      }),
    );
    assert.equal(e.node, 'Sub');
  });

  test('after: a node that is not in this pipeline', () => {
    const e = compileError(
      pipeline({ name: 'after-unknown', params }, (_p, b) => {
        b.step('x', echo, { text: 'x' }, { after: [{ id: 'ghost', output: undefined as never }] });
        return {};
      }),
    );
    assert.equal(e.node, 'x');
    assert.match(e.message, /ghost/);
  });

  test('non-JSON literals are refused, naming the node', () => {
    for (const [label, value] of [
      ['function', () => 1],
      ['NaN', NaN],
      ['Infinity', Infinity],
      ['bigint', 1n],
    ] as const) {
      const e = compileError(
        pipeline({ name: 'non-json', params }, (_p, b) => {
          b.step('n', echo, { text: value as never });
          return {};
        }),
      );
      assert.equal(e.node, 'n', label);
    }
  });

  test('pipeline() refuses a bad pipeline name; compile() refuses a non-pipeline', () => {
    assert.throws(() => pipeline({ name: 'Bad Name', params }, () => ({})), /pipeline name/);
    assert.throws(() => compile({ name: 'x' } as never), /pipeline\(\)/);
  });
});

describe('specs recorded before the steps table (specVersion 1)', () => {
  test('nodeStep() reads the step, queue and options from the node itself', () => {
    // The shape a run started before the steps table has in its history (test/fixtures/histories).
    const options = { startToCloseTimeout: '1m', retry: { maximumAttempts: 3 }, cache: { enabled: true, key: 'code' as const } };
    const old = {
      specVersion: 1,
      name: 'old',
      version: '0123456789ab',
      params: {},
      nodes: [{ id: 'greet', step: { name: 'hello.greet', version: '1' }, queue: 'gpu', inputs: { kind: 'literal', value: {} }, options, dependsOn: [], summary: 'greet' }],
      outputs: {},
    } as unknown as PipelineSpec;
    assert.deepEqual(nodeStep(old, old.nodes[0]!), { name: 'hello.greet', version: '1', queue: 'gpu', options });
  });
});

describe('step(): local steps', () => {
  const io = { input: z.object({ x: z.number() }), output: z.object({ y: z.number() }) };
  test('a local step is recorded in its options (the spec\'s steps table) and refused on the GPU queue or with a heartbeat', () => {
    const local = step({ name: 'test.local', ...io, local: true, timeouts: { startToClose: '10s' } });
    const spec = compile(
      pipeline({ name: 'locals', params: z.object({ x: z.number() }) }, (p, b) => {
        const n = b.step('n', local, { x: p.x });
        return { y: n.output.y };
      }),
    );
    assert.equal(nodeStep(spec, node(spec, 'n')).options.local, true);
    assert.equal(nodeStep(spec, node(spec, 'n')).queue, 'cpu');
    assert.throws(() => step({ name: 'test.local-gpu', ...io, local: true, queue: 'gpu' }), /queue must be cpu/);
    assert.throws(() => step({ name: 'test.local-hb', ...io, local: true, timeouts: { heartbeat: '5s' } }), /cannot heartbeat/);
  });
});
