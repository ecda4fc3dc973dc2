import { activityInfo, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { recordStepEnd, recordStepStart } from '../infra/db/runs';
import type { Logger } from '../infra/log';
import type { ActivityDeps } from './context';

export interface StepMeta {
  name: string;
  version: string;
  queue: 'cpu' | 'gpu';
}

export interface StepContext<I> {
  input: I;
  log: Logger;
  attempt: number;
  /** Checkpoint left by the previous attempt's last heartbeat, if any. */
  checkpoint: unknown;
  /** Reports progress and a checkpoint a retry can resume from; throws once cancelled. */
  heartbeat(details: unknown): void;
  signal: AbortSignal;
}

/**
 * Wraps a step implementation: validates its input (bad input fails non-retryably, naming the
 * field), records the step run in PostgreSQL, validates the output against the step's schema
 * before it is recorded, and records the failure if it throws.
 */
export async function runStep<IS extends z.ZodType, OS extends z.ZodType>(
  deps: ActivityDeps,
  meta: StepMeta,
  schemas: { input: IS; output: OS },
  rawInput: unknown,
  runId: (input: z.infer<IS>) => string,
  impl: (ctx: StepContext<z.infer<IS>>) => Promise<z.infer<OS>>,
): Promise<z.infer<OS>> {
  const info = activityInfo();
  const input = parseOrFail(schemas.input, rawInput, `input of step ${meta.name}`);
  const rid = runId(input);
  const log = deps.log.child({ runId: rid, workflowId: info.workflowExecution?.workflowId, step: meta.name, attempt: info.attempt });
  await recordStepStart(deps.db, { runId: rid, stepName: meta.name, stepVersion: meta.version, queue: meta.queue, attempt: info.attempt });
  log.info('step started');
  const ctx = Context.current();
  try {
    const raw = await impl({
      input,
      log,
      attempt: info.attempt,
      checkpoint: info.heartbeatDetails,
      heartbeat: (d) => ctx.heartbeat(d),
      signal: ctx.cancellationSignal,
    });
    const output = parseOrFail(schemas.output, raw, `output of step ${meta.name}`);
    await recordStepEnd(deps.db, { runId: rid, stepName: meta.name, status: 'succeeded', outputs: output });
    log.info('step succeeded');
    return output;
  } catch (e) {
    const err = e as Error;
    await recordStepEnd(deps.db, { runId: rid, stepName: meta.name, status: 'failed', error: err.message }).catch(() => undefined);
    log.error('step failed', { error: err });
    throw e;
  }
}

export function parseOrFail<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const details = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
  throw ApplicationFailure.nonRetryable(`invalid ${what}: ${details}`, 'InvalidInput');
}

/** Sleeps in slices, heartbeating each, so cancellation and worker death are noticed quickly. */
export async function sleepWithHeartbeat(ms: number, ctx: Pick<StepContext<unknown>, 'heartbeat' | 'signal'>, checkpoint: (elapsed: number) => unknown): Promise<void> {
  const slice = 250;
  for (let elapsed = 0; elapsed < ms; elapsed += slice) {
    if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('cancelled');
    ctx.heartbeat(checkpoint(elapsed));
    await new Promise((r) => setTimeout(r, Math.min(slice, ms - elapsed)));
  }
}
