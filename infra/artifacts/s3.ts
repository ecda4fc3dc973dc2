import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { Client, CopyDestinationOptions, CopySourceOptions } from 'minio';
import { TMP_SEGMENT, casKey, shaOfCasKey, validateKey, validatePrefix, validateWritableKey } from './keys';
import {
  ArtifactNotFoundError,
  DEFAULT_MAX_BUFFER_BYTES,
  ForeignArtifactUriError,
  bodyChunks,
  collect,
  discardBody,
  isSha256,
  normalizeSha256,
  verifiedStream,
  type ArtifactBody,
  type ArtifactLocator,
  type ArtifactRef,
  type ArtifactStat,
  type ArtifactStore,
  type GetBufferOptions,
  type GetOptions,
  type PutOptions,
} from './store';

/**
 * Artifacts in an S3 bucket (MinIO or any S3-compatible service), under an optional prefix.
 *
 * Uploads stream in parts (the body is never held whole), hashing as they go. A body that fits in
 * one part goes up as a single PUT straight to its final key, with its sha256 in the object's
 * metadata (`x-amz-meta-sha256`); S3 makes a single PUT visible only once complete. A larger body
 * is uploaded as a multipart upload to `.tmp/<uuid>` (invisible until completed, aborted if the
 * source fails), then copied server-side to its final key with the now-known hash in its metadata,
 * and the temp object removed. Content-addressed puts skip the write when the object exists.
 *
 * A crash between completing a staged upload and removing it leaves an object under `.tmp/` (never
 * listed); a bucket lifecycle rule expiring `<prefix>/.tmp/` after a day reclaims those.
 */

export interface S3StoreConfig {
  bucket: string;
  /** Object-name prefix without leading or trailing slash; '' for the bucket root. */
  prefix: string;
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  /** First part size for multipart uploads (default 8 MiB, minimum 5 MiB); it doubles every 2000 parts. */
  partSize?: number;
}

const MIB = 1024 * 1024;
const MIN_PART = 5 * MIB;
const MAX_PARTS = 10_000;
/** Largest object a single CopyObject may copy; beyond it the copy goes part by part. */
const MAX_SINGLE_COPY = 5 * 1024 * MIB;
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

type Ingested =
  | { kind: 'inline'; buf: Buffer; sha256: string; size: number }
  | { kind: 'staged'; objectName: string; sha256: string; size: number };

export class S3ArtifactStore implements ArtifactStore {
  readonly kind = 's3' as const;
  readonly location: string;
  readonly bucket: string;
  readonly prefix: string;
  /** The underlying client, for tooling and tests. */
  readonly client: Client;
  private readonly partSize: number;

  constructor(cfg: S3StoreConfig) {
    const url = new URL(cfg.endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`S3 endpoint must be an http(s) URL, got ${cfg.endpoint}`);
    const prefix = cfg.prefix.replace(/^\/+|\/+$/g, '');
    if (prefix !== '') validateKey(prefix);
    this.bucket = cfg.bucket;
    this.prefix = prefix;
    this.location = `s3://${cfg.bucket}${prefix ? `/${prefix}` : ''}`;
    this.partSize = Math.max(MIN_PART, cfg.partSize ?? 8 * MIB);
    this.client = new Client({
      endPoint: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      useSSL: url.protocol === 'https:',
      region: cfg.region,
      accessKey: cfg.accessKey,
      secretKey: cfg.secretKey,
      pathStyle: true,
    });
  }

  /** Connects and creates the bucket when it does not exist. */
  static async open(cfg: S3StoreConfig, opts: { createBucket?: boolean } = {}): Promise<S3ArtifactStore> {
    const store = new S3ArtifactStore(cfg);
    await store.ensureBucket(opts.createBucket ?? true, cfg.region);
    return store;
  }

  private async ensureBucket(create: boolean, region: string): Promise<void> {
    if (await this.client.bucketExists(this.bucket)) return;
    if (!create) throw new Error(`S3 bucket ${this.bucket} does not exist`);
    try {
      await this.client.makeBucket(this.bucket, region);
    } catch (err) {
      // Another process may have created it in between.
      const code = (err as { code?: string }).code;
      if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err;
    }
  }

  // --- keys and URIs ---------------------------------------------------------------------------

  private objectName(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  uriFor(key: string): string {
    return `s3://${this.bucket}/${this.objectName(validateKey(key))}`;
  }

  keyFromUri(uri: string): string {
    const base = `${this.location}/`;
    if (!uri.startsWith(base)) throw new ForeignArtifactUriError(uri, this.location);
    return validateKey(uri.slice(base.length));
  }

  private keyOf(at: ArtifactLocator): string {
    if (typeof at !== 'string') return this.keyFromUri(at.uri);
    if (at.startsWith('s3:')) return this.keyFromUri(at);
    return validateKey(at);
  }

  private ref(key: string, sha256: string, size: number): ArtifactRef {
    return { uri: this.uriFor(key), sha256, size };
  }

  // --- writes ----------------------------------------------------------------------------------

  /** Part sizes grow with the part number so 10,000 parts reach ~500 GiB while small uploads stay small. */
  private partSizeFor(partNumber: number): number {
    return this.partSize * 2 ** Math.floor((partNumber - 1) / 2000);
  }

  /**
   * Reads the body, hashing it. Up to one part: kept in memory for a single PUT. More: streamed as a
   * multipart upload to a temp object, one part in memory at a time.
   */
  private async ingest(body: ArtifactBody, contentType: string): Promise<Ingested> {
    const hash = createHash('sha256');
    let size = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let upload: { objectName: string; uploadId: string; etags: { part: number; etag: string }[] } | undefined;

    const take = (n: number): Buffer => {
      const all = Buffer.concat(pending, pendingBytes);
      const rest = all.subarray(n);
      pending = rest.length ? [rest] : [];
      pendingBytes = rest.length;
      return all.subarray(0, n);
    };
    const sendPart = async (part: Buffer) => {
      if (!upload) {
        const objectName = this.objectName(`${TMP_SEGMENT}/${randomUUID()}`);
        const uploadId = await this.client.initiateNewMultipartUpload(this.bucket, objectName, { 'Content-Type': contentType });
        upload = { objectName, uploadId, etags: [] };
      }
      const partNumber = upload.etags.length + 1;
      if (partNumber > MAX_PARTS) throw new Error(`artifact too large for a multipart upload (${size} bytes read so far)`);
      const res = await this.client.uploadPart(
        { bucketName: this.bucket, objectName: upload.objectName, uploadID: upload.uploadId, partNumber, headers: {} },
        part,
      );
      upload.etags.push({ part: partNumber, etag: res.etag });
    };

    try {
      for await (const chunk of bodyChunks(body)) {
        hash.update(chunk);
        size += chunk.length;
        pending.push(chunk);
        pendingBytes += chunk.length;
        // Strictly more than a part: a body of exactly one part still goes as a single PUT.
        while (pendingBytes > this.partSizeFor((upload?.etags.length ?? 0) + 1)) {
          await sendPart(take(this.partSizeFor((upload?.etags.length ?? 0) + 1)));
        }
      }
      const sha256 = hash.digest('hex');
      if (!upload) return { kind: 'inline', buf: take(pendingBytes), sha256, size };
      if (pendingBytes > 0) await sendPart(take(pendingBytes));
      const u = upload as { objectName: string; uploadId: string; etags: { part: number; etag: string }[] };
      await this.client.completeMultipartUpload(this.bucket, u.objectName, u.uploadId, u.etags);
      return { kind: 'staged', objectName: u.objectName, sha256, size };
    } catch (err) {
      const u = upload as { objectName: string; uploadId: string } | undefined;
      if (u) await this.client.abortMultipartUpload(this.bucket, u.objectName, u.uploadId).catch(() => {});
      discardBody(body);
      throw err;
    }
  }

  /** Server-side copy of a staged upload to its final name, with the hash in its metadata. */
  private async promote(staged: Extract<Ingested, { kind: 'staged' }>, destName: string, contentType: string): Promise<void> {
    const src = new CopySourceOptions({ Bucket: this.bucket, Object: staged.objectName });
    const dst = new CopyDestinationOptions({
      Bucket: this.bucket,
      Object: destName,
      MetadataDirective: 'REPLACE',
      UserMetadata: { sha256: staged.sha256 },
      Headers: { 'Content-Type': contentType },
    });
    if (staged.size <= MAX_SINGLE_COPY) await this.client.copyObject(src, dst);
    else await this.client.composeObject(dst, [src]);
    // composeObject swallows some failures; confirm what was published.
    const st = await this.client.statObject(this.bucket, destName);
    if (st.size !== staged.size || st.metaData.sha256 !== staged.sha256) {
      throw new Error(`copying the staged upload to ${destName} did not produce the expected object (size ${st.size}, wanted ${staged.size})`);
    }
  }

  private async removeStaged(ingested: Ingested): Promise<void> {
    if (ingested.kind === 'staged') await this.client.removeObject(this.bucket, ingested.objectName).catch(() => {});
  }

  async putContent(body: ArtifactBody, opts: PutOptions = {}): Promise<ArtifactRef> {
    const contentType = opts.contentType ?? DEFAULT_CONTENT_TYPE;
    const ingested = await this.ingest(body, contentType);
    const key = casKey(ingested.sha256);
    const destName = this.objectName(key);
    try {
      const existing = await this.statObject(destName);
      // Same name means same hash; a size mismatch means the stored copy is damaged, so replace it.
      if (existing?.size !== ingested.size) {
        if (ingested.kind === 'inline') {
          await this.client.putObject(this.bucket, destName, ingested.buf, ingested.size, { 'Content-Type': contentType, sha256: ingested.sha256 });
        } else {
          await this.promote(ingested, destName, contentType);
        }
      }
    } finally {
      await this.removeStaged(ingested);
    }
    return this.ref(key, ingested.sha256, ingested.size);
  }

  async put(key: string, body: ArtifactBody, opts: PutOptions = {}): Promise<ArtifactRef> {
    try {
      validateWritableKey(key);
    } catch (err) {
      discardBody(body);
      throw err;
    }
    const contentType = opts.contentType ?? DEFAULT_CONTENT_TYPE;
    const ingested = await this.ingest(body, contentType);
    const destName = this.objectName(key);
    try {
      if (ingested.kind === 'inline') {
        await this.client.putObject(this.bucket, destName, ingested.buf, ingested.size, { 'Content-Type': contentType, sha256: ingested.sha256 });
      } else {
        await this.promote(ingested, destName, contentType);
      }
    } finally {
      await this.removeStaged(ingested);
    }
    return this.ref(key, ingested.sha256, ingested.size);
  }

  // --- reads -----------------------------------------------------------------------------------

  private async statObject(objectName: string): Promise<{ size: number; sha256: string | undefined } | undefined> {
    try {
      const st = await this.client.statObject(this.bucket, objectName);
      const meta = st.metaData.sha256;
      return { size: st.size, sha256: typeof meta === 'string' && isSha256(meta) ? meta : undefined };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async get(at: ArtifactLocator, opts: GetOptions = {}): Promise<Readable> {
    const key = this.keyOf(at);
    const expect = opts.expectSha256 === undefined ? undefined : normalizeSha256(opts.expectSha256, 'expectSha256');
    const refSha = typeof at === 'string' ? undefined : normalizeSha256(at.sha256, 'ref.sha256');
    let raw: Readable;
    try {
      raw = await this.client.getObject(this.bucket, this.objectName(key));
    } catch (err) {
      if (isNotFound(err)) throw new ArtifactNotFoundError(key, this.uriFor(key));
      throw err;
    }
    // The hash comes from the same response as the bytes, so a concurrent overwrite cannot mismatch them.
    const header = (raw as Partial<IncomingMessage>).headers?.['x-amz-meta-sha256'];
    const metaSha = typeof header === 'string' && isSha256(header) ? header : undefined;
    return verifiedStream(key, raw, [
      { sha256: metaSha, source: 'stored hash' },
      { sha256: shaOfCasKey(key), source: 'content address' },
      { sha256: refSha, source: 'the ref' },
      { sha256: expect, source: 'expectSha256' },
    ]);
  }

  async getBuffer(at: ArtifactLocator, opts: GetBufferOptions = {}): Promise<Buffer> {
    const stream = await this.get(at, opts);
    return collect(this.keyOf(at), stream, opts.maxBytes ?? DEFAULT_MAX_BUFFER_BYTES);
  }

  async stat(at: ArtifactLocator): Promise<ArtifactStat | undefined> {
    const key = this.keyOf(at);
    const st = await this.statObject(this.objectName(key));
    if (!st) return undefined;
    return { size: st.size, sha256: st.sha256 ?? shaOfCasKey(key) };
  }

  async exists(at: ArtifactLocator): Promise<boolean> {
    return (await this.stat(at)) !== undefined;
  }

  async delete(at: ArtifactLocator): Promise<void> {
    await this.client.removeObject(this.bucket, this.objectName(this.keyOf(at)));
  }

  async *list(prefix = ''): AsyncIterable<string> {
    validatePrefix(prefix);
    const base = this.prefix ? `${this.prefix}/` : '';
    const tmp = `${TMP_SEGMENT}/`;
    for await (const item of this.client.listObjectsV2(this.bucket, base + prefix, true)) {
      const name = (item as { name?: string }).name;
      if (!name || !name.startsWith(base)) continue;
      const key = name.slice(base.length);
      if (key.startsWith(tmp)) continue;
      yield key;
    }
  }
}

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'NotFound' || code === 'NoSuchKey';
}
