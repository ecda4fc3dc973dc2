import type { Client } from '@temporalio/client';
import type { AnyPipeline } from '../../pipelines/dsl/pipeline';
import { startPipeline, type PipelineHandle, type RunParams } from '../../pipelines/dsl/start';
import { uniqueId, type TestWorkers } from './stack';

/**
 * Starts a pipeline on the test workers' queue with a unique workflow id: by definition (typed
 * params, typed `result().outputs`), or by name for runs a test expects to be refused.
 */
export function startRun<P extends AnyPipeline>(stack: { client: Client; workers: TestWorkers }, pipeline: P | string, params: RunParams<P>): Promise<PipelineHandle<P>> {
  const name = typeof pipeline === 'string' ? pipeline : pipeline.name;
  return startPipeline(stack.client, pipeline, params, { taskQueue: stack.workers.config.queues.workflow, workflowId: uniqueId(`${name}-`) });
}
