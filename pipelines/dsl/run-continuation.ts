import type { OmittedOutput } from './bounded-state';
import { jsonSize } from './claim';
import type { TaskQueues } from './engine-activities';
import type { RunOptions, RunState } from './protocol';
import type { BindingExpr, PipelineSpec } from './spec';

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

/**
 * The state handed over: the outputs nothing still to run reads (no pending node depends on
 * them, no run output refers to them) are left out, their size said, so a chain of 2,000 nodes
 * hands over one output, not 2,000, and the continuation stays far below Temporal's 2 MB payload
 * cap. Pure and deterministic: workflow code calls it.
 */
export function handOverState(spec: PipelineSpec, state: RunState): RunState {
  const needed = new Set<string>();
  for (const n of spec.nodes) if (state.nodes[n.id]?.status === 'pending') for (const d of n.dependsOn) needed.add(d);
  for (const e of Object.values(spec.outputs)) nodeRefs(e, needed);
  const nodes: RunState['nodes'] = {};
  for (const [id, n] of Object.entries(state.nodes)) {
    // An output an earlier hand-over left out stays as it is (its size is the output's, not the note's).
    if (n.output === undefined || needed.has(id) || isOmitted(n.output)) nodes[id] = n;
    else {
      const omitted: OmittedOutput = { $sluiceOmitted: { chars: jsonSize(n.output) } };
      nodes[id] = { ...n, output: omitted };
    }
  }
  return { ...state, status: 'running', nodes };
}

function isOmitted(v: unknown): v is OmittedOutput {
  return typeof v === 'object' && v !== null && '$sluiceOmitted' in v;
}

/** Nodes a binding refers to. */
function nodeRefs(e: BindingExpr, into: Set<string>): void {
  if (e.kind === 'ref') {
    if (e.ref.source === 'node' && e.ref.node) into.add(e.ref.node);
  } else if (e.kind === 'object') for (const f of Object.values(e.fields)) nodeRefs(f, into);
  else if (e.kind === 'list') for (const i of e.items) nodeRefs(i, into);
}
