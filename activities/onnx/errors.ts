import { ApplicationFailure } from '@temporalio/common';

/** Bad input (a model that does not match its signature, a missing column…): retrying cannot help. */
export function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'InvalidInput');
}

/** The ONNX file itself cannot be loaded or run as its signature says. */
export function invalidModel(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, 'InvalidModel');
}
