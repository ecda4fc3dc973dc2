/**
 * What a client did wrong, as the server answers it: a 4xx status, a stable code and a message
 * that names the field (`instances[2].bill_length_mm: expected a number, got "abc"`). Anything
 * else that goes wrong is a 500 or 503 whose body says only that (the details go to the log).
 */
export class ServingError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'ServingError';
  }
}

export const badRequest = (field: string, message: string) => new ServingError(400, 'invalid_input', message, field);

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}
