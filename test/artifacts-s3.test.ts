import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'minio';
import { MINIO_PSEUDO_VERSION, MINIO_RELEASE, ensureMinioBinary, minioBinaryPath } from '../infra/setup/minio';
import {
  ArtifactIntegrityError,
  ForeignArtifactUriError,
  S3ArtifactStore,
  openArtifactStore,
} from '../infra/artifacts/index';
import { artifactStoreSuite } from './helpers/artifact-store-suite';
import { useMinio, uniqueBucket, type TestMinio } from './helpers/minio';

/** Against a real MinIO: the harness's (SLUICE_TEST_S3_*) or one started for this file. */

let minio: TestMinio | undefined;
let starting: Promise<TestMinio> | undefined;
const server = () => (starting ??= useMinio().then((m) => (minio = m)));
after(async () => {
  await minio?.stop();
});

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function names(client: Client, bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of client.listObjectsV2(bucket, prefix, true)) if (o.name) out.push(o.name);
  return out;
}

/** MinIO lists unfinished multipart uploads for an exact object name or for the whole bucket, so ask for all. */
async function incompleteUploads(client: Client, bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const u of client.listIncompleteUploads(bucket, '', true)) if (u.key.startsWith(prefix)) out.push(`upload:${u.key}`);
  return out;
}

artifactStoreSuite('S3 (MinIO)', async () => {
  const m = await server();
  // A prefix, so every operation goes through the prefix mapping.
  const cfg = m.artifactsConfig({ prefix: 'team/artifacts' });
  const store = (await openArtifactStore(cfg)) as S3ArtifactStore;
  const object = (key: string) => `team/artifacts/${key}`;
  return {
    store,
    multipartSize: 20 * 1024 * 1024,
    corrupt: async (key) => {
      // Rewrite the object behind the store's back, keeping its metadata (as bit rot would).
      const st = await store.client.statObject(cfg.bucket, object(key));
      const body = await readAll(await store.client.getObject(cfg.bucket, object(key)));
      body[0] = body[0]! ^ 0xff;
      const meta: Record<string, string> = {};
      if (typeof st.metaData.sha256 === 'string') meta.sha256 = st.metaData.sha256;
      await store.client.putObject(cfg.bucket, object(key), body, body.length, meta);
    },
    leftovers: async () => [
      ...(await names(store.client, cfg.bucket, 'team/artifacts/.tmp/')),
      ...(await incompleteUploads(store.client, cfg.bucket, 'team/artifacts/')),
    ],
    writeStamp: async (key) => {
      const st = await store.client.statObject(cfg.bucket, object(key));
      // MinIO keeps a version-like modification time with sub-second precision in the listing.
      const listed = (await (async () => {
        for await (const o of store.client.listObjectsV2(cfg.bucket, object(key), false)) if (o.name === object(key)) return o;
        return undefined;
      })())!;
      return `${st.etag}:${listed.lastModified?.toISOString()}`;
    },
    cleanup: async () => undefined,
  };
});

describe('S3 artifact store specifics', () => {
  let m: TestMinio;
  let client: Client;
  before(async () => {
    m = await server();
    const u = new URL(m.endpoint);
    client = new Client({ endPoint: u.hostname, port: Number(u.port), useSSL: false, accessKey: m.accessKey, secretKey: m.secretKey, pathStyle: true });
  });

  test('openArtifactStore creates a missing bucket, and opening again is fine', async () => {
    const cfg = m.artifactsConfig({ bucket: uniqueBucket('new') });
    assert.equal(await client.bucketExists(cfg.bucket), false);
    const store = await openArtifactStore(cfg);
    assert.equal(await client.bucketExists(cfg.bucket), true);
    await openArtifactStore(cfg);
    const ref = await store.put('a.txt', 'a');
    assert.equal(ref.uri, `s3://${cfg.bucket}/a.txt`);
    assert.equal(store.location, `s3://${cfg.bucket}`);
  });

  test('stores with different prefixes in one bucket are isolated', async () => {
    const bucket = uniqueBucket('pfx');
    const a = await openArtifactStore(m.artifactsConfig({ bucket, prefix: 'a' }));
    const b = await openArtifactStore(m.artifactsConfig({ bucket, prefix: 'b' }));
    const ref = await a.put('k', 'from a');
    assert.equal(ref.uri, `s3://${bucket}/a/k`);
    assert.equal(await b.exists('k'), false);
    assert.throws(() => b.keyFromUri(ref.uri), ForeignArtifactUriError);
    const listed: string[] = [];
    for await (const k of b.list('')) listed.push(k);
    assert.deepEqual(listed, []);
  });

  test('the object carries its sha256 and content type in metadata, on both the single-PUT and the staged path', async () => {
    const cfg = m.artifactsConfig();
    const store = await openArtifactStore(cfg);
    const small = await store.put('small.html', '<p>hi</p>', { contentType: 'text/html' });
    const big = Buffer.alloc(12 * 1024 * 1024, 7);
    const large = await store.put('large.bin', Readable.from([big.subarray(0, 5_000_000), big.subarray(5_000_000)]), { contentType: 'application/x-test' });
    for (const [key, ref, type] of [['small.html', small, 'text/html'], ['large.bin', large, 'application/x-test']] as const) {
      const st = await client.statObject(cfg.bucket, key);
      assert.equal(st.metaData.sha256, ref.sha256);
      assert.equal(st.metaData['content-type'], type);
    }
    // Nothing staged is left over, and the staged path is invisible to list.
    assert.deepEqual(await names(client, cfg.bucket, '.tmp/'), []);
  });

  test('an object replaced behind the store with different bytes and no metadata is caught on a cas key, and via expectSha256 elsewhere', async () => {
    const cfg = m.artifactsConfig();
    const store = await openArtifactStore(cfg);
    const ref = await store.putContent('original');
    const key = store.keyFromUri(ref.uri);
    await client.putObject(cfg.bucket, key, Buffer.from('tampered'));
    await assert.rejects(store.getBuffer(key), ArtifactIntegrityError);
    await client.putObject(cfg.bucket, 'foreign.txt', Buffer.from('tampered'));
    assert.deepEqual(await store.stat('foreign.txt'), { size: 8, sha256: undefined });
    await assert.rejects(store.getBuffer('foreign.txt', { expectSha256: ref.sha256 }), ArtifactIntegrityError);
  });
});

describe('MinIO binary', () => {
  /** Runs fn with SLUICE_CACHE_DIR (and optionally PATH) pointing elsewhere, restoring them after. */
  async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      return await fn();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  }

  test('a cached build is found under <cache>/minio/<version>/minio, the pinned release first', async () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cache-'));
    try {
      await withEnv({ SLUICE_CACHE_DIR: cache }, async () => {
        const pseudo = minioBinaryPath(MINIO_PSEUDO_VERSION);
        assert.equal(pseudo, path.join(cache, 'minio', MINIO_PSEUDO_VERSION, 'minio'));
        fs.mkdirSync(path.dirname(pseudo), { recursive: true });
        fs.writeFileSync(pseudo, '#!/bin/sh\n', { mode: 0o755 });
        assert.equal(await ensureMinioBinary(), pseudo);
        const release = minioBinaryPath(MINIO_RELEASE);
        fs.mkdirSync(path.dirname(release), { recursive: true });
        fs.writeFileSync(release, '#!/bin/sh\n', { mode: 0o755 });
        assert.equal(await ensureMinioBinary(), release);
      });
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });

  test('with nothing cached and no Go toolchain, the error says what to install', async () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-cache-'));
    try {
      await withEnv({ SLUICE_CACHE_DIR: cache, PATH: path.join(cache, 'no-bin') }, async () => {
        await assert.rejects(ensureMinioBinary(), /needs the Go toolchain.*Install Go/s);
      });
      assert.equal(fs.existsSync(path.join(cache, 'minio', '.build.lock')), false, 'the build lock was left behind');
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});
