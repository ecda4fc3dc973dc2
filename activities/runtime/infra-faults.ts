/**
 * Tells infrastructure faults (the metadata database, the artifact store or Temporal unreachable
 * or restarting) from a step's own failures, and names what is unreachable. The step runtime
 * retries the former inside the attempt (activities/runtime/infra-retry.ts); everything else is
 * the step's to fail.
 */

/** host:port of each piece of infrastructure a step talks to, to name the one that failed. */
export interface InfraTargets {
  database?: string;
  artifactStore?: string;
  temporal?: string;
}

export interface InfraFault {
  /** "metadata database at 127.0.0.1:5432": what is unreachable. */
  what: string;
  /** The underlying error, short: "ECONNREFUSED", "57P01 terminating connection due to administrator command". */
  detail: string;
}

/** Socket errors that mean the other side is not there (now), not that the request was wrong. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * PostgreSQL SQLSTATEs of a server going away: class 08 (connection exceptions), 57P01 admin
 * shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up or shutting down).
 */
const PG_CONNECTION_STATE = /^(08[0-9A-Z]{3}|57P0[123])$/;

/** node-postgres' own messages for a connection that broke or could not be made. */
const PG_CONNECTION_MESSAGE = /Connection terminated|Client has encountered a connection error and is not queryable|Client was closed and is not queryable|timeout exceeded when trying to connect|Connection terminated due to connection timeout/;

/** gRPC UNAVAILABLE: the Temporal server is down or restarting. */
const GRPC_UNAVAILABLE = 14;

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  address?: unknown;
  port?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The error and everything it wraps (cause chains, AggregateError's members), outermost first. */
function* chain(e: unknown, depth = 0): Generator<ErrorLike> {
  if (depth > 6 || typeof e !== 'object' || e === null) return;
  const err = e as ErrorLike;
  yield err;
  if (Array.isArray(err.errors)) for (const inner of err.errors) yield* chain(inner, depth + 1);
  if (err.cause !== undefined) yield* chain(err.cause, depth + 1);
}

export function infrastructureFault(e: unknown, targets: InfraTargets): InfraFault | undefined {
  for (const err of chain(e)) {
    const code = typeof err.code === 'string' || typeof err.code === 'number' ? err.code : undefined;
    const message = typeof err.message === 'string' ? err.message : '';
    if (typeof code === 'string' && PG_CONNECTION_STATE.test(code)) {
      return { what: named('metadata database', targets.database), detail: `${code} ${message}`.trim() };
    }
    if (PG_CONNECTION_MESSAGE.test(message)) return { what: named('metadata database', targets.database), detail: message };
    if (typeof code === 'string' && NETWORK_CODES.has(code)) {
      return { what: whoListensAt(err, targets), detail: code };
    }
    // A gRPC ServiceError (the Temporal client) carries its status code as a number.
    if (code === GRPC_UNAVAILABLE && /UNAVAILABLE/.test(message)) {
      return { what: named('Temporal', targets.temporal), detail: message || 'UNAVAILABLE' };
    }
  }
  return undefined;
}

function named(what: string, at: string | undefined): string {
  return at ? `${what} at ${at}` : what;
}

/** Which target a socket error was about, from the port (and address) it names. */
function whoListensAt(err: ErrorLike, targets: InfraTargets): string {
  const port = typeof err.port === 'number' || typeof err.port === 'string' ? String(err.port) : undefined;
  const address = typeof err.address === 'string' ? err.address : undefined;
  if (port) {
    for (const [key, label] of [['database', 'metadata database'], ['artifactStore', 'artifact store'], ['temporal', 'Temporal']] as const) {
      const at = targets[key];
      if (at && at.endsWith(`:${port}`)) return `${label} at ${at}`;
    }
    return `the service at ${address ?? 'host'}:${port}`;
  }
  return 'a service the step talks to';
}

/** host:port of a URL (with the scheme's default port when it names none). */
export function hostPort(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    const port = u.port || ({ 'http:': '80', 'https:': '443', 'postgres:': '5432', 'postgresql:': '5432' } as Record<string, string>)[u.protocol];
    return `${u.hostname || 'localhost'}${port ? `:${port}` : ''}`;
  } catch {
    return undefined;
  }
}
