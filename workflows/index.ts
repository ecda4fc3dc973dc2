/**
 * Workflow code served on queue `sluice`: deterministic only.
 *
 * Every registered pipeline is a workflow type of its own name (start `hello` from the Temporal
 * UI with one JSON object). No per-pipeline export is needed: the SDK hands any workflow type
 * without an export of its name to the default export, which runs the pipeline of that name.
 */
import { workflowInfo } from '@temporalio/workflow';
import type { PipelineRunResult } from '../pipelines/dsl/protocol';
import { runPipeline } from './engine/run-pipeline';

export { runStateQuery } from './engine/run-pipeline';

export default async function pipelineWorkflow(input: unknown = {}): Promise<PipelineRunResult> {
  return runPipeline(workflowInfo().workflowType, input);
}
