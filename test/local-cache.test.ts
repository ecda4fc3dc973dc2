import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { LocalArtifactStore, type ArtifactStore } from '../infra/artifacts';
import { clearSharedLocalCopies, withSharedLocalCopy } from '../activities/data/local-cache';
import { tempDir } from './helpers/stack';

/** A real local store whose reads are counted. */
function counting(store: ArtifactStore): { store: ArtifactStore; gets: () => number } {
  let gets = 0;
  const counted = Object.create(store) as ArtifactStore;
  counted.get = (...args: Parameters<ArtifactStore['get']>) => {
    gets++;
    return store.get(...args);
  };
  return { store: counted, gets: () => gets };
}

test('shared local copies: concurrent chunks read one copy of the input; it goes when unused', async () => {
  const root = path.join(tempDir('local-cache'), 'artifacts');
  const real = await LocalArtifactStore.open(root);
  const ref = await real.putContent(Buffer.from('x'.repeat(100_000)));
  const { store, gets } = counting(real);

  const seen: string[] = [];
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const users = Array.from({ length: 4 }, () =>
    withSharedLocalCopy(store, ref, async (file) => {
      seen.push(file);
      assert.equal(fs.readFileSync(file, 'utf8').length, 100_000);
      await held;
      return file;
    }, { extension: '.bin' }),
  );
  await new Promise((r) => setTimeout(r, 50));
  release();
  await Promise.all(users);
  assert.equal(new Set(seen).size, 1, 'one local file for all four');
  assert.equal(gets(), 1, 'fetched once');
  // Still there for a chunk that starts just after, then removed once unused.
  await withSharedLocalCopy(store, ref, async (file) => assert.equal(file, seen[0]), { extension: '.bin' });
  assert.equal(gets(), 1);
  clearSharedLocalCopies();
  assert.equal(fs.existsSync(seen[0]!), false, 'deleted when no activity uses it');
});

test('shared local copies: damaged bytes fail the reader and are not kept for the next one', async () => {
  const root = path.join(tempDir('local-cache'), 'artifacts');
  const real = await LocalArtifactStore.open(root);
  const ref = await real.putContent(Buffer.from('y'.repeat(50_000)));
  const cas = path.join(root, 'cas', ref.sha256.slice(0, 2), ref.sha256);
  assert.ok(fs.existsSync(cas), `the store keeps ${cas}`);
  const good = fs.readFileSync(cas);
  fs.chmodSync(cas, 0o644);
  fs.writeFileSync(cas, Buffer.from('z'.repeat(50_000)));
  const { store, gets } = counting(real);
  await assert.rejects(withSharedLocalCopy(store, ref, async () => 'unreachable'), /sha|hash|checksum|mismatch/i);
  fs.writeFileSync(cas, good);
  const text = await withSharedLocalCopy(store, ref, async (file) => fs.readFileSync(file, 'utf8'));
  assert.equal(text.length, 50_000);
  assert.equal(gets(), 2, 'the failed copy was not reused');
  clearSharedLocalCopies();
});
