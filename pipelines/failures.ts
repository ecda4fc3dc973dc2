/**
 * Every failure type Sluice raises on purpose, with whether retrying can help. Domain code throws
 * a `SluiceFailure` (through `failure()` or `invalidInput()`) and knows nothing of Temporal; the
 * step runtime (activities/runtime/step-activity.ts) turns it into an ApplicationFailure whose
 * type and retryability come from this table, and the engine's retry policy lists the same
 * non-retryable types, so one entry here decides both. Plain data and one Error class: workflow
 * code may import it.
 */

export interface FailureKind {
  /** false: the same call fails the same way again, so Temporal must not retry it. */
  retryable: boolean;
  /** What the failure says about the run, for people reading a failed run. */
  meaning: string;
}

export const FAILURES = {
  InvalidInput: {
    retryable: false,
    meaning: "a step's input, or the data or model it reads, cannot work: a missing column, a wrong type, a hostile name, a file that is not there",
  },
  InvalidParams: { retryable: false, meaning: "the run's params (or _sluice options) do not fit the pipeline's params schema" },
  UnknownPipeline: { retryable: false, meaning: 'no pipeline of that name is registered with the workers' },
  StepVersionMismatch: {
    retryable: false,
    meaning: 'the worker implements another version of the step, or another input/output schema, than the run\'s spec names',
  },
  InvalidModel: { retryable: false, meaning: 'the ONNX model cannot be loaded or run as its signature says' },
  InvalidFanOut: { retryable: false, meaning: 'the value a fan-out node iterates over is not a list' },
  StepFailed: { retryable: false, meaning: 'a node of the run failed for good; the cause is the step\'s own failure' },
  ValidationFailed: { retryable: false, meaning: 'the data broke expectations of error severity (the report is attached)' },
  ScoringRowCountMismatch: { retryable: false, meaning: "batch scoring's parts do not add up to the rows it was asked to score" },
  RegistryNotFound: { retryable: false, meaning: 'the model, version or alias is not in the registry' },
  RegistryConflict: { retryable: false, meaning: 'the registry write contradicts what is stored (a version registered differently, a stale decision)' },
  FailIfExists: { retryable: false, meaning: 'the path a step must create exists already' },
  InfrastructureUnavailable: {
    retryable: true,
    meaning: 'the metadata database, the artifact store or Temporal stayed unreachable for the whole of SLUICE_INFRA_RETRY while a step ran; the attempt gave up and the step\'s retry policy decides the rest',
  },
} as const satisfies Record<string, FailureKind>;

export type FailureType = keyof typeof FAILURES;

export function isFailureType(type: unknown): type is FailureType {
  return typeof type === 'string' && Object.hasOwn(FAILURES, type);
}

/** Retryability of a failure type; a type not in the table is retried (Temporal's default). */
export function isRetryable(type: string | null | undefined): boolean {
  return isFailureType(type) ? FAILURES[type].retryable : true;
}

/** The types a retry policy lists as non-retryable (the engine adds them to every step's). */
export const NON_RETRYABLE_FAILURE_TYPES: readonly FailureType[] = (Object.keys(FAILURES) as FailureType[]).filter((t) => !FAILURES[t].retryable);

/** A retry policy's `nonRetryableErrorTypes`: the step's own, then the table's non-retryable types. */
export function nonRetryableErrorTypes(own: readonly string[] = []): string[] {
  return [...new Set([...own, ...NON_RETRYABLE_FAILURE_TYPES])];
}

/**
 * A failure with a type from the table. Its `name` is the type too, so one that escapes the step
 * runtime unmapped still reaches Temporal (which names a plain Error's failure by `name`) with
 * the right type, and the retry policy's non-retryable list stops it.
 */
export class SluiceFailure extends Error {
  constructor(
    readonly type: FailureType,
    message: string,
    /** Structured context shown with the failure (ApplicationFailure details). */
    readonly details?: unknown,
  ) {
    super(message);
    this.name = type;
  }

  get retryable(): boolean {
    return FAILURES[this.type].retryable;
  }
}

export function failure(type: FailureType, message: string, details?: unknown): SluiceFailure {
  return new SluiceFailure(type, message, details);
}

/** Bad input: retrying cannot help. The one helper every step uses. */
export function invalidInput(message: string, details?: unknown): SluiceFailure {
  return new SluiceFailure('InvalidInput', message, details);
}

/** Whether `e` is a SluiceFailure (of `type`, when given). */
export function isFailure(e: unknown, type?: FailureType): e is SluiceFailure {
  return e instanceof SluiceFailure && (type === undefined || e.type === type);
}
