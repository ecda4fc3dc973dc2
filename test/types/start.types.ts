/**
 * Type-level tests of typed starts (pipelines/dsl/start.ts): checked by tsc (part of `npm test`),
 * never run. A wrong param carries `@ts-expect-error`, so if startPipeline stopped rejecting it,
 * tsc would fail with "Unused '@ts-expect-error' directive".
 */
import type { Client } from '@temporalio/client';
import type { ChildWorkflowHandle } from '@temporalio/workflow';
import type { InferOutputs, InferParams, PipelineWorkflow } from '../../pipelines/dsl/start';
import { startPipeline } from '../../pipelines/dsl/start';
import type { PipelineRunResult } from '../../pipelines/dsl/protocol';
import { hello } from '../../pipelines/hello';
import { trainModel } from '../../pipelines/train-model';
import type { DatasetRef } from '../../pipelines/steps/dataset';
import type { ArtifactRefValue } from '../../pipelines/steps/artifact-ref';
import { startPipelineChild } from '../../workflows/engine/start-child';

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

declare const client: Client;
const opts = { taskQueue: 'sluice' };

export async function typedStarts() {
  // Params are z.input: every field with a default may be left out.
  await startPipeline(client, hello, {}, opts);
  await startPipeline(client, hello, { name: 'Ada', _sluice: { force: true } }, opts);
  // @ts-expect-error a number where the schema wants a string
  await startPipeline(client, hello, { name: 42 }, opts);
  // @ts-expect-error a field the (strict) schema does not have
  await startPipeline(client, trainModel, { maxTrails: 2 }, opts);
  // @ts-expect-error an enum literal outside the enum
  await startPipeline(client, trainModel, { strategy: 'bayesian' }, opts);

  // The result is typed by the pipeline's outputs: no cast.
  const run = await (await startPipeline(client, trainModel, { maxTrials: 2 }, opts)).result();
  type _promoted = Expect<Equal<typeof run.outputs.promoted, boolean>>;
  type _trainingData = Expect<Equal<typeof run.outputs.trainingData, DatasetRef>>;
  type _greeting = Expect<Equal<InferOutputs<typeof hello>['greeting'], ArtifactRefValue>>;
  // @ts-expect-error train-model has no output of that name
  void run.outputs.accuracy;

  // By name (the CLI): the same start, untyped.
  const byName = await (await startPipeline(client, 'hello', { anything: 1 }, opts)).result();
  type _untyped = Expect<Equal<typeof byName, PipelineRunResult<Record<string, unknown>>>>;
}

type _params = Expect<Equal<InferParams<typeof hello>, { name?: string | undefined; delayMs?: number | undefined }>>;

export async function typedChildStarts() {
  const child = await startPipelineChild(trainModel, { dataset: 'x', source: { kind: 'artifact', uri: 'cas/1', format: 'parquet' } }, { workflowId: 'c' });
  type _child = Expect<Equal<typeof child, ChildWorkflowHandle<PipelineWorkflow<typeof trainModel>>>>;
  const r = await child.result();
  type _childOutputs = Expect<Equal<typeof r.outputs.model, string | null>>;
  // @ts-expect-error a dataset name must be a string
  await startPipelineChild(trainModel, { dataset: 7 }, { workflowId: 'c' });
}
