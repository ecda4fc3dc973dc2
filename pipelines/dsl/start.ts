import type { Client, WorkflowClient, WorkflowHandleWithFirstExecutionRunId, WorkflowStartOptions } from '@temporalio/client';
import type { z } from 'zod';
import { holdsClaim, resolveClaims, type ClaimStore } from './claim-resolve';
import type { AnyPipeline, PipelineDef } from './pipeline';
import type { PipelineRunResult, RUN_OPTIONS_KEY, RunOptions } from './protocol';
import { runStaticDetails, runSummary } from './run-summary';

/**
 * Typed starts: the params a caller passes are checked against the pipeline's params schema at
 * compile time, and the run's result carries the pipeline's output types, so no caller casts
 * `result.outputs`. The run itself still validates its params at start (the types are a
 * convenience for callers, not the check).
 */

/** The params object a pipeline accepts, before defaults: `z.input` of its params schema. */
export type InferParams<P extends AnyPipeline> = z.input<P['params']>;
/** What a pipeline's run returns under `outputs`. */
export type InferOutputs<P extends AnyPipeline> =
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- AnyPipeline's outputs are `any`
  P extends PipelineDef<any, infer O> ? (0 extends 1 & O ? Record<string, unknown> : O) : never;

/** Params plus the run options the engine splits off (`_sluice`, see run-input.ts). */
export type RunParams<P extends AnyPipeline> = InferParams<P> & { [RUN_OPTIONS_KEY]?: RunOptions };

/** The workflow a pipeline runs as, seen from a caller: one params object in, its typed result out. */
export type PipelineWorkflow<P extends AnyPipeline> = (params: RunParams<P>) => Promise<PipelineRunResult<InferOutputs<P>>>;

export type PipelineHandle<P extends AnyPipeline> = WorkflowHandleWithFirstExecutionRunId<PipelineWorkflow<P>>;

/**
 * Start options a caller chooses (the queue, ids, search attributes, summary); `args` come from
 * params. `artifacts`: the artifact store the workers use (infra/artifacts openArtifactStore), to
 * read outputs that went by reference: with it, `result()` returns every output as the pipeline
 * declares it (a fan-in of 100,000 results as the list), never a claim check.
 */
export type PipelineStartOptions = Omit<WorkflowStartOptions, 'args' | 'workflowId'> & { workflowId?: string; artifacts?: ClaimStore };

/** A pipeline by definition (typed) or, where only its name is known (the CLI), by name (untyped). */
export type PipelineTarget<P extends AnyPipeline> = P | string;

/** The workflow id a run gets when the caller names none: the pipeline's name and a short random suffix. */
export const defaultRunId = (pipelineName: string) => `${pipelineName}-${globalThis.crypto.randomUUID().slice(0, 8)}`;

/**
 * Starts a run of `pipeline` (workflow type = the pipeline's name) with `params`. Pass the
 * definition to get typed params and outputs; a name gives the same start, typed as any pipeline.
 */
export async function startPipeline<P extends AnyPipeline>(
  client: Client | WorkflowClient,
  pipeline: PipelineTarget<P>,
  params: RunParams<P>,
  options: PipelineStartOptions,
): Promise<PipelineHandle<P>> {
  const workflows = 'workflow' in client ? client.workflow : client;
  const name = typeof pipeline === 'string' ? pipeline : pipeline.name;
  const { artifacts, ...start } = options;
  const handle = await workflows.start<PipelineWorkflow<P>>(name, {
    // What the Temporal UI shows of the run (a caller's own summary or details win).
    staticSummary: runSummary(name, undefined, params),
    staticDetails: runStaticDetails(name, undefined, params),
    ...start,
    workflowId: start.workflowId ?? defaultRunId(name),
    args: [params],
  } as WorkflowStartOptions<PipelineWorkflow<P>>);
  return artifacts ? withResolvedOutputs(handle, artifacts) : handle;
}

/**
 * The handle with `result()` reading back the outputs that went by reference (claim checks), so
 * they are the values `InferOutputs` declares. The run's result in history keeps the references.
 */
export function withResolvedOutputs<P extends AnyPipeline>(handle: PipelineHandle<P>, artifacts: ClaimStore): PipelineHandle<P> {
  const result = handle.result.bind(handle);
  return Object.assign(handle, {
    result: async () => {
      const r = await result();
      return holdsClaim(r.outputs) ? { ...r, outputs: (await resolveClaims(artifacts, r.outputs)) as typeof r.outputs } : r;
    },
  });
}
