import { z } from 'zod';

/**
 * PipelineSpec: the compiled, plain-JSON form of a pipeline that the engine workflow runs.
 * It is what gets fixed in a run's history at start, so it holds names, bindings and options,
 * never code or data.
 */

const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/);
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

export const nodeSpecSchema = z.object({
  id: nodeIdSchema,
  step: z.object({ name: z.string(), version: z.string() }),
  queue: z.enum(['cpu', 'gpu']),
  inputs: bindingExprSchema,
  options: z.object({
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
  }),
  /** Nodes this one waits for: every node its inputs, condition or fan-out list refer to. */
  dependsOn: z.array(nodeIdSchema),
  when: conditionExprSchema.optional(),
  /** Fan-out: the step runs once per item of a list, at most `parallelism` at a time; its output is the list of results. */
  map: z.object({ over: bindingExprSchema, parallelism: z.number().int().min(1).max(1000) }).optional(),
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

export const pipelineSpecSchema = z.object({
  specVersion: z.literal(1),
  name: z.string().regex(/^[a-z][a-z0-9-]*$/),
  /** Stable hash of everything below: the pipeline's version. */
  version: z.string().regex(/^[0-9a-f]{12}$/),
  description: z.string().optional(),
  params: z.record(z.string(), z.unknown()),
  nodes: z.array(nodeSpecSchema),
  outputs: z.record(z.string(), bindingExprSchema),
});
export type PipelineSpec = z.infer<typeof pipelineSpecSchema>;
