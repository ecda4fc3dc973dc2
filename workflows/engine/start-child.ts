import { startChild, type ChildWorkflowHandle, type ChildWorkflowOptions } from '@temporalio/workflow';
import type { AnyPipeline } from '../../pipelines/dsl/pipeline';
import type { PipelineTarget, PipelineWorkflow, RunParams } from '../../pipelines/dsl/start';

/**
 * startPipeline's counterpart in workflow code: starts a pipeline run as a child workflow, its
 * params checked against the pipeline's schema and its result typed by the pipeline's outputs.
 * Pass the definition, or a name with the definition's type (`startPipelineChild<typeof
 * trainModel>(name, …)`) where the name is configurable. Only a type is needed from the
 * definition: the child compiles its own spec at start.
 */
export function startPipelineChild<P extends AnyPipeline>(
  pipeline: PipelineTarget<P>,
  params: RunParams<P>,
  options: Omit<ChildWorkflowOptions, 'args'>,
): Promise<ChildWorkflowHandle<PipelineWorkflow<P>>> {
  const name = typeof pipeline === 'string' ? pipeline : pipeline.name;
  return startChild<PipelineWorkflow<P>>(name, { ...options, args: [params] } as ChildWorkflowOptions & { args: [RunParams<P>] });
}
