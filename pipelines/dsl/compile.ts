import { z } from 'zod';
import { approvalStep } from './approval';
import { canonicalJson, sha256Hex } from './canonical';
import { COND, isCondition, type Condition } from './conditions';
import { isPipeline, type AnyPipeline, type Builder, type Node, type NodeOptions } from './pipeline';
import { isRef, makeRef, refData, type RefData } from './refs';
import { MAX_ITEMS_PER_TASK } from './item-batches';
import { pipelineSpecSchema, type BindingExpr, type ConditionExpr, type NodeSpec, type PipelineSpec, type StepSpec } from './spec';
import { isStep, stepOptions, type AnyStep } from './step';
import { stepInterface } from './step-interface';

export class CompileError extends Error {
  override name = 'CompileError';
  constructor(
    readonly pipeline: string,
    readonly node: string | undefined,
    message: string,
  ) {
    super(`pipeline ${pipeline}${node ? `, node "${node}"` : ''}: ${message}`);
  }
}

const NODE_ID = /^[a-z][a-z0-9-]*$/;

/** One build() invocation: the root pipeline, or a sub-pipeline inlined under a prefix. */
interface Scope {
  owner: object;
  prefix: string;
  /** For a sub-pipeline: its params, as bindings already expressed in the parent's terms. */
  params?: Record<string, BindingExpr>;
  group?: string;
}

/**
 * Runs a pipeline's build function against a recording builder and returns its PipelineSpec:
 * nodes with their bindings, conditions and fan-outs, dependencies derived from the refs they use,
 * sub-pipelines inlined, and a stable hash of it all as the version.
 */
export function compile(def: AnyPipeline): PipelineSpec {
  if (!isPipeline(def)) throw new Error('compile() expects a pipeline declared with pipeline()');
  const nodes: NodeSpec[] = [];
  const steps: Record<string, StepSpec> = {};
  const byId = new Map<string, NodeSpec>();
  /** Sub-pipeline nodes are aliases for the sub-pipeline's outputs. */
  const aliases = new Map<string, Record<string, BindingExpr>>();
  const scopes = new Map<object, Scope>();
  const conditions: ConditionExpr[] = [];
  let current: Scope;

  const fail = (node: string | undefined, msg: string): never => {
    throw new CompileError(def.name, node, msg);
  };

  function pathInto(expr: BindingExpr, path: string[], where: string): BindingExpr {
    let e = expr;
    for (let i = 0; i < path.length; i++) {
      const key = path[i]!;
      if (e.kind === 'ref') return { kind: 'ref', ref: { ...e.ref, path: [...e.ref.path, ...path.slice(i)] } };
      if (e.kind === 'object') {
        const f = e.fields[key];
        if (!f) return { kind: 'literal', value: undefined };
        e = f;
        continue;
      }
      if (e.kind === 'literal') {
        let v: unknown = e.value;
        for (const k of path.slice(i)) v = v == null ? undefined : (v as Record<string, unknown>)[k];
        return { kind: 'literal', value: v };
      }
      fail(where, `cannot take field "${key}" of a list binding`);
    }
    return e;
  }

  /** Turns a ref made in some scope into an expression in root terms, collecting node deps. */
  function refToExpr(r: RefData, where: string, deps: Set<string>, itemOf?: string): BindingExpr {
    // The run context is the same for every pipeline of a run, sub-pipelines included.
    if (r.source.kind === 'context') return { kind: 'ref', ref: { source: 'context', path: r.path } };
    const scope = scopes.get(r.owner);
    if (!scope) {
      const node = r.source.kind === 'params' ? 'params' : r.source.node;
      return fail(where, `refers to ${node === 'params' ? 'the params' : `node "${node}"`} of another pipeline; pass it in as a param instead`);
    }
    if (r.source.kind === 'params') {
      if (scope.params) {
        const [head, ...rest] = r.path;
        if (head === undefined) return fail(where, 'cannot bind a sub-pipeline\'s whole params object; refer to a field');
        const bound = scope.params[head] ?? { kind: 'literal', value: undefined };
        return collectDeps(pathInto(bound, rest, where), deps);
      }
      return { kind: 'ref', ref: { source: 'params', path: r.path } };
    }
    const nodeId = r.source.node;
    if (r.source.kind === 'item') {
      if (nodeId !== itemOf) fail(where, `uses the fan-out item of node "${nodeId}" outside that node's inputs`);
      return { kind: 'ref', ref: { source: 'item', node: nodeId, path: r.path } };
    }
    const alias = aliases.get(nodeId);
    if (alias) {
      const [head, ...rest] = r.path;
      if (head === undefined) return fail(where, `cannot bind all outputs of sub-pipeline "${nodeId}" at once; refer to one output`);
      const out = alias[head];
      if (!out) return fail(where, `sub-pipeline "${nodeId}" has no output "${head}"`);
      return collectDeps(pathInto(out, rest, where), deps);
    }
    if (!byId.has(nodeId)) fail(where, `refers to unknown node "${nodeId}"`);
    deps.add(nodeId);
    return { kind: 'ref', ref: { source: 'node', node: nodeId, path: r.path } };
  }

  function collectDeps(e: BindingExpr, deps: Set<string>): BindingExpr {
    if (e.kind === 'ref' && e.ref.source === 'node' && e.ref.node) deps.add(e.ref.node);
    if (e.kind === 'object') Object.values(e.fields).forEach((f) => collectDeps(f, deps));
    if (e.kind === 'list') e.items.forEach((f) => collectDeps(f, deps));
    return e;
  }

  function toExpr(v: unknown, where: string, deps: Set<string>, itemOf?: string): BindingExpr {
    if (isRef(v)) return refToExpr(refData(v), where, deps, itemOf);
    if (Array.isArray(v)) {
      const items = v.map((x) => toExpr(x, where, deps, itemOf));
      return items.every((i) => i.kind === 'literal') ? { kind: 'literal', value: items.map((i) => (i as { value: unknown }).value) } : { kind: 'list', items };
    }
    if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const fields: Record<string, BindingExpr> = {};
      for (const [k, x] of Object.entries(v)) if (x !== undefined) fields[k] = toExpr(x, where, deps, itemOf);
      const all = Object.values(fields);
      return all.every((i) => i.kind === 'literal')
        ? { kind: 'literal', value: Object.fromEntries(Object.entries(fields).map(([k, i]) => [k, (i as { value: unknown }).value])) }
        : { kind: 'object', fields };
    }
    if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') fail(where, `inputs must be JSON values or refs, got a ${typeof v}`);
    if (typeof v === 'number' && !Number.isFinite(v)) fail(where, `inputs must be finite numbers, got ${v}`);
    return { kind: 'literal', value: v instanceof Date ? v.toISOString() : v };
  }

  function condToExpr(c: Condition, where: string, deps: Set<string>): ConditionExpr {
    if (!isCondition(c)) return fail(where, 'when() expects a condition built with eq/gt/and/… from the DSL');
    const b = c[COND];
    switch (b.op) {
      case 'and':
      case 'or':
        return { op: b.op, all: b.all.map((x) => condToExpr(x, where, deps)) };
      case 'not':
        return { op: 'not', cond: condToExpr(b.cond, where, deps) };
      case 'truthy':
        return { op: 'truthy', value: toExpr(b.value, where, deps) };
      default:
        return { op: b.op, left: toExpr(b.left, where, deps), right: toExpr(b.right, where, deps) };
    }
  }

  function addNode(
    localId: string,
    stepSig: unknown,
    build: (deps: Set<string>, id: string) => { inputs: BindingExpr; map?: NodeSpec['map']; approval?: NodeSpec['approval'] },
    opts?: NodeOptions,
  ): Node<unknown> {
    const id = current.prefix + localId;
    if (!NODE_ID.test(localId)) fail(id, 'node names are lowercase words joined by "-"');
    if (byId.has(id) || aliases.has(id)) fail(id, 'duplicate node name');
    if (!isStep(stepSig)) fail(id, 'is not a step declared with step() (unknown step)');
    const s = stepSig as AnyStep;
    const deps = new Set<string>();
    const { inputs, map, approval } = build(deps, id);
    for (const a of opts?.after ?? []) {
      if (byId.has(a.id)) deps.add(a.id);
      else if (aliases.has(a.id)) {
        // After a sub-pipeline: after every node it added.
        for (const n of byId.keys()) if (n.startsWith(`${a.id}/`)) deps.add(n);
      } else fail(id, `after: unknown node "${a.id}"`);
    }
    const when = conditions.length === 0 ? undefined : conditions.length === 1 ? conditions[0] : { op: 'and' as const, all: [...conditions] };
    if (when) collectCondDeps(when, deps);
    addStep(id, s);
    const spec: NodeSpec = {
      id,
      step: s.name,
      inputs,
      ...(opts?.cache !== undefined ? { cache: opts.cache } : {}),
      dependsOn: [...deps].sort(),
      ...(when ? { when } : {}),
      ...(map ? { map } : {}),
      ...(current.group ? { group: current.group } : {}),
      summary: (approval ? `${id} · approval: ${approval.prompt}` : `${id} · ${s.name}@${s.version} (${s.queue})${map ? ' ×N' : ''}`).slice(0, 200),
      ...(approval ? { approval } : {}),
    };
    nodes.push(spec);
    byId.set(id, spec);
    return { id, output: makeRef({ source: { kind: 'node', node: id }, path: [], owner: current.owner }) };
  }

  /** The step's entry in the steps table; one name, one signature per pipeline (a worker implements one). */
  function addStep(nodeId: string, s: AnyStep): void {
    const io = stepInterface(s);
    const entry: StepSpec = {
      version: s.version,
      queue: s.queue,
      ...(s.description ? { description: s.description } : {}),
      options: stepOptions(s),
      input: io.input,
      output: io.output,
      inputSchemaHash: io.inputSchemaHash,
      outputSchemaHash: io.outputSchemaHash,
    };
    const known = steps[s.name];
    if (!known) steps[s.name] = entry;
    else if (canonicalJson(known) !== canonicalJson(entry)) {
      const what = known.version !== entry.version ? `versions ${known.version} and ${entry.version}` : 'two different signatures (schemas, queue or options)';
      fail(nodeId, `step "${s.name}" is used with ${what}; a pipeline can use one signature per step name`);
    }
  }

  function collectCondDeps(c: ConditionExpr, deps: Set<string>): void {
    if ('all' in c) c.all.forEach((x) => collectCondDeps(x, deps));
    else if ('cond' in c) collectCondDeps(c.cond, deps);
    else if ('value' in c) collectDeps(c.value, deps);
    else {
      collectDeps(c.left, deps);
      collectDeps(c.right, deps);
    }
  }

  const builder: Builder = {
    get context() {
      return makeRef({ source: { kind: 'context' }, path: [], owner: current.owner }) as never;
    },
    step(id, s, inputs, opts) {
      return addNode(id, s, (deps, full) => ({ inputs: toExpr(inputs, full, deps) }), opts) as never;
    },
    map(id, s, fanOut, inputsFn, opts) {
      return addNode(
        id,
        s,
        (deps, full) => {
          const over = toExpr(fanOut.over, full, deps);
          const item = makeRef({ source: { kind: 'item', node: full }, path: [], owner: current.owner });
          const inputs = toExpr(inputsFn(item as never), full, deps, full);
          const parallelism = fanOut.parallelism ?? 8;
          if (!Number.isInteger(parallelism) || parallelism < 1) fail(full, `parallelism must be a positive integer, got ${parallelism}`);
          const { itemsPerTask } = fanOut;
          if (itemsPerTask !== undefined && (!Number.isInteger(itemsPerTask) || itemsPerTask < 1 || itemsPerTask > MAX_ITEMS_PER_TASK)) {
            fail(full, `itemsPerTask must be an integer from 1 to ${MAX_ITEMS_PER_TASK}, got ${itemsPerTask}`);
          }
          return { inputs, map: { over, parallelism, ...(itemsPerTask === undefined ? {} : { itemsPerTask }) } };
        },
        opts,
      ) as never;
    },
    approval(id, o) {
      return addNode(
        id,
        approvalStep,
        () => ({ inputs: { kind: 'literal', value: {} }, approval: { prompt: o.prompt, timeout: o.timeout, onTimeout: o.onTimeout } }),
        { after: o.after },
      ) as never;
    },
    when(cond, body) {
      const deps = new Set<string>();
      conditions.push(condToExpr(cond, `${current.prefix}when`, deps));
      try {
        body();
      } finally {
        conditions.pop();
      }
    },
    sub(localId, sub, params) {
      const id = current.prefix + localId;
      if (!NODE_ID.test(localId)) fail(id, 'node names are lowercase words joined by "-"');
      if (byId.has(id) || aliases.has(id)) fail(id, 'duplicate node name');
      if (!isPipeline(sub)) fail(id, 'sub() expects a pipeline declared with pipeline()');
      const deps = new Set<string>();
      const provided = toExpr(params, id, deps);
      const fields: Record<string, BindingExpr> = {};
      if (provided.kind === 'object') Object.assign(fields, provided.fields);
      else if (provided.kind === 'literal') {
        for (const [k, v] of Object.entries((provided.value ?? {}) as object)) fields[k] = { kind: 'literal', value: v };
      } else if (provided.kind === 'ref') {
        // A whole object bound at once (e.g. the parent's params): bind each param to its field.
        for (const k of Object.keys(sub.params.shape as object)) fields[k] = pathInto(provided, [k], id);
      } else fail(id, 'sub-pipeline params must be an object');
      // Defaults of the sub-pipeline's params, for fields not bound here.
      for (const [k, schema] of Object.entries(sub.params.shape as Record<string, z.ZodType>)) {
        if (fields[k]) continue;
        const d = schema.safeParse(undefined);
        if (d.success && d.data !== undefined) fields[k] = { kind: 'literal', value: d.data };
      }
      const parent = current;
      const scope: Scope = { owner: {}, prefix: `${id}/`, params: fields, group: id };
      scopes.set(scope.owner, scope);
      current = scope;
      let outs: Record<string, unknown>;
      try {
        outs = sub.build(makeRef({ source: { kind: 'params' }, path: [], owner: scope.owner }) as never, builder);
      } finally {
        current = parent;
      }
      current = scope;
      const outExprs: Record<string, BindingExpr> = {};
      try {
        for (const [k, v] of Object.entries(outs)) outExprs[k] = toExpr(v, id, new Set());
      } finally {
        current = parent;
      }
      aliases.set(id, outExprs);
      return { id, output: makeRef({ source: { kind: 'node', node: id }, path: [], owner: current.owner }) } as never;
    },
  };

  const root: Scope = { owner: {}, prefix: '' };
  scopes.set(root.owner, root);
  current = root;
  const outputs = def.build(makeRef({ source: { kind: 'params' }, path: [], owner: root.owner }) as never, builder);
  if (!outputs || typeof outputs !== 'object') fail(undefined, 'build() must return an object of outputs (refs)');
  const outputExprs: Record<string, BindingExpr> = {};
  for (const [k, v] of Object.entries(outputs)) outputExprs[k] = toExpr(v, `outputs.${k}`, new Set());

  const params = z.toJSONSchema(def.params, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const body = { specVersion: 2 as const, name: def.name, ...(def.description ? { description: def.description } : {}), params, steps, nodes, outputs: outputExprs };
  const version = sha256Hex(canonicalJson(body)).slice(0, 12);
  const parsed = pipelineSpecSchema.safeParse({ ...body, version });
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const nodeIdx = i.path[0] === 'nodes' ? Number(i.path[1]) : undefined;
    fail(nodeIdx !== undefined ? nodes[nodeIdx]?.id : undefined, `invalid spec at ${i.path.join('.')}: ${i.message}`);
  }
  return parsed.data!;
}
