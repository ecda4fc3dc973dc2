import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  InvalidArtifactKeyError,
  casKey,
  shaOfCasKey,
  validateKey,
  validatePrefix,
  validateWritableKey,
} from '../infra/artifacts/index';

const rejects = (key: string, why: RegExp, fn: (k: string) => unknown = validateKey) =>
  assert.throws(
    () => fn(key),
    (e: unknown) => {
      assert.ok(e instanceof InvalidArtifactKeyError, `expected InvalidArtifactKeyError for ${JSON.stringify(key)}, got ${e}`);
      assert.equal(e.name, 'InvalidArtifactKeyError');
      assert.equal(e.code, 'ARTIFACT_KEY_INVALID');
      assert.equal(e.retryable, false);
      assert.equal(e.key, key);
      assert.ok(e.message.includes(JSON.stringify(key)), `message does not name the key: ${e.message}`);
      assert.match(e.message, why);
      return true;
    },
  );

describe('artifact keys', () => {
  test('ordinary relative keys are accepted unchanged', () => {
    for (const k of [
      'a',
      'runs/r1/report.html',
      'runs/2024-01-01T00:00:00Z/model v2.onnx',
      '.hidden/file',
      'a..b/...',
      'dataset/日本語/データ.csv',
      'x'.repeat(255),
      `${'d/'.repeat(500)}e`,
    ]) {
      assert.equal(validateKey(k), k);
    }
  });

  test('keys that could escape the store or be ambiguous are rejected, naming the key and the reason', () => {
    rejects('', /empty/);
    rejects('/abs/path', /absolute/);
    rejects('..', /"\.\." segment/);
    rejects('../x', /"\.\." segment/);
    rejects('a/..', /"\.\." segment/);
    rejects('a/../../../etc/passwd', /"\.\." segment/);
    rejects('.', /"\." segment/);
    rejects('./a', /"\." segment/);
    rejects('a//b', /empty segment/);
    rejects('a/', /ends with \//);
    rejects('a\\b', /backslash/);
    rejects('..\\..\\windows', /backslash/);
    rejects('a\0b', /NUL/);
    rejects('a\u0001b', /control character/);
    rejects('a\rb', /control character/);
    rejects('s3://bucket/key', /URI/);
    rejects('file:///etc/passwd', /URI/);
    rejects('.tmp', /reserved/);
    rejects('.tmp/abc', /reserved/);
    rejects('x'.repeat(256), /longer than 255 bytes/);
    rejects('é'.repeat(513), /longer than 1024 bytes/); // 1026 bytes in UTF-8, 513 characters
  });

  test('non-string keys are rejected', () => {
    assert.throws(() => validateKey(undefined), InvalidArtifactKeyError);
    assert.throws(() => validateKey(42), InvalidArtifactKeyError);
  });

  test('a reserved name is only reserved at the top', () => {
    assert.equal(validateKey('runs/.tmp/x'), 'runs/.tmp/x');
    assert.equal(validateKey('.tmpfile'), '.tmpfile');
  });

  test('cas/ keys are readable but not writable by name', () => {
    const sha = createHash('sha256').update('x').digest('hex');
    const k = casKey(sha);
    assert.equal(k, `cas/${sha.slice(0, 2)}/${sha}`);
    assert.equal(validateKey(k), k);
    rejects(k, /putContent/, validateWritableKey);
    rejects('cas/anything', /reserved for content-addressed/, validateWritableKey);
    assert.equal(validateWritableKey('cascade/x'), 'cascade/x');
  });

  test('shaOfCasKey recognises only well-formed content addresses', () => {
    const sha = createHash('sha256').update('y').digest('hex');
    assert.equal(shaOfCasKey(casKey(sha)), sha);
    assert.equal(shaOfCasKey(`cas/00/${sha}`), sha.startsWith('00') ? sha : undefined);
    assert.equal(shaOfCasKey(`cas/${sha.slice(0, 2)}/${sha.toUpperCase()}`), undefined);
    assert.equal(shaOfCasKey(`cas/${sha.slice(0, 2)}/${sha}/more`), undefined);
    assert.equal(shaOfCasKey(`runs/${sha.slice(0, 2)}/${sha}`), undefined);
    assert.equal(shaOfCasKey(`cas/${sha.slice(0, 2)}/${sha.slice(1)}`), undefined);
  });

  test('list prefixes may be empty, end with / or stop mid-segment, and follow the key rules otherwise', () => {
    for (const p of ['', 'runs/', 'runs/r', 'runs']) assert.equal(validatePrefix(p), p);
    assert.throws(() => validatePrefix('../'), InvalidArtifactKeyError);
    assert.throws(() => validatePrefix('/'), InvalidArtifactKeyError);
    assert.throws(() => validatePrefix('a//'), InvalidArtifactKeyError);
    assert.throws(() => validatePrefix('.tmp/'), InvalidArtifactKeyError);
  });
});
