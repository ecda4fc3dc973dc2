import { createHash } from 'node:crypto';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';

/**
 * The artifact store: one interface, two backends (a local directory, S3/MinIO).
 *
 * Guarantees both backends keep:
 * - writes stream (an artifact never sits whole in memory) and are hashed (sha256) as they go;
 * - publication is atomic: a reader sees the old artifact, the new one, or nothing, never a
 *   prefix of a write, even when the writer crashes or its source stream fails midway;
 * - reads verify the sha256 as the stream ends, whenever the hash is known (content-addressed
 *   keys, anything written through this interface, or `expectSha256`), and fail the stream with
 *   `ArtifactIntegrityError` on mismatch;
 * - keys cannot escape the store (see keys.ts).
 */

/** A published artifact. `uri` is `file:///abs/root/<key>` or `s3://bucket/<prefix>/<key>`. */
export interface ArtifactRef {
  uri: string;
  sha256: string;
  size: number;
}

/** What may be written: a Node stream, any async iterable of bytes (web streams too), bytes, or text (UTF-8). */
export type ArtifactBody = Readable | AsyncIterable<Uint8Array | string> | Uint8Array | string;

export interface PutOptions {
  /** Stored as Content-Type on S3; ignored by the local backend. */
  contentType?: string;
}

export interface GetOptions {
  /** Fail (ArtifactIntegrityError) unless the bytes read hash to this (hex, any case). */
  expectSha256?: string;
}

export interface GetBufferOptions extends GetOptions {
  /** Refuse artifacts larger than this (default 256 MiB): use `get()` and stream those. */
  maxBytes?: number;
}

export interface ArtifactStat {
  size: number;
  /** Known for everything written through this interface; undefined for objects put there by other means. */
  sha256: string | undefined;
}

/** A key (`runs/r1/report.html`), a URI of this store, or a ref. */
export type ArtifactLocator = ArtifactRef | string;

export interface ArtifactStore {
  readonly kind: 'local' | 's3';
  /** The store's own location: `file:///abs/root` or `s3://bucket[/prefix]`. */
  readonly location: string;

  /**
   * Streams a body in, hashing as it goes, and publishes it under `cas/<sha256[0:2]>/<sha256>`.
   * The same content always gives the same ref; if it is already stored it is not written again.
   */
  putContent(body: ArtifactBody, opts?: PutOptions): Promise<ArtifactRef>;

  /**
   * Streams a body in under a caller-chosen key (e.g. `runs/<runId>/report.html`). Publication is
   * atomic; writing an existing key atomically replaces it. Keys under `cas/` are refused (use putContent).
   */
  put(key: string, body: ArtifactBody, opts?: PutOptions): Promise<ArtifactRef>;

  /**
   * Streaming read. The sha256 is checked as the stream ends against `opts.expectSha256`, the ref's
   * sha256 and the stored hash (whichever are known); a mismatch errors the stream with
   * ArtifactIntegrityError naming the key. A missing artifact rejects with ArtifactNotFoundError.
   */
  get(at: ArtifactLocator, opts?: GetOptions): Promise<Readable>;

  /** `get()` collected into memory, for small artifacts (bounded by `maxBytes`). */
  getBuffer(at: ArtifactLocator, opts?: GetBufferOptions): Promise<Buffer>;

  exists(at: ArtifactLocator): Promise<boolean>;
  stat(at: ArtifactLocator): Promise<ArtifactStat | undefined>;
  /** Idempotent: deleting a missing key is not an error. */
  delete(at: ArtifactLocator): Promise<void>;
  /**
   * Keys starting with `prefix` (a plain string prefix, as in S3), in no guaranteed order.
   * Internal temporary files are never listed.
   */
  list(prefix?: string): AsyncIterable<string>;

  uriFor(key: string): string;
  /** Throws ForeignArtifactUriError for a URI of another store, InvalidArtifactKeyError for a bad key. */
  keyFromUri(uri: string): string;
}

// ---------------------------------------------------------------------------------------------
// Errors. Each has a stable `code`; `retryable` tells whether running the same operation again
// could succeed (all four are about the request or the stored data, not a transient fault).

export abstract class ArtifactError extends Error {
  abstract readonly code: string;
  abstract readonly retryable: boolean;
}

export class InvalidArtifactKeyError extends ArtifactError {
  override name = 'InvalidArtifactKeyError';
  readonly code = 'ARTIFACT_KEY_INVALID';
  readonly retryable = false;
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`invalid artifact key ${JSON.stringify(key)}: ${reason}`);
  }
}

export class ForeignArtifactUriError extends ArtifactError {
  override name = 'ForeignArtifactUriError';
  readonly code = 'ARTIFACT_URI_FOREIGN';
  readonly retryable = false;
  constructor(
    readonly uri: string,
    readonly storeLocation: string,
  ) {
    super(`artifact URI ${JSON.stringify(uri)} does not belong to the store at ${storeLocation}`);
  }
}

export class ArtifactNotFoundError extends ArtifactError {
  override name = 'ArtifactNotFoundError';
  readonly code = 'ARTIFACT_NOT_FOUND';
  readonly retryable = false;
  constructor(
    readonly key: string,
    readonly uri: string,
  ) {
    super(`artifact not found: ${key} (${uri})`);
  }
}

export class ArtifactIntegrityError extends ArtifactError {
  override name = 'ArtifactIntegrityError';
  readonly code = 'ARTIFACT_INTEGRITY';
  readonly retryable = false;
  constructor(
    readonly key: string,
    readonly expectedSha256: string,
    readonly actualSha256: string,
    detail?: string,
  ) {
    super(
      `artifact ${key} failed its integrity check: expected sha256 ${expectedSha256}, got ${actualSha256}` +
        (detail ? ` (${detail})` : ''),
    );
  }
}

export class ArtifactTooLargeError extends ArtifactError {
  override name = 'ArtifactTooLargeError';
  readonly code = 'ARTIFACT_TOO_LARGE';
  readonly retryable = false;
  constructor(
    readonly key: string,
    readonly maxBytes: number,
  ) {
    super(`artifact ${key} is larger than ${maxBytes} bytes; read it with get() as a stream`);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers shared by the backends.

export const DEFAULT_MAX_BUFFER_BYTES = 256 * 1024 * 1024;

const SHA256_RE = /^[0-9a-f]{64}$/;

export function isSha256(s: string): boolean {
  return SHA256_RE.test(s);
}

/** Lower-cases and checks a caller-supplied hash, so a typo fails loudly rather than as a mismatch. */
export function normalizeSha256(s: string, what = 'sha256'): string {
  const lower = s.toLowerCase();
  if (!SHA256_RE.test(lower)) throw new TypeError(`${what} must be 64 hex characters, got ${JSON.stringify(s)}`);
  return lower;
}

/** The bytes of a body, one Buffer at a time, without collecting them. */
export async function* bodyChunks(body: ArtifactBody): AsyncGenerator<Buffer> {
  if (typeof body === 'string') {
    yield Buffer.from(body, 'utf8');
    return;
  }
  if (body instanceof Uint8Array) {
    yield Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return;
  }
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8');
    else yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/**
 * A put that fails before reading all of its body still owns it: release the file or socket behind
 * it. (Destroyed without an error: the caller learns of the failure from the rejected put, and an
 * 'error' event nobody listens for would crash the process.)
 */
export function discardBody(body: ArtifactBody): void {
  if (body instanceof Readable && !body.destroyed) body.destroy();
}

/**
 * Passes bytes through while hashing them; as the input ends, compares against every expected
 * hash and fails the stream (before 'end') with ArtifactIntegrityError when one differs.
 */
export class VerifyingStream extends Transform {
  private readonly hash = createHash('sha256');
  private bytes = 0;
  constructor(
    private readonly key: string,
    private readonly expected: readonly { sha256: string; source: string }[],
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    const actual = this.hash.digest('hex');
    const bad = this.expected.find((e) => e.sha256 !== actual);
    if (bad) cb(new ArtifactIntegrityError(this.key, bad.sha256, actual, `${bad.source}; ${this.bytes} bytes read`));
    else cb();
  }
}

/**
 * Wraps a raw read stream with verification. The expectations come from the stored hash, the ref and
 * the caller; two that disagree fail at once, before any byte is transferred.
 */
export function verifiedStream(
  key: string,
  source: Readable,
  expectations: { sha256: string | undefined; source: string }[],
): Readable {
  const known = expectations.filter((e): e is { sha256: string; source: string } => e.sha256 !== undefined);
  const first = known[0];
  const conflict = first && known.find((e) => e.sha256 !== first.sha256);
  if (first && conflict) {
    source.destroy();
    throw new ArtifactIntegrityError(key, conflict.sha256, first.sha256, `${conflict.source} disagrees with ${first.source}`);
  }
  if (!first) return source;
  const verifier = new VerifyingStream(key, [first]);
  // pipeline: a source error reaches the consumer through `verifier`; destroying `verifier` closes the source.
  pipeline(source, verifier, () => {});
  return verifier;
}

export async function collect(key: string, stream: Readable, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream) {
    n += (chunk as Buffer).length;
    if (n > maxBytes) {
      stream.destroy();
      throw new ArtifactTooLargeError(key, maxBytes);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts, n);
}
