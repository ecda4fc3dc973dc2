import { CancellationScope, defineQuery, isCancellation, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { CpuActivities } from '../activities/cpu';
import type { GpuActivities } from '../activities/gpu';
import { HELLO_PIPELINE, helloParams, type HelloResult } from '../pipelines/hello';
import { parseParams } from './shared/params';
import { taskQueues } from './shared/queues';
import { PipelineName, PipelineVersion } from './shared/search-attributes';

export type HelloStepState = { status: 'pending' | 'running' | 'done' | 'failed'; output?: unknown };
export const helloStateQuery = defineQuery<Record<'greet' | 'inspect-device', HelloStepState>>('state');

/**
 * The first pipeline, hand-written: greet on the CPU queue, inspect-device on the GPU queue,
 * the run recorded in PostgreSQL. Started by `sluice run hello` or from the Temporal UI with one
 * JSON object (`{}` for defaults).
 */
export async function hello(input: unknown = {}): Promise<HelloResult> {
  const params = parseParams(helloParams, input, HELLO_PIPELINE.name);
  const { workflowId, runId } = workflowInfo();
  upsertSearchAttributes([
    { key: PipelineName, value: HELLO_PIPELINE.name },
    { key: PipelineVersion, value: HELLO_PIPELINE.version },
  ]);
  const state: Record<'greet' | 'inspect-device', HelloStepState> = { greet: { status: 'pending' }, 'inspect-device': { status: 'pending' } };
  setHandler(helloStateQuery, () => state);

  const queues = await taskQueues();
  const bookkeeping = proxyActivities<CpuActivities>({
    taskQueue: queues.cpu,
    startToCloseTimeout: '1m',
    retry: { initialInterval: '1s', maximumInterval: '30s' },
  });
  const { greet } = proxyActivities<CpuActivities>({
    taskQueue: queues.cpu,
    startToCloseTimeout: '15m',
    // Short, so a worker that dies mid-step is noticed within seconds and the step retried elsewhere.
    heartbeatTimeout: '5s',
    retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 10 },
    summary: 'greet (cpu): write the greeting artifact',
  });
  const { inspectDevice } = proxyActivities<GpuActivities>({
    taskQueue: queues.gpu,
    startToCloseTimeout: '10m',
    retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 10 },
    summary: 'inspect-device (gpu): read the greeting, report the execution provider',
  });

  await bookkeeping.recordRunStarted({ runId, workflowId, pipelineName: HELLO_PIPELINE.name, pipelineVersion: HELLO_PIPELINE.version, params });
  let current: keyof typeof state = 'greet';
  try {
    state.greet.status = 'running';
    const { greeting } = await greet({ runId, name: params.name, delayMs: params.delayMs });
    state.greet = { status: 'done', output: greeting };

    current = 'inspect-device';
    state['inspect-device'].status = 'running';
    const { report, device } = await inspectDevice({ runId, greeting });
    state['inspect-device'] = { status: 'done', output: report };

    await bookkeeping.recordRunFinished({ runId, status: 'succeeded' });
    return { runId, greeting, report, device };
  } catch (e) {
    state[current].status = 'failed';
    const cancelled = isCancellation(e);
    // Record the outcome even when cancelled: a non-cancellable scope still reaches the worker.
    await CancellationScope.nonCancellable(() =>
      bookkeeping.recordRunFinished({ runId, status: cancelled ? 'cancelled' : 'failed', error: (e as Error).message }),
    );
    throw e;
  }
}
