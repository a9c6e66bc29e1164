import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Comparisons of secrets that take the same time whatever the input: both sides are hashed to 32 bytes
 * first (so lengths leak nothing and `timingSafeEqual` gets equal lengths), and every candidate is
 * compared, with no early exit when one matches.
 */
function digest(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

export function secretEquals(given: string | Buffer, expected: string | Buffer): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function matchesAnySecret(given: string | Buffer, secrets: readonly string[]): boolean {
  let match = false;
  for (const s of secrets) match = secretEquals(given, s) || match;
  return match;
}
