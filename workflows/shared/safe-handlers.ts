import type { QueryDefinition, SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { ApplicationFailure, defineSignal, setDefaultSignalHandler, setHandler, TemporalFailure } from '@temporalio/workflow';
import type { RejectedMessage } from '../../pipelines/dsl/protocol';

export { MAX_REJECTED, withRejection } from './rejections';

/**
 * Message handlers that a bad payload cannot poison. Signals, updates and queries arrive from
 * anyone (the Temporal UI's forms, `temporal workflow signal`, old clients) as untyped JSON; a
 * handler that throws inside a workflow task fails that task, and a signal stays in history, so
 * every later task fails the same way until someone resets the workflow. So:
 * - a signal's payload is checked here and one that does not fit is handed to `reject` (the
 *   workflow remembers it for its status query) and otherwise ignored;
 * - an update's payload is checked in its validator, which rejects it before anything is written
 *   to history, and an error inside the handler fails the update, not the workflow task;
 * - a query's arguments are checked (a failing query fails only that query, but says why).
 */

/** Checks and parses a payload: a zod schema fits. */
export interface PayloadSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/** A reason's length cap: a huge payload must not become a huge state. */
const MAX_REASON = 500;

function issuesOf(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(payload)'}: ${i.message}`).join('; ');
}

function rejection(handler: string, reason: string): RejectedMessage {
  // Workflow time: deterministic, from history.
  return { handler, at: new Date().toISOString(), reason: reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON)}…` : reason };
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Handles signal `def` with `handler` when its first argument fits `schema`; otherwise (or when
 * the handler throws) calls `reject` and ignores the signal. Never throws into the workflow task.
 */
export function onSignal<T>(def: Pick<SignalDefinition, 'name'> | string, schema: PayloadSchema<T>, handler: (body: T) => void, reject: (r: RejectedMessage) => void): void {
  const name = typeof def === 'string' ? def : def.name;
  setHandler(defineSignal<unknown[]>(name), (...args: unknown[]) => {
    const parsed = schema.safeParse(args[0]);
    if (!parsed.success) return reject(rejection(name, `${name} signal rejected: ${issuesOf(parsed.error)}`));
    try {
      handler(parsed.data);
    } catch (e) {
      reject(rejection(name, `${name} signal failed: ${messageOf(e)}`));
    }
  });
}

/**
 * Signals this workflow has no handler for are rejected too (instead of waiting in a buffer for a
 * handler that never comes). Register after the workflow's own signal handlers: a signal sent
 * before them would otherwise reach this one.
 */
export function onUnknownSignal(reject: (r: RejectedMessage) => void): void {
  setDefaultSignalHandler((name) => reject(rejection(name, `no signal named "${name}" here`)));
}

/**
 * Handles update `def`: its argument must fit `schema` and pass `check` (both in the validator,
 * so a bad request is refused before it reaches history); the handler gets the parsed value. An
 * error the handler throws fails the update with its message (a non-Temporal error would fail
 * the workflow task instead).
 */
export function onUpdate<Ret, Arg, T>(def: UpdateDefinition<Ret, [Arg]>, schema: PayloadSchema<T>, handler: (body: T) => Promise<Ret> | Ret, check?: (body: T) => void): void {
  const parse = (raw: unknown): T => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw ApplicationFailure.nonRetryable(`invalid ${def.name} request: ${issuesOf(parsed.error)}`, 'InvalidInput');
    return parsed.data;
  };
  setHandler(
    def,
    async (raw: Arg) => {
      try {
        // Validators do not run on replay: the handler parses again rather than trust its input.
        return await handler(parse(raw));
      } catch (e) {
        throw e instanceof TemporalFailure ? e : ApplicationFailure.nonRetryable(`${def.name} failed: ${messageOf(e)}`, 'InvalidInput');
      }
    },
    {
      validator: (raw: Arg) => {
        const body = parse(raw);
        check?.(body);
      },
    },
  );
}

/** Answers query `def` when its first argument fits `schema`; otherwise the query fails saying why. */
export function onQuery<Ret, Arg, T>(def: QueryDefinition<Ret, [Arg]>, schema: PayloadSchema<T>, handler: (arg: T) => Ret): void {
  setHandler(def, (raw: Arg) => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw new Error(`invalid ${def.name} query: ${issuesOf(parsed.error)}`);
    return handler(parsed.data);
  });
}
