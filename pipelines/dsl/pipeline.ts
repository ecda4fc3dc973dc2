import type { z } from 'zod';
import type { ApprovalDecision } from './approval';
import type { Condition } from './conditions';
import { makeRef, type Binding, type Ref, type RefTree } from './refs';
import type { AnyStep, Duration } from './step';

/** Inputs a step takes in a pipeline: each field a literal, a ref of a compatible type, or a nested binding. */
export type Inputs<S extends z.ZodType> = z.input<S> extends Record<string, unknown>
  ? { [K in keyof z.input<S>]: Binding<z.input<S>[K]> }
  : Binding<z.input<S>>;

export interface NodeOptions {
  /** Run only after these nodes, even without a data dependency. */
  after?: Node<unknown>[];
  /** Override the step's cache policy for this node. */
  cache?: boolean;
}

/** A node in a pipeline under construction: its id and a typed ref to its output. */
export interface Node<T> {
  readonly id: string;
  readonly output: RefTree<T>;
}

export type Outputs = Record<string, Ref<unknown>>;
export type OutputTypes<O extends Outputs> = { [K in keyof O]: O[K] extends Ref<infer T> ? T : never };

/**
 * Facts about the run itself, known when it starts. `scheduledTime` is the time a schedule (or a
 * backfill) meant the run for, so a scheduled run processes its own interval; for runs started
 * by hand it is the start time.
 */
export interface RunContext {
  runId: string;
  workflowId: string;
  /** ISO 8601. */
  scheduledTime: string;
  /** ISO 8601. */
  startTime: string;
  /** The schedule that started the run, if one did. */
  scheduleId?: string;
}

/** What a pipeline's build function uses to add nodes. Recorded by compile(); see compile.ts. */
export interface Builder {
  /** Refs to facts about the run: `b.context.scheduledTime`. */
  readonly context: RefTree<RunContext>;
  step<S extends AnyStep>(id: string, step: S, inputs: Inputs<S['input']>, opts?: NodeOptions): Node<z.output<S['output']>>;
  /**
   * Fan-out: one run of `step` per item of `over`, at most `parallelism` at once; output is the
   * list of results (fan-in). Short items share activities (pipelines/dsl/item-batches.ts);
   * `itemsPerTask` fixes how many (1: an activity per item).
   */
  map<S extends AnyStep, E>(
    id: string,
    step: S,
    fanOut: { over: Ref<readonly E[] | E[]>; parallelism?: number; itemsPerTask?: number },
    inputs: (item: RefTree<E>) => Inputs<S['input']>,
    opts?: NodeOptions,
  ): Node<z.output<S['output']>[]>;
  /** Nodes added inside `body` run only when `cond` holds at run time; otherwise they are skipped. */
  when(cond: Condition, body: () => void): void;
  /**
   * Waits for a person: approve or reject, sent as a validated Temporal update (`sluice approve`),
   * or the timeout's default. Gate later nodes on it with `b.when(isTrue(node.output.approved), …)`.
   */
  approval(id: string, opts: { prompt: string; timeout: Duration; onTimeout: 'approve' | 'reject'; after?: Node<unknown>[] }): Node<ApprovalDecision>;
  /** A pipeline inside this one; its nodes are named `<id>/<node>`. */
  sub<P extends z.ZodObject, O>(id: string, pipeline: PipelineDef<P, O>, params: Inputs<P>): Node<O>;
}

export type { ApprovalDecision };

export interface PipelineDef<P extends z.ZodObject = z.ZodObject, O = unknown> {
  readonly kind: 'sluice.pipeline';
  readonly name: string;
  readonly description?: string;
  readonly params: P;
  // Method syntax on purpose: lets a registry hold pipelines of different params types.
  build(params: RefTree<z.output<P>>, b: Builder): Outputs;
  /** Phantom: the pipeline's output type. */
  readonly __outputs?: O;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a registry holds pipelines of any params type
export type AnyPipeline = PipelineDef<any, any>;

const PIPELINE_NAME = /^[a-z][a-z0-9-]*$/;

/**
 * Declares a pipeline. `build` receives typed refs to the params and a builder, and returns the
 * pipeline's outputs (refs). Nothing runs here: compile() records what build() does.
 */
export function pipeline<P extends z.ZodObject, O extends Outputs>(
  o: { name: string; description?: string; params: P },
  build: (params: RefTree<z.output<P>>, b: Builder) => O,
): PipelineDef<P, OutputTypes<O>> {
  if (!PIPELINE_NAME.test(o.name)) throw new Error(`pipeline name "${o.name}" must be lowercase words joined by "-"`);
  return Object.freeze({ kind: 'sluice.pipeline' as const, name: o.name, description: o.description, params: o.params, build });
}

export function isPipeline(x: unknown): x is AnyPipeline {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'sluice.pipeline';
}

export { makeRef };
