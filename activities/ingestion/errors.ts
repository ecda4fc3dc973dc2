import { ApplicationFailure } from '@temporalio/common';

/**
 * Bad input (a missing file, a malformed row over budget, a schema that does not fit, a hostile
 * name): non-retryable, type 'InvalidInput', as the step wrapper does for invalid step input.
 * Anything else thrown by ingestion is an infrastructure fault and is retried.
 */
export function invalidInput(message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ message, type: 'InvalidInput', nonRetryable: true, details: details === undefined ? undefined : [details] });
}

export function isInvalidInput(e: unknown): e is ApplicationFailure {
  return e instanceof ApplicationFailure && e.type === 'InvalidInput';
}

/** Shortens a value for an error message. */
export function clip(s: string, max = 80): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
