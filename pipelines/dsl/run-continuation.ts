import type { TaskQueues } from './engine-activities';
import type { RunOptions, RunState } from './protocol';
import type { PipelineSpec } from './spec';

/**
 * What a pipeline run hands to its next execution when its history has grown to its budget
 * (EngineLimits.historyBudget) and it continues as new: everything the run was started with, as
 * its first execution recorded it (never resolved again, so a changed definition cannot change a
 * running run), and where it is. The next execution starts no node that already ran and takes the
 * outputs of finished nodes from `state`. Plain JSON: it is the next execution's start argument.
 */
export interface RunContinuation {
  spec: PipelineSpec;
  params: Record<string, unknown>;
  options: RunOptions;
  /** `b.context` as the first execution computed it (its runId, start and scheduled time). */
  context: Record<string, unknown>;
  queues: TaskQueues;
  /** The first execution's run id: the run's id in PostgreSQL, its step runs and its result. */
  runId: string;
  /** The state query's answer at the hand-over: node states with the outputs of finished nodes. */
  state: RunState;
  /** Executions of this run so far (1 for the first), for the state and the UI. */
  execution: number;
}

/**
 * A continuation travels as the workflow's second argument, after the params as the run was
 * started with (what the UI shows as its input): a start from a client passes one argument.
 */
export function isRunContinuation(v: unknown): v is RunContinuation {
  return typeof v === 'object' && v !== null && typeof (v as Partial<RunContinuation>).runId === 'string' && typeof (v as Partial<RunContinuation>).spec === 'object';
}
