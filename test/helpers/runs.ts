import assert from 'node:assert/strict';
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

/**
 * Starts a pipeline by name with input a test expects to be refused, and returns the failure's
 * messages, cause after cause (`a <- b <- c`); fails the test if the run succeeds.
 */
export async function runFailure(stack: { client: Client; workers: TestWorkers }, pipeline: string, input: unknown): Promise<string> {
  try {
    await (await startRun(stack, pipeline, input as RunParams<AnyPipeline>)).result();
  } catch (e) {
    const parts: string[] = [];
    for (let c: unknown = e; c; c = (c as { cause?: unknown }).cause) parts.push(String((c as Error).message));
    return parts.join(' <- ');
  }
  assert.fail(`${pipeline} did not fail`);
}
