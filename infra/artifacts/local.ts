import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TMP_SEGMENT, casKey, shaOfCasKey, validateKey, validatePrefix, validateWritableKey } from './keys';
import {
  ArtifactNotFoundError,
  DEFAULT_MAX_BUFFER_BYTES,
  ForeignArtifactUriError,
  collect,
  bodyChunks,
  discardBody,
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
 * Artifacts in a local directory.
 *
 * Layout under the root:
 *   cas/<sha[0:2]>/<sha>   content-addressed bytes (the file name is the hash, checked on read)
 *   <key>                  for `put(key)`: a relative symlink to the cas file holding its bytes
 *   .tmp/                  in-flight writes (same filesystem, so publishing is a rename)
 *
 * Every write streams into `.tmp/`, is fsynced, then renamed into place: the rename is the atomic
 * publish, and a crash leaves at most a stray temp file (swept after an hour of inactivity).
 * A keyed put publishes the bytes under cas/ and then renames a symlink onto the key, so the key
 * and its hash change together in one step and identical content is stored once.
 * Deleting a key removes the link only; deleting a cas key removes the bytes, and keys that
 * linked to them then read as not found.
 */

const STALE_TMP_MS = 60 * 60 * 1000;
/** Writes are gathered to this size so tiny source chunks do not cost a syscall each. */
const WRITE_BATCH = 1024 * 1024;

interface Resolved {
  key: string;
  /** Absolute path of the key (may be a symlink). */
  keyPath: string;
  /** The file that holds the bytes, and the hash it is known to have. */
  dataPath: string;
  storedSha256: string | undefined;
}

export class LocalArtifactStore implements ArtifactStore {
  readonly kind = 'local' as const;
  readonly location: string;
  private readonly tmpDir: string;

  /**
   * @param root the real path of the store (symlinks resolved); URIs are made from it.
   * @param aliases other spellings of the root (as configured, before resolving symlinks) whose URIs are accepted too.
   */
  private constructor(
    readonly root: string,
    private readonly aliases: readonly string[] = [],
  ) {
    this.location = pathToFileURL(root).href;
    this.tmpDir = path.join(root, TMP_SEGMENT);
  }

  /** Creates the root if needed and sweeps temp files abandoned by crashed writers. */
  static async open(root: string): Promise<LocalArtifactStore> {
    if (!path.isAbsolute(root)) throw new TypeError(`the local artifact root must be an absolute path, got ${JSON.stringify(root)}`);
    await fsp.mkdir(root, { recursive: true });
    const real = await fsp.realpath(root);
    const store = new LocalArtifactStore(real, path.resolve(root) === real ? [] : [path.resolve(root)]);
    await fsp.mkdir(store.tmpDir, { recursive: true });
    await store.sweepTmp();
    return store;
  }

  private async sweepTmp(): Promise<void> {
    const now = Date.now();
    for (const name of await fsp.readdir(this.tmpDir)) {
      const p = path.join(this.tmpDir, name);
      const st = await fsp.lstat(p).catch(() => undefined);
      if (st && now - st.mtimeMs > STALE_TMP_MS) await fsp.rm(p, { force: true, recursive: true });
    }
  }

  // --- keys and URIs ---------------------------------------------------------------------------

  private pathOf(key: string): string {
    const p = path.resolve(this.root, ...key.split('/'));
    const rel = path.relative(this.root, p);
    // validateKey already rules out escapes; this is the belt to its braces.
    if (!isStrictlyInside(rel)) throw new Error(`artifact key ${JSON.stringify(key)} resolves outside ${this.root}`);
    return p;
  }

  uriFor(key: string): string {
    return pathToFileURL(this.pathOf(validateKey(key))).href;
  }

  keyFromUri(uri: string): string {
    let p: string;
    try {
      if (!uri.startsWith('file:')) throw new Error('not a file URI');
      p = fileURLToPath(uri);
    } catch {
      throw new ForeignArtifactUriError(uri, this.location);
    }
    for (const base of [this.root, ...this.aliases]) {
      const rel = path.relative(base, p);
      if (!isStrictlyInside(rel)) continue;
      return validateKey(rel.split(path.sep).join('/'));
    }
    throw new ForeignArtifactUriError(uri, this.location);
  }

  private keyOf(at: ArtifactLocator): string {
    if (typeof at !== 'string') return this.keyFromUri(at.uri);
    if (at.startsWith('file:')) return this.keyFromUri(at);
    return validateKey(at);
  }

  private ref(key: string, sha256: string, size: number): ArtifactRef {
    return { uri: this.uriFor(key), sha256, size };
  }

  // --- writes ----------------------------------------------------------------------------------

  /** Streams the body into a fresh temp file, fsyncs it, and reports its hash and size. */
  private async writeTemp(body: ArtifactBody): Promise<{ tmpPath: string; sha256: string; size: number }> {
    const tmpPath = path.join(this.tmpDir, `${process.pid}-${randomUUID()}`);
    await fsp.mkdir(this.tmpDir, { recursive: true }); // in case someone cleaned it away
    const fh = await fsp.open(tmpPath, 'wx', 0o644);
    const hash = createHash('sha256');
    let size = 0;
    try {
      let batch: Buffer[] = [];
      let batched = 0;
      const flush = async () => {
        const buf = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
        batch = [];
        batched = 0;
        for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
      };
      for await (const chunk of bodyChunks(body)) {
        hash.update(chunk);
        size += chunk.length;
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH) await flush();
      }
      if (batched > 0) await flush();
      await fh.sync();
      await fh.close();
    } catch (err) {
      await fh.close().catch(() => {});
      await fsp.rm(tmpPath, { force: true });
      discardBody(body);
      throw err;
    }
    return { tmpPath, sha256: hash.digest('hex'), size };
  }

  /** Moves a finished temp file to its cas name, unless identical bytes are already there. */
  private async publishCas(tmpPath: string, sha256: string, size: number): Promise<string> {
    const dest = this.pathOf(casKey(sha256));
    try {
      const existing = await fsp.stat(dest).catch(() => undefined);
      // Same name means same hash; a size mismatch means the stored copy is damaged, so replace it.
      if (existing?.isFile() && existing.size === size) return dest;
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.rename(tmpPath, dest);
      await fsyncDir(path.dirname(dest));
      return dest;
    } finally {
      await fsp.rm(tmpPath, { force: true });
    }
  }

  async putContent(body: ArtifactBody, _opts?: PutOptions): Promise<ArtifactRef> {
    const { tmpPath, sha256, size } = await this.writeTemp(body);
    await this.publishCas(tmpPath, sha256, size);
    return this.ref(casKey(sha256), sha256, size);
  }

  async put(key: string, body: ArtifactBody, _opts?: PutOptions): Promise<ArtifactRef> {
    let keyPath: string;
    try {
      keyPath = this.pathOf(validateWritableKey(key));
    } catch (err) {
      discardBody(body);
      throw err;
    }
    const { tmpPath, sha256, size } = await this.writeTemp(body);
    const dataPath = await this.publishCas(tmpPath, sha256, size);
    const linkTmp = path.join(this.tmpDir, `${process.pid}-${randomUUID()}.lnk`);
    try {
      await fsp.symlink(path.relative(path.dirname(keyPath), dataPath), linkTmp);
      await this.mkdirFor(key, keyPath);
      await fsp.rename(linkTmp, keyPath).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EISDIR' || err.code === 'ENOTEMPTY' || err.code === 'EEXIST') {
          throw new Error(`cannot write artifact ${key}: other artifacts are stored under ${key}/`);
        }
        throw err;
      });
      await fsyncDir(path.dirname(keyPath));
    } finally {
      await fsp.rm(linkTmp, { force: true });
    }
    return this.ref(key, sha256, size);
  }

  private async mkdirFor(key: string, keyPath: string): Promise<void> {
    try {
      await fsp.mkdir(path.dirname(keyPath), { recursive: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOTDIR' || (err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new Error(`cannot write artifact ${key}: a parent of it is itself an artifact`);
      }
      throw err;
    }
  }

  // --- reads -----------------------------------------------------------------------------------

  /** Finds the file holding a key's bytes and the hash it must have, or undefined when missing. */
  private async resolve(key: string): Promise<Resolved | undefined> {
    const keyPath = this.pathOf(key);
    const lst = await fsp.lstat(keyPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return undefined;
      throw err;
    });
    if (!lst) return undefined;
    let dataPath = keyPath;
    let storedSha256 = shaOfCasKey(key);
    if (lst.isSymbolicLink()) {
      // Read the link once and open its target directly, so a concurrent replace of the key
      // cannot pair the new bytes with the old hash.
      dataPath = path.resolve(path.dirname(keyPath), await fsp.readlink(keyPath));
      storedSha256 = shaOfCasKey(path.relative(this.root, dataPath).split(path.sep).join('/'));
    } else if (!lst.isFile()) {
      return undefined;
    }
    // Never serve a file outside the store, whatever links were planted in it.
    const real = await fsp.realpath(dataPath).catch(() => undefined);
    if (real !== undefined && !isStrictlyInside(path.relative(this.root, real))) return undefined;
    return { key, keyPath, dataPath, storedSha256 };
  }

  async get(at: ArtifactLocator, opts: GetOptions = {}): Promise<Readable> {
    const key = this.keyOf(at);
    const expect = opts.expectSha256 === undefined ? undefined : normalizeSha256(opts.expectSha256, 'expectSha256');
    const refSha = typeof at === 'string' ? undefined : normalizeSha256(at.sha256, 'ref.sha256');
    const r = await this.resolve(key);
    if (!r) throw new ArtifactNotFoundError(key, this.uriFor(key));
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(r.dataPath, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') throw new ArtifactNotFoundError(key, this.uriFor(key));
      throw err;
    }
    const raw = fh.createReadStream({ highWaterMark: 1024 * 1024 });
    return verifiedStream(key, raw, [
      { sha256: r.storedSha256, source: 'stored hash' },
      { sha256: refSha, source: 'the ref' },
      { sha256: expect, source: 'expectSha256' },
    ]);
  }

  async getBuffer(at: ArtifactLocator, opts: GetBufferOptions = {}): Promise<Buffer> {
    const stream = await this.get(at, opts);
    return collect(this.keyOf(at), stream, opts.maxBytes ?? DEFAULT_MAX_BUFFER_BYTES);
  }

  async stat(at: ArtifactLocator): Promise<ArtifactStat | undefined> {
    const r = await this.resolve(this.keyOf(at));
    if (!r) return undefined;
    const st = await fsp.stat(r.dataPath).catch(() => undefined);
    if (!st?.isFile()) return undefined;
    return { size: st.size, sha256: r.storedSha256 };
  }

  async exists(at: ArtifactLocator): Promise<boolean> {
    return (await this.stat(at)) !== undefined;
  }

  async delete(at: ArtifactLocator): Promise<void> {
    const key = this.keyOf(at);
    const keyPath = this.pathOf(key);
    const lst = await fsp.lstat(keyPath).catch(() => undefined);
    if (!lst || lst.isDirectory()) return;
    await fsp.rm(keyPath, { force: true });
    await this.pruneEmptyDirs(path.dirname(keyPath));
  }

  /** Empty directories are invisible to list() but would block a later put of a key by that name. */
  private async pruneEmptyDirs(dir: string): Promise<void> {
    while (dir !== this.root && dir.startsWith(this.root + path.sep)) {
      try {
        await fsp.rmdir(dir);
      } catch {
        return;
      }
      dir = path.dirname(dir);
    }
  }

  async *list(prefix = ''): AsyncIterable<string> {
    validatePrefix(prefix);
    // Walk from the deepest directory the prefix names in full, filtering by the rest.
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash === -1 ? '' : prefix.slice(0, slash);
    yield* this.walk(baseKey === '' ? this.root : this.pathOf(baseKey), baseKey, prefix);
  }

  private async *walk(dir: string, dirKey: string, prefix: string): AsyncGenerator<string> {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw err;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (dirKey === '' && e.name === TMP_SEGMENT) continue;
      const key = dirKey === '' ? e.name : `${dirKey}/${e.name}`;
      if (e.isDirectory()) {
        // Descend only where keys below could still match the prefix.
        if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.walk(path.join(dir, e.name), key, prefix);
      } else if ((e.isFile() || e.isSymbolicLink()) && key.startsWith(prefix)) {
        yield key;
      }
    }
  }
}

/** A path relative to the root that names something below it (not the root, not outside). */
function isStrictlyInside(rel: string): boolean {
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

async function fsyncDir(dir: string): Promise<void> {
  // Makes the rename itself durable. Some filesystems refuse fsync on directories; that is not fatal.
  const fh = await fsp.open(dir, 'r').catch(() => undefined);
  if (!fh) return;
  try {
    await fh.sync();
  } catch {
    /* best effort */
  } finally {
    await fh.close();
  }
}

