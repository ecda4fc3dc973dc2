import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import {
  ArtifactIntegrityError,
  ArtifactNotFoundError,
  ArtifactTooLargeError,
  ForeignArtifactUriError,
  InvalidArtifactKeyError,
  type ArtifactStore,
} from '../../infra/artifacts/index';

/**
 * One behavioural suite for every artifact backend. A backend supplies the store plus a few
 * ways to look behind its back (to corrupt stored bytes, find leftovers of failed writes, and
 * tell whether an object was rewritten), so the suite can check what the interface promises.
 */
export interface StoreFixture {
  store: ArtifactStore;
  /** Flips a byte of the stored bytes of `key` without going through the store (same size; the stored hash is left as it was). */
  corrupt(key: string): Promise<void>;
  /** What interrupted writes left behind: temp files, staged objects, unfinished multipart uploads. */
  leftovers(): Promise<string[]>;
  /** A value that changes whenever the stored bytes of `key` are written again. */
  writeStamp(key: string): Promise<string>;
  /** A body size that forces the backend's streaming (multi-part) path. */
  multipartSize: number;
  cleanup(): Promise<void>;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function drain(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function listAll(store: ArtifactStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const k of store.list(prefix)) out.push(k);
  return out.sort();
}

/** Deterministic, incompressible-looking bytes, generated chunk by chunk (never held whole). */
function generated(total: number, opts: { chunk?: number; failAfter?: number; onChunk?: () => void } = {}) {
  const chunkSize = opts.chunk ?? 1024 * 1024;
  const hash = createHash('sha256');
  const seed = randomBytes(chunkSize);
  let sent = 0;
  let n = 0;
  const stream = new Readable({
    read() {
      if (opts.failAfter !== undefined && sent >= opts.failAfter) {
        this.destroy(new Error('source failed midway'));
        return;
      }
      if (sent >= total) {
        this.push(null);
        return;
      }
      const len = Math.min(chunkSize, total - sent);
      const buf = Buffer.allocUnsafe(len);
      seed.copy(buf, 0, 0, len);
      buf.writeUInt32LE(n++, 0); // every chunk differs
      hash.update(buf);
      sent += len;
      opts.onChunk?.();
      this.push(buf);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}

function rssSampler() {
  const base = process.memoryUsage().rss;
  let peak = base;
  return {
    sample: () => {
      const r = process.memoryUsage().rss;
      if (r > peak) peak = r;
    },
    growth: () => peak - base,
  };
}

const MiB = 1024 * 1024;

export function artifactStoreSuite(name: string, makeFixture: () => Promise<StoreFixture>): void {
  describe(`artifact store: ${name}`, () => {
    let fx: StoreFixture;
    let store: ArtifactStore;
    const ns = `suite-${randomBytes(3).toString('hex')}`;

    before(async () => {
      fx = await makeFixture();
      store = fx.store;
    });
    after(async () => {
      await fx?.cleanup();
    });

    // First, so the RSS baseline is not inflated by earlier tests' garbage.
    test('streams a 200 MB artifact in and out without holding it in memory', async () => {
      const size = 200 * MiB;
      const mem = rssSampler();
      const src = generated(size, { onChunk: mem.sample });
      const ref = await store.putContent(src.stream);
      assert.equal(ref.size, size);
      assert.equal(ref.sha256, src.digest());
      const putGrowth = mem.growth();

      const read = createHash('sha256');
      let bytes = 0;
      const mem2 = rssSampler();
      for await (const chunk of await store.get(ref)) {
        read.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
        mem2.sample();
      }
      assert.equal(bytes, size);
      assert.equal(read.digest('hex'), ref.sha256);
      if (process.env.SLUICE_TEST_VERBOSE) console.error(`[${name}] RSS growth: put ${Math.round(putGrowth / MiB)} MiB, get ${Math.round(mem2.growth() / MiB)} MiB`);
      // Holding the artifact would cost at least its size; streaming costs a few buffers.
      assert.ok(putGrowth < 100 * MiB, `RSS grew ${Math.round(putGrowth / MiB)} MiB while writing 200 MiB`);
      assert.ok(mem2.growth() < 100 * MiB, `RSS grew ${Math.round(mem2.growth() / MiB)} MiB while reading 200 MiB`);
      await store.delete(ref);
    });

    test('put and get round-trip the bytes, with their sha256 and size', async () => {
      const key = `${ns}/rt/report.html`;
      const body = Buffer.from('<h1>report</h1>\n' + 'x'.repeat(5000));
      const ref = await store.put(key, body, { contentType: 'text/html' });
      assert.equal(ref.sha256, sha(body));
      assert.equal(ref.size, body.length);
      assert.equal(ref.uri, store.uriFor(key));
      assert.equal(store.keyFromUri(ref.uri), key);
      assert.deepEqual(await store.getBuffer(key), body);
      assert.deepEqual(await store.getBuffer(ref), body);
      assert.deepEqual(await store.getBuffer(ref.uri), body);
      assert.deepEqual(await store.stat(key), { size: body.length, sha256: sha(body) });
      assert.equal(await store.exists(key), true);
    });

    test('strings, buffers, streams and async iterables of the same bytes give the same ref', async () => {
      const text = 'same bytes, different shapes \u00e9\u4e2d';
      const refs = [
        await store.putContent(text),
        await store.putContent(Buffer.from(text)),
        await store.putContent(Readable.from([Buffer.from(text.slice(0, 5)), Buffer.from(text.slice(5))])),
        await store.putContent(
          (async function* () {
            yield new TextEncoder().encode(text);
          })(),
        ),
      ];
      for (const r of refs) assert.deepEqual(r, refs[0]);
      assert.equal(refs[0]!.sha256, sha(text));
    });

    test('content-addressed puts: same content gives the same ref without rewriting; different content differs', async () => {
      const body = `content ${ns} ${randomBytes(8).toString('hex')}`;
      const a = await store.putContent(body);
      assert.equal(a.sha256, sha(body));
      const key = store.keyFromUri(a.uri);
      assert.equal(key, `cas/${a.sha256.slice(0, 2)}/${a.sha256}`);
      const stamp = await fx.writeStamp(key);
      await new Promise((r) => setTimeout(r, 20));
      const b = await store.putContent(body);
      assert.deepEqual(b, a);
      assert.equal(await fx.writeStamp(key), stamp, 'identical content was written again');
      const c = await store.putContent(body + '!');
      assert.notEqual(c.sha256, a.sha256);
      assert.notEqual(c.uri, a.uri);
      assert.equal((await store.getBuffer(a)).toString(), body);
    });

    test('a multi-part body round-trips, keyed and content-addressed', async () => {
      const src = generated(fx.multipartSize, { chunk: 300_000 });
      const key = `${ns}/big/model.bin`;
      const ref = await store.put(key, src.stream);
      assert.equal(ref.sha256, src.digest());
      assert.equal(ref.size, fx.multipartSize);
      assert.equal(sha(await store.getBuffer(key)), ref.sha256);
      assert.equal((await store.stat(key))?.sha256, ref.sha256);
      assert.deepEqual(await fx.leftovers(), []);
    });

    test('overwriting a key replaces it whole', async () => {
      const key = `${ns}/ow/value.json`;
      await store.put(key, '{"v":1}');
      const ref2 = await store.put(key, '{"v":2,"longer":true}');
      assert.equal((await store.getBuffer(key)).toString(), '{"v":2,"longer":true}');
      assert.equal((await store.stat(key))?.sha256, ref2.sha256);
    });

    test('concurrent writers of one key leave exactly one of their bodies', async () => {
      const key = `${ns}/race/blob`;
      const bodies = [randomBytes(300_000), randomBytes(200_000), randomBytes(100_000)];
      await Promise.all(bodies.map((b) => store.put(key, b)));
      const got = await store.getBuffer(key);
      assert.ok(bodies.some((b) => b.equals(got)), 'the key holds a mix or a prefix of the bodies');
    });

    test('corrupted stored bytes fail the read with ArtifactIntegrityError naming the key and both hashes', async () => {
      const key = `${ns}/corrupt/data.bin`;
      const body = randomBytes(64 * 1024);
      const ref = await store.put(key, body);
      await fx.corrupt(key);
      for (const at of [key, ref] as const) {
        await assert.rejects(
          async () => drain(await store.get(at)),
          (e: unknown) => {
            assert.ok(e instanceof ArtifactIntegrityError, `expected ArtifactIntegrityError, got ${e}`);
            assert.equal(e.code, 'ARTIFACT_INTEGRITY');
            assert.equal(e.key, key);
            assert.equal(e.expectedSha256, ref.sha256);
            assert.notEqual(e.actualSha256, ref.sha256);
            assert.match(e.message, new RegExp(key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
            return true;
          },
        );
      }
      await assert.rejects(store.getBuffer(key), ArtifactIntegrityError);
    });

    test('corrupted content-addressed bytes are detected too', async () => {
      const ref = await store.putContent(randomBytes(10_000));
      const key = store.keyFromUri(ref.uri);
      await fx.corrupt(key);
      await assert.rejects(store.getBuffer(key), ArtifactIntegrityError);
    });

    test('expectSha256 and the ref hash are enforced', async () => {
      const key = `${ns}/expect/a.txt`;
      const ref = await store.put(key, 'alpha');
      assert.equal((await store.getBuffer(key, { expectSha256: ref.sha256.toUpperCase() })).toString(), 'alpha');
      const wrong = sha('beta');
      await assert.rejects(async () => drain(await store.get(key, { expectSha256: wrong })), ArtifactIntegrityError);
      await assert.rejects(async () => drain(await store.get({ ...ref, sha256: wrong })), ArtifactIntegrityError);
      await assert.rejects(store.get(key, { expectSha256: 'not-a-hash' }), TypeError);
    });

    test('a put whose source fails midway publishes nothing and leaves nothing behind', async () => {
      const before = await listAll(store, ns);
      for (const [label, total, failAfter] of [
        ['small', 1 * MiB, 256 * 1024],
        ['multi-part', fx.multipartSize, fx.multipartSize - 2 * MiB],
      ] as const) {
        const key = `${ns}/atomic/${label}.bin`;
        await assert.rejects(store.put(key, generated(total, { failAfter, chunk: 128 * 1024 }).stream), /source failed midway/);
        assert.equal(await store.exists(key), false, `${label}: a half-written artifact is visible`);
        await assert.rejects(store.get(key), ArtifactNotFoundError);
        await assert.rejects(store.putContent(generated(total, { failAfter, chunk: 128 * 1024 }).stream), /source failed midway/);
      }
      assert.deepEqual(await listAll(store, ns), before);
      assert.deepEqual(await fx.leftovers(), []);
    });

    test('a failed overwrite keeps the previous artifact intact', async () => {
      const key = `${ns}/atomic/keep.bin`;
      const original = randomBytes(100_000);
      await store.put(key, original);
      await assert.rejects(store.put(key, generated(fx.multipartSize, { failAfter: 3 * MiB }).stream), /source failed midway/);
      assert.deepEqual(await store.getBuffer(key), original);
      assert.deepEqual(await fx.leftovers(), []);
    });

    const badKeys: [string, RegExp][] = [
      ['', /empty/],
      ['/etc/passwd', /absolute/],
      ['../outside', /"\.\."/],
      ['a/../../outside', /"\.\."/],
      ['..', /"\.\."/],
      ['a/./b', /"\."/],
      ['a//b', /empty segment/],
      ['a/b/', /ends with \//],
      ['a\\..\\b', /backslash/],
      ['a\0b', /NUL/],
      ['a\nb', /control/],
      ['.tmp/x', /reserved/],
      ['file:///etc/passwd', /URI/],
      ['x'.repeat(1100), /longer than 1024/],
    ];
    for (const [key, why] of badKeys) {
      test(`rejects the key ${JSON.stringify(key.length > 40 ? key.slice(0, 20) + '…' : key)} with a clear error`, async () => {
        const check = (e: unknown) => {
          assert.ok(e instanceof InvalidArtifactKeyError, `expected InvalidArtifactKeyError, got ${e}`);
          assert.equal(e.code, 'ARTIFACT_KEY_INVALID');
          assert.equal(e.retryable, false);
          assert.equal(e.key, key);
          assert.ok(e.message.includes(JSON.stringify(key)), `message does not name the key: ${e.message}`);
          assert.match(e.message, why);
          return true;
        };
        const body = Readable.from([Buffer.from('x')]);
        await assert.rejects(store.put(key, body), check);
        assert.equal(body.destroyed, true, 'the refused body was not released');
        if (!key.startsWith('file:')) {
          await assert.rejects(store.get(key), check);
          await assert.rejects(store.delete(key), check);
          assert.throws(() => store.uriFor(key), check);
        }
      });
    }

    test('put refuses keys under cas/ (they must match their content)', async () => {
      const s = sha('x');
      await assert.rejects(store.put(`cas/${s.slice(0, 2)}/${s}`, 'not x'), (e: unknown) => e instanceof InvalidArtifactKeyError && /putContent/.test(e.message));
    });

    test('missing artifacts: get rejects with ArtifactNotFoundError naming the key; stat/exists/delete are quiet', async () => {
      const key = `${ns}/missing/nothing.bin`;
      await assert.rejects(store.get(key), (e: unknown) => e instanceof ArtifactNotFoundError && e.code === 'ARTIFACT_NOT_FOUND' && e.message.includes(key));
      assert.equal(await store.stat(key), undefined);
      assert.equal(await store.exists(key), false);
      await store.delete(key);
    });

    test('list yields keys by string prefix and never temp files', async () => {
      const keys = [`${ns}/ls/a/1`, `${ns}/ls/a/2`, `${ns}/ls/b`, `${ns}/lsx`];
      for (const k of keys) await store.put(k, k);
      assert.deepEqual(await listAll(store, `${ns}/ls/`), keys.slice(0, 3));
      assert.deepEqual(await listAll(store, `${ns}/ls/a`), keys.slice(0, 2));
      assert.deepEqual(await listAll(store, `${ns}/ls`), keys);
      assert.deepEqual(await listAll(store, `${ns}/nope/`), []);
      assert.ok((await listAll(store, '')).every((k) => !k.startsWith('.tmp')));
    });

    test('delete removes a key, after which the name can be reused (even as a prefix)', async () => {
      const key = `${ns}/del/x`;
      await store.put(key, 'one');
      await store.delete(key);
      assert.equal(await store.exists(key), false);
      assert.deepEqual(await listAll(store, `${ns}/del/`), []);
      await store.put(`${key}/child`, 'two');
      assert.equal((await store.getBuffer(`${key}/child`)).toString(), 'two');
    });

    test('URIs of other stores are refused', async () => {
      const foreign = store.kind === 'local' ? 's3://elsewhere/x' : 'file:///tmp/x';
      assert.throws(() => store.keyFromUri(foreign), ForeignArtifactUriError);
      const near = store.location + '-other/x';
      assert.throws(() => store.keyFromUri(near), ForeignArtifactUriError);
      await assert.rejects(store.get({ uri: near, sha256: sha('x'), size: 1 }), ForeignArtifactUriError);
    });

    test('getBuffer refuses artifacts over maxBytes', async () => {
      const ref = await store.putContent(randomBytes(4096));
      await assert.rejects(store.getBuffer(ref, { maxBytes: 1000 }), ArtifactTooLargeError);
      assert.equal((await store.getBuffer(ref, { maxBytes: 4096 })).length, 4096);
    });
  });
}
