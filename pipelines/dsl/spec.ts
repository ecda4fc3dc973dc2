import { z } from 'zod';
import { duration } from '../vocab/duration';
import { queueSchema, type Queue } from '../vocab/queue';
import { MAX_ITEMS_PER_TASK } from './item-batches';

/**
 * PipelineSpec: the compiled, plain-JSON form of a pipeline that the engine workflow runs.
 * It is what gets fixed in a run's history at start, so it holds names, bindings and options,
 * never code or data.
 */

export const nodeIdSchema = z.string().regex(/^[a-z][a-z0-9-]*(\/[a-z][a-z0-9-]*)*$/, 'lowercase words joined by "-", nested with "/"');

export const refExprSchema = z.object({
  source: z.enum(['params', 'node', 'item', 'context']),
  node: nodeIdSchema.optional(),
  path: z.array(z.string()),
});
export type RefExpr = z.infer<typeof refExprSchema>;

export type BindingExpr =
  | { kind: 'literal'; value: unknown }
  | { kind: 'ref'; ref: RefExpr }
  | { kind: 'object'; fields: Record<string, BindingExpr> }
  | { kind: 'list'; items: BindingExpr[] };
export const bindingExprSchema: z.ZodType<BindingExpr> = z.lazy(() =>
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('literal'), value: z.unknown() }),
    z.object({ kind: z.literal('ref'), ref: refExprSchema }),
    z.object({ kind: z.literal('object'), fields: z.record(z.string(), bindingExprSchema) }),
    z.object({ kind: z.literal('list'), items: z.array(bindingExprSchema) }),
  ]),
) as z.ZodType<BindingExpr>;

export type ConditionExpr =
  | { op: 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte'; left: BindingExpr; right: BindingExpr }
  | { op: 'truthy'; value: BindingExpr }
  | { op: 'and' | 'or'; all: ConditionExpr[] }
  | { op: 'not'; cond: ConditionExpr };
export const conditionExprSchema: z.ZodType<ConditionExpr> = z.lazy(() =>
  z.union([
    z.object({ op: z.enum(['eq', 'ne', 'gt', 'gte', 'lt', 'lte']), left: bindingExprSchema, right: bindingExprSchema }),
    z.object({ op: z.literal('truthy'), value: bindingExprSchema }),
    z.object({ op: z.enum(['and', 'or']), all: z.array(conditionExprSchema).min(1) }),
    z.object({ op: z.literal('not'), cond: conditionExprSchema }),
  ]),
) as z.ZodType<ConditionExpr>;

/** Temporal activity options of a step, as its signature declares them. */
export const stepOptionsSchema = z.object({
  startToCloseTimeout: duration,
  heartbeatTimeout: duration.optional(),
  scheduleToCloseTimeout: duration.optional(),
  retry: z.object({
    maximumAttempts: z.number().int().min(0).optional(),
    initialInterval: duration.optional(),
    maximumInterval: duration.optional(),
    backoffCoefficient: z.number().min(1).optional(),
    nonRetryableErrorTypes: z.array(z.string()).optional(),
  }),
  cache: z.object({ enabled: z.boolean(), key: z.enum(['code', 'version']).optional() }),
  /** Runs as a Temporal local activity in the workflow worker's process (StepSignature.local). */
  local: z.boolean().optional(),
});
export type StepOptionsSpec = z.infer<typeof stepOptionsSchema>;

/** A JSON Schema (draft 2020-12), as z.toJSONSchema writes it. */
export const jsonSchemaSchema = z.record(z.string(), z.unknown());
export type JsonSchema = z.infer<typeof jsonSchemaSchema>;

const schemaHash = z.string().regex(/^[0-9a-f]{16}$/);

/**
 * One entry of the spec's steps table: what a run expects of the worker that runs the step. The
 * input and output JSON Schemas are here once per step (not per node or per call), so the spec
 * describes its own interface (`sluice pipeline show`) and a worker whose schema hash differs
 * from the run's can name the field that changed (it asks the run for this entry).
 */
export const stepSpecSchema = z.object({
  version: z.string(),
  queue: queueSchema,
  description: z.string().optional(),
  options: stepOptionsSchema,
  /** JSON Schema of the input the step accepts (fields with defaults optional). */
  input: jsonSchemaSchema,
  /** JSON Schema of the output the step returns (after its schema's defaults and transforms). */
  output: jsonSchemaSchema,
  /** Hash of the input schema without its annotations (pipelines/dsl/step-interface.ts). */
  inputSchemaHash: schemaHash,
  outputSchemaHash: schemaHash,
});
export type StepSpec = z.infer<typeof stepSpecSchema>;

export const nodeSpecSchema = z.object({
  id: nodeIdSchema,
  /** The step this node runs: a key of the spec's steps table, which holds its version, queue and options. */
  step: z.string(),
  inputs: bindingExprSchema,
  /** The node's own cache switch (`b.step(…, { cache })`), where it overrides the step's. */
  cache: z.boolean().optional(),
  /** Nodes this one waits for: every node its inputs, condition or fan-out list refer to. */
  dependsOn: z.array(nodeIdSchema),
  when: conditionExprSchema.optional(),
  /** Fan-out: the step runs once per item of a list, at most `parallelism` at a time; its output is the list of results. */
  map: z
    .object({
      over: bindingExprSchema,
      parallelism: z.number().int().min(1).max(1000),
      /**
       * Items per activity: absent, the engine sizes batches from the items' measured time (one
       * item each until it knows, then about a second of work per batch); 1 runs every item as
       * its own activity.
       */
      itemsPerTask: z.number().int().min(1).max(MAX_ITEMS_PER_TASK).optional(),
    })
    .optional(),
  /** Set on nodes that came from a sub-pipeline: its node id in the parent. */
  group: z.string().optional(),
  summary: z.string().max(200),
  /**
   * A person's decision instead of an activity: the run waits for an `approve` update naming this
   * node, or for the timeout, after which `onTimeout` decides.
   */
  approval: z
    .object({ prompt: z.string().max(500), timeout: duration, onTimeout: z.enum(['approve', 'reject']) })
    .optional(),
});
export type NodeSpec = z.infer<typeof nodeSpecSchema>;

export const pipelineSpecSchema = z
  .object({
    /** 2: steps table, nodes name their step. 1 (no steps table, options on every node) is still run: see nodeStep(). */
    specVersion: z.literal(2),
    name: z.string().regex(/^[a-z][a-z0-9-]*$/),
    /** Stable hash of everything below: the pipeline's version. */
    version: z.string().regex(/^[0-9a-f]{12}$/),
    description: z.string().optional(),
    params: z.record(z.string(), z.unknown()),
    /** Step name → what the run expects of it. */
    steps: z.record(z.string(), stepSpecSchema),
    nodes: z.array(nodeSpecSchema),
    outputs: z.record(z.string(), bindingExprSchema),
  })
  .superRefine((spec, ctx) => {
    spec.nodes.forEach((n, i) => {
      if (!Object.hasOwn(spec.steps, n.step)) ctx.addIssue({ code: 'custom', path: ['nodes', i, 'step'], message: `step "${n.step}" is not in the steps table` });
    });
  });
export type PipelineSpec = z.infer<typeof pipelineSpecSchema>;

/**
 * A node of a specVersion 1 spec: no steps table, each node carried its step's version, queue
 * and options. Runs started before the steps table have such a spec in their history (the
 * resolvePipeline result), and replaying them must schedule exactly what they scheduled then.
 */
export interface LegacyNodeSpecV1 {
  id: string;
  step: { name: string; version: string };
  queue: Queue;
  options: StepOptionsSpec;
}

/** What the engine needs to schedule a node's step. */
export interface NodeStep {
  name: string;
  version: string;
  queue: Queue;
  /** The step's options, with the node's cache switch applied. */
  options: StepOptionsSpec;
  /** Absent for specVersion 1 specs, which had no schemas. */
  inputSchemaHash?: string;
  outputSchemaHash?: string;
}

/**
 * The step a node runs, read from the steps table, or from the node itself in a specVersion 1
 * spec (a tolerant reader: the spec of a run is never re-parsed, it is whatever its history
 * recorded). Pure and deterministic: workflow code calls it.
 */
export function nodeStep(spec: PipelineSpec, n: NodeSpec): NodeStep {
  const legacy = n as unknown as NodeSpec | LegacyNodeSpecV1;
  if (typeof legacy.step !== 'string') {
    const l = legacy as LegacyNodeSpecV1;
    return { name: l.step.name, version: l.step.version, queue: l.queue, options: l.options };
  }
  const s = (spec.steps as PipelineSpec['steps'] | undefined)?.[legacy.step];
  if (!s) throw new Error(`pipeline ${spec.name}: node ${n.id} names step "${legacy.step}", which is not in the spec's steps table`);
  const options = n.cache === undefined ? s.options : { ...s.options, cache: { ...s.options.cache, enabled: n.cache } };
  return { name: legacy.step, version: s.version, queue: s.queue, options, inputSchemaHash: s.inputSchemaHash, outputSchemaHash: s.outputSchemaHash };
}
