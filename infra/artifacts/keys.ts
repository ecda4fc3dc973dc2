import { InvalidArtifactKeyError, isSha256 } from './store';

/**
 * Artifact keys are relative, `/`-separated paths such as `runs/r1/model.onnx`. The same rules
 * hold on every backend, so a key that works locally works on S3 and cannot escape either store.
 */

/** Content-addressed artifacts live under `cas/<sha[0:2]>/<sha>`. */
export const CAS_PREFIX = 'cas/';
/** Reserved for in-flight writes; never a valid key, never listed. */
export const TMP_SEGMENT = '.tmp';

/** S3's limit, and a sane one for paths. */
export const MAX_KEY_BYTES = 1024;
/** The usual filesystem NAME_MAX. */
export const MAX_SEGMENT_BYTES = 255;

function fail(key: string, why: string): never {
  throw new InvalidArtifactKeyError(key, why);
}

/**
 * Returns the key unchanged when it is valid, or throws InvalidArtifactKeyError naming the key and
 * the rule it breaks.
 */
export function validateKey(key: unknown): string {
  if (typeof key !== 'string') fail(String(key), `a key must be a string, got ${typeof key}`);
  if (key.length === 0) fail(key, 'the key is empty');
  if (key.includes('\0')) fail(key, 'it contains a NUL character');
  if (key.includes('\\')) fail(key, 'it contains a backslash (use / to separate segments)');
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(key)) fail(key, 'it contains a control character');
  if (key.startsWith('/')) fail(key, 'it is an absolute path (keys are relative to the store)');
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(key)) fail(key, 'it is a URI, not a key (use keyFromUri)');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) fail(key, `it is longer than ${MAX_KEY_BYTES} bytes`);
  const segments = key.split('/');
  segments.forEach((seg, i) => {
    if (seg === '') fail(key, i === segments.length - 1 ? 'it ends with /' : 'it has an empty segment (//)');
    if (seg === '..') fail(key, 'it has a ".." segment');
    if (seg === '.') fail(key, 'it has a "." segment');
    if (Buffer.byteLength(seg, 'utf8') > MAX_SEGMENT_BYTES) fail(key, `segment "${seg.slice(0, 20)}…" is longer than ${MAX_SEGMENT_BYTES} bytes`);
  });
  if (segments[0] === TMP_SEGMENT) fail(key, `"${TMP_SEGMENT}/" is reserved for in-flight writes`);
  return key;
}

/** A key a caller may write with `put()`: valid and not in the content-addressed area. */
export function validateWritableKey(key: unknown): string {
  const k = validateKey(key);
  if (k.startsWith(CAS_PREFIX)) fail(k, `"${CAS_PREFIX}" is reserved for content-addressed artifacts (use putContent)`);
  return k;
}

/**
 * A list prefix: empty, or anything a key could start with (so it may end with `/` or be a
 * partial segment), held to the same rules otherwise.
 */
export function validatePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}

export function casKey(sha256: string): string {
  return `${CAS_PREFIX}${sha256.slice(0, 2)}/${sha256}`;
}

/** The sha256 a content-addressed key names, or undefined for any other key. */
export function shaOfCasKey(key: string): string | undefined {
  const m = /^cas\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(key);
  return m && isSha256(m[2]!) && m[2]!.startsWith(m[1]!) ? m[2] : undefined;
}
