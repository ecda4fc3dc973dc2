import { ApplicationFailure } from '@temporalio/common';

/** Bad input (unknown column, unusable target, wrong type): fails the step, never retried. */
export function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'InvalidInput');
}
