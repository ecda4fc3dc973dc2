import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ArtifactIntegrityError, ArtifactNotFoundError, LocalArtifactStore, openArtifactStore } from '../infra/artifacts/index';
import { artifactStoreSuite } from './helpers/artifact-store-suite';

const tmpRoots: string[] = [];
function tempRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-artifacts-'));
  tmpRoots.push(dir);
  return dir;
}
after(() => {
  for (const d of tmpRoots) fs.rmSync(d, { recursive: true, force: true });
});

artifactStoreSuite('local directory', async () => {
  const root = path.join(tempRoot(), 'store');
  const store = await openArtifactStore({ kind: 'local', root });
  const fileOf = (key: string) => fileURLToPath(store.uriFor(key));
  return {
    store,
    multipartSize: 3 * 1024 * 1024,
    corrupt: async (key) => {
      // Follows the key's link to the bytes, as bit rot or a stray writer would hit them.
      const fh = await fsp.open(fileOf(key), 'r+');
      try {
        const b = Buffer.alloc(1);
        await fh.read(b, 0, 1, 0);
        b[0] = b[0]! ^ 0xff;
        await fh.write(b, 0, 1, 0);
      } finally {
        await fh.close();
      }
    },
    leftovers: async () => fsp.readdir(path.join(root, '.tmp')),
    writeStamp: async (key) => {
      const l = await fsp.lstat(fileOf(key));
      const s = await fsp.stat(fileOf(key));
      return `${l.ino}:${l.mtimeMs}:${s.ino}:${s.mtimeMs}`;
    },
    cleanup: async () => undefined,
  };
});

describe('local artifact store specifics', () => {
  let root: string;
  let store: LocalArtifactStore;
  before(async () => {
    root = path.join(tempRoot(), 'nested', 'store');
    store = await LocalArtifactStore.open(root);
  });

  test('opening creates the root, and URIs are file:// URIs of paths inside it', async () => {
    assert.ok(fs.statSync(root).isDirectory());
    const ref = await store.put('runs/r 1/report.html', 'hi');
    assert.equal(fileURLToPath(ref.uri), path.join(fs.realpathSync(root), 'runs', 'r 1', 'report.html'));
    assert.equal(fs.readFileSync(fileURLToPath(ref.uri), 'utf8'), 'hi');
    assert.equal(store.keyFromUri(ref.uri), 'runs/r 1/report.html');
  });

  test('a root reached through a symlink: URIs use the real path, and URIs spelled through the link are accepted', async () => {
    const real = path.join(tempRoot(), 'real-store');
    const link = path.join(tempRoot(), 'link-to-store');
    fs.mkdirSync(real);
    fs.symlinkSync(real, link);
    const s = await LocalArtifactStore.open(link);
    const ref = await s.put('k/v', 'v');
    assert.equal(fileURLToPath(ref.uri), path.join(fs.realpathSync(real), 'k', 'v'));
    assert.equal(s.keyFromUri(pathToFileURL(path.join(link, 'k', 'v')).href), 'k/v');
    assert.equal((await s.getBuffer(pathToFileURL(path.join(link, 'k', 'v')).href)).toString(), 'v');
  });

  test('names that merely start with dots are ordinary keys', async () => {
    await store.put('..dots/...', 'dots');
    assert.equal((await store.getBuffer('..dots/...')).toString(), 'dots');
    assert.ok(fs.existsSync(path.join(root, '..dots', '...')));
  });

  test('a relative root is refused', async () => {
    await assert.rejects(LocalArtifactStore.open('relative/dir'), /absolute/);
  });

  test('temp files abandoned by a crashed writer are swept on open; fresh ones (a live writer) are kept', async () => {
    const tmp = path.join(root, '.tmp');
    const stale = path.join(tmp, 'crashed-writer');
    const fresh = path.join(tmp, 'live-writer');
    fs.writeFileSync(stale, 'half');
    fs.writeFileSync(fresh, 'half');
    const old = new Date(Date.now() - 2 * 60 * 60 * 1000);
    fs.utimesSync(stale, old, old);
    await LocalArtifactStore.open(root);
    assert.equal(fs.existsSync(stale), false);
    assert.equal(fs.existsSync(fresh), true);
    const listed: string[] = [];
    for await (const k of store.list('')) listed.push(k);
    assert.ok(!listed.some((k) => k.includes('live-writer')));
    fs.rmSync(fresh);
  });

  test('a symlink planted in the store that points outside it is not followed', async () => {
    const outside = path.join(tempRoot(), 'secret.txt');
    fs.writeFileSync(outside, 'secret');
    fs.mkdirSync(path.join(root, 'planted'), { recursive: true });
    fs.symlinkSync(outside, path.join(root, 'planted', 'link'));
    fs.symlinkSync(path.dirname(outside), path.join(root, 'planted', 'dir'));
    await assert.rejects(store.get('planted/link'), ArtifactNotFoundError);
    assert.equal(await store.exists('planted/link'), false);
    await assert.rejects(store.get('planted/dir/secret.txt'), ArtifactNotFoundError);
  });

  test('a file placed by hand (no stored hash) is served, and checked only against expectSha256', async () => {
    fs.mkdirSync(path.join(root, 'manual'), { recursive: true });
    fs.writeFileSync(path.join(root, 'manual', 'f.txt'), 'by hand');
    assert.deepEqual(await store.stat('manual/f.txt'), { size: 7, sha256: undefined });
    assert.equal((await store.getBuffer('manual/f.txt')).toString(), 'by hand');
    await assert.rejects(store.getBuffer('manual/f.txt', { expectSha256: '0'.repeat(64) }), ArtifactIntegrityError);
  });

  test('keyed puts share content-addressed bytes and replace the key in one rename', async () => {
    const a = await store.put('share/a', 'same');
    const b = await store.put('share/b', 'same');
    assert.equal(a.sha256, b.sha256);
    const ta = fs.realpathSync(fileURLToPath(a.uri));
    assert.equal(ta, fs.realpathSync(fileURLToPath(b.uri)));
    assert.equal(path.basename(ta), a.sha256);
    // Deleting one key leaves the other readable.
    await store.delete('share/a');
    assert.equal((await store.getBuffer('share/b')).toString(), 'same');
  });

  test('a key that is a prefix of other keys cannot be written as a file, with a clear error', async () => {
    await store.put('dir/child', 'c');
    await assert.rejects(store.put('dir', 'x'), /other artifacts are stored under dir\//);
    assert.equal((await store.getBuffer('dir/child')).toString(), 'c');
    assert.deepEqual(fs.readdirSync(path.join(root, '.tmp')), []);
  });
});
