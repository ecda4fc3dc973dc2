import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import type { ApprovalRequest } from './approval';
import type { ApprovalDecision } from './approval';
import type { RunState } from './protocol';
import type { StepSpec } from './spec';

/**
 * The messages a pipeline run answers (Temporal queries and updates), declared beside their
 * schemas so that clients, activities and the engine share one definition. Definitions are plain
 * names: moving them changes nothing in a run's history.
 */

/** Per-node state, attempts, timings and output refs of a run. */
export const runStateQuery = defineQuery<RunState>('state');
/** A person's decision for an approval node: validated before it is accepted into history. */
export const approveUpdate = defineUpdate<ApprovalDecision, [ApprovalRequest]>('approve');

/**
 * A run's steps-table entry for a step name: null before the spec is resolved, for a name the
 * spec lacks, and for runs whose spec predates the steps table. A worker whose schema hash
 * differs from the run's asks for it (only then) to name the field that changed; queries leave
 * no trace in history, so the handler changes nothing for replays.
 */
export const runStepSpecQuery = defineQuery<StepSpec | null, [string]>('stepSpec');
/** The stepSpec query's argument: a step name. */
export const stepSpecQueryArg = z.string().min(1).max(200);
