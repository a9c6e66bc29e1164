/*
 * API tokens at rest: only `sha256:<hex>` of each token is configured (principals file), never the
 * token. Tokens are random strings of 192 bits or more (`generateToken`), so a fast hash is enough —
 * nothing short of the token itself finds a preimage; a slow hash (scrypt) protects only guessable
 * secrets such as passwords. Comparison hashes the offered token once and compares it with every
 * configured digest in constant time, without stopping at a match.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** Shortest token accepted (characters), and what `generateToken` makes: 32 random bytes, base64url. */
export const MIN_TOKEN_LENGTH = 16;

export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/** The 32-byte digest of a `sha256:<hex>` hash. */
export function tokenDigest(hash: string): Buffer {
  if (!TOKEN_HASH_PATTERN.test(hash)) throw new Error('not a sha256:<64 hex> token hash');
  return Buffer.from(hash.slice('sha256:'.length), 'hex');
}

/** Index in `digests` of the one `token` hashes to (every digest compared), or -1. */
export function findTokenDigest(token: string, digests: readonly Buffer[]): number {
  const given = createHash('sha256').update(token, 'utf8').digest();
  let found = -1;
  for (let i = 0; i < digests.length; i++) if (timingSafeEqual(given, digests[i]!) && found < 0) found = i;
  return found;
}

/** A new random API token (43 characters of base64url, 256 bits). */
export function generateToken(): string {
  return `bf_${randomBytes(32).toString('base64url')}`;
}
