import fs from 'node:fs';
import type { Client } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { openArtifactStore } from '../../infra/artifacts';
import type { SluiceConfig } from '../../infra/config';
import { PipelineName, PipelineVersion } from '../../pipelines/search-attributes';
import type { AnyPipeline } from '../../pipelines/dsl/pipeline';
import { checkRunInput } from '../../pipelines/dsl/run-input';
import { startPipeline, type RunParams } from '../../pipelines/dsl/start';
import { runStaticDetails, runSummary } from '../../pipelines/dsl/run-summary';
import { cliCatalogue, findPipeline } from '../pipelines';
import { showProgress, stoppedWaitingNote } from '../progress';

export interface RunOptions {
  input?: string;
  inputFile?: string;
  id?: string;
  wait?: boolean;
  /** Live per-node progress on stderr (terminals only). */
  progress?: boolean;
  /** Called once the run has started, before waiting for it: say its id while it runs. */
  onStarted?: (ids: { workflowId: string; runId: string }) => void;
}

export function readInput(opts: RunOptions): unknown {
  const text = opts.inputFile ? fs.readFileSync(opts.inputFile, 'utf8') : opts.input ?? '{}';
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`--input${opts.inputFile ? `-file ${opts.inputFile}` : ''} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Starts a pipeline run; with `wait`, returns its result (or throws its failure). By name (the
 * `run` command) the params come from --input and the result is untyped; by definition (the
 * demo) they come from `params`, checked at compile time, and the result is typed.
 */
export async function startRun<P extends AnyPipeline = AnyPipeline>(
  client: Client,
  config: SluiceConfig,
  pipeline: P | string,
  opts: RunOptions & { params?: RunParams<P> },
) {
  const { def, spec } = findPipeline(await cliCatalogue(), typeof pipeline === 'string' ? pipeline : pipeline.name);
  const input = opts.params ?? readInput(opts);
  // Fail before starting when the params are wrong: the same check the run makes at start.
  const checked = checkRunInput(def, input);
  if (!checked.ok) throw new Error(checked.message);
  const p = { name: def.name, version: spec.version };
  const handle = await startPipeline<P>(client, def.name, input as RunParams<P>, {
    taskQueue: config.queues.workflow,
    ...(opts.id ? { workflowId: opts.id } : {}),
    typedSearchAttributes: [
      { key: PipelineName, value: p.name },
      { key: PipelineVersion, value: p.version },
    ],
    staticSummary: runSummary(p.name, p.version, input),
    staticDetails: runStaticDetails(p.name, p.version, input),
    // Waiting: outputs that went by reference (claim checks) come back as the values they hold.
    ...(opts.wait ? { artifacts: await openArtifactStore(config.artifacts) } : {}),
  });
  opts.onStarted?.({ workflowId: handle.workflowId, runId: handle.firstExecutionRunId });
  if (!opts.wait) return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, result: undefined };
  const progress = opts.progress && process.stderr.isTTY ? showProgress(handle) : undefined;
  // Ctrl-C stops the waiting, never the run (a workflow outlives its client): say so, and how to follow it.
  const onInterrupt = () => {
    progress?.stop();
    process.stderr.write(`\n${stoppedWaitingNote(handle.workflowId)}\n`);
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  try {
    const result = await handle.result().finally(async () => {
      process.off('SIGINT', onInterrupt);
      await progress?.finish();
    });
    return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, result };
  } catch (e) {
    if (e instanceof WorkflowFailedError) {
      const cause = e.cause as Error | undefined;
      throw new Error(`run ${handle.workflowId} failed: ${cause?.message ?? e.message}`);
    }
    throw e;
  }
}
