import type { ApprovalDecision } from './approval';
import type { ResolveResult, StepCall, StepResult } from './protocol';

/**
 * The activities workflow code calls, declared here as interfaces so that workflows depend on a
 * contract, not on the worker code that implements it (implementations are typed against these
 * with `satisfies`). Workflow code imports this file; it must stay free of runtime code.
 */

/** Task queue names as the workers were configured (`SLUICE_QUEUE_*`). */
export interface TaskQueues {
  cpu: string;
  gpu: string;
}

/**
 * Local activities of the workflow worker: what workflow code cannot know by itself. Their
 * answers are recorded in history, so replays see exactly what the run saw at its start.
 */
export interface EngineLocalActivities {
  /** The pipeline's compiled spec and its params, validated against its schema. */
  resolvePipeline(req: { pipeline: string; input: unknown }): Promise<ResolveResult>;
  sluiceTaskQueues(): Promise<TaskQueues>;
}

/** The row a run writes when it starts. */
export interface RunStart {
  runId: string;
  workflowId: string;
  pipelineName: string;
  pipelineVersion: string;
  params: unknown;
}

/** How a run ended, as recorded in PostgreSQL. */
export type RunEndStatus = 'succeeded' | 'failed' | 'cancelled';

/** Run-level rows in PostgreSQL, written at the start and end of every pipeline run (queue cpu). */
export interface RunBookkeepingActivities {
  recordRunStarted(r: RunStart): Promise<void>;
  recordRunFinished(r: { runId: string; status: RunEndStatus; error?: string }): Promise<void>;
  /** An approval node's decision: who, when, why, and whether the timeout decided. */
  recordApproval(r: { runId: string; node: string; decision: ApprovalDecision }): Promise<void>;
}

/** A step's activity: its type is the step's name, on the step's queue. */
export type StepActivity = (call: StepCall) => Promise<StepResult>;
/** Every step activity, by step name (what `proxyActivities` sees). */
export type StepActivities = Record<string, StepActivity>;
