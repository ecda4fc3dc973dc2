import { Context } from '@temporalio/activity';
import { failure } from '../../pipelines/failures';
import type { StepCall } from '../../pipelines/dsl/protocol';
import { describeChanges, diffSchemas, type SchemaChange } from '../../pipelines/dsl/schema-diff';
import type { StepSpec } from '../../pipelines/dsl/spec';
import { runStepSpecQuery } from '../../pipelines/dsl/messages';
import type { AnyStep } from '../../pipelines/dsl/step';
import { stepInterface } from '../../pipelines/dsl/step-interface';

/** The run's steps-table entry for the step, or undefined when it cannot be had. */
export type RunStepLookup = (call: StepCall, stepName: string) => Promise<StepSpec | undefined>;

/** One side of the step whose schema differs from the run's, with the fields when known. */
export interface InterfaceMismatch {
  io: 'input' | 'output';
  runHash: string;
  workerHash: string;
  /** Undefined when the run's schema could not be read. */
  changes?: SchemaChange[];
}

/**
 * Refuses a call whose step schemas, as the run's spec recorded them, differ from those of this
 * worker's implementation: the step changed under a run in flight. Without this the call would
 * fail later and at random (an InvalidInput on a renamed field, or a later node binding to an
 * output field that is gone). Non-retryable (pipelines/failures.ts): another attempt meets the
 * same code. The message names the fields: the call carries only hashes, so the run's schema is
 * asked of the run itself.
 */
export async function assertRunInterface(call: StepCall, step: AnyStep, lookup: RunStepLookup = queryRunStep): Promise<void> {
  const mine = stepInterface(step);
  const sides = (['input', 'output'] as const).filter((io) => {
    const h = io === 'input' ? call.inputSchemaHash : call.outputSchemaHash;
    return h !== undefined && h !== (io === 'input' ? mine.inputSchemaHash : mine.outputSchemaHash);
  });
  if (sides.length === 0) return;
  const theirs = await lookup(call, step.name).catch(() => undefined);
  const mismatches: InterfaceMismatch[] = sides.map((io) => {
    const runHash = (io === 'input' ? call.inputSchemaHash : call.outputSchemaHash)!;
    const workerHash = io === 'input' ? mine.inputSchemaHash : mine.outputSchemaHash;
    // Only a schema that is the one the call names: the run may answer with another spec's entry.
    const runSchema = theirs && (io === 'input' ? theirs.inputSchemaHash : theirs.outputSchemaHash) === runHash ? theirs[io] : undefined;
    return { io, runHash, workerHash, ...(runSchema ? { changes: diffSchemas(runSchema, mine[io]) } : {}) };
  });
  const what = mismatches
    .map((m) => (m.changes?.length ? `${m.io} ${describeChanges(m.changes)}` : `${m.io} schema ${m.runHash} → ${m.workerHash} (the run's schema could not be read to name the field)`))
    .join('; ');
  throw failure(
    'StepVersionMismatch',
    `node ${call.run.node}: step ${step.name}@${step.version} changed under this run: ${what}; this worker cannot run it as the run's spec declares it (new runs use the new definition)`,
    { step: step.name, node: call.run.node, mismatches },
  );
}

const QUERY_TIMEOUT_MS = 10_000;

/** Asks the run (the engine workflow that scheduled the call) for its entry of the step. */
export const queryRunStep: RunStepLookup = async (call, stepName) => {
  const handle = Context.current().client.workflow.getHandle(call.run.workflowId, call.run.runId);
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      handle.query(runStepSpecQuery, stepName),
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), QUERY_TIMEOUT_MS))),
    ]);
    return answer ?? undefined;
  } finally {
    clearTimeout(timer);
  }
};
