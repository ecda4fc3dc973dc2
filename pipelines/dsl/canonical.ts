import crypto from 'node:crypto';

// canonicalJson is pure (workflow code uses it too); this module adds node's hashes.
export { canonicalJson } from './canonical-json';

export function sha256Hex(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex');
}
