import type { ApprovalDecision } from './approval';
import type { ClaimCheck } from './claim';
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
  /**
   * The engine's size limits as the workers were configured. Absent in histories recorded before
   * them: such runs keep the behaviour they started with (no sharding, fan-ins inline).
   */
  limits?: EngineLimits;
}

/** When values go by reference and how fan-outs are sharded (SLUICE_CLAIM_THRESHOLD, SLUICE_MAP_SHARD_*). */
export interface EngineLimits {
  /** A value whose JSON is larger than this (bytes) is stored in the artifact store and passed by reference. */
  claimThreshold: number;
  /** Items one execution runs itself; a wider fan-out runs as child workflows of at most this many items (or shards). */
  shardSize: number;
  /** Child workflows (shards) in flight at once per fanning execution. */
  shardWindow: number;
  /**
   * History events a run's execution may reach before it starts no more nodes and continues as new
   * (SLUICE_RUN_HISTORY_BUDGET). Absent in histories recorded before it: those runs never continue.
   */
  historyBudget?: number;
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

/** Fan-in by reference (activities/runs/fan-in.ts), on queue cpu. */
export interface FanInActivities {
  /**
   * The outputs of items `[from, to)` of fan-out `node` (step runs `node[i]` of the run), as
   * recorded when each item ended, stored as one JSON list in the artifact store: a claim check.
   * The results never travel through history; a missing item fails, naming it.
   */
  collectFanIn(r: { runId: string; node: string; from: number; to: number }): Promise<ClaimCheck>;
  /** The concatenation of shards' fan-ins as one index claim (one part in history instead of one per shard). */
  indexFanIn(r: { lists: ClaimCheck[] }): Promise<ClaimCheck>;
}

/** A step's activity: its type is the step's name, on the step's queue. */
export type StepActivity = (call: StepCall) => Promise<StepResult>;
/** Every step activity, by step name (what `proxyActivities` sees). */
export type StepActivities = Record<string, StepActivity>;
