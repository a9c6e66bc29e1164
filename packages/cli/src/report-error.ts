import { inspect } from 'node:util';
import { isBundlefarmError } from '@bundlefarm/errors';

/** Exit codes: 1 for an error bundlefarm names (bad input, tampered part ...), 2 for usage, 70 for a bug. */
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERNAL = 70;

/**
 * One clear line per error (`bundlefarm: BF_PART_TAMPERED: part 3 (x.part.03) is corrupt ...`); the stack
 * and causes only with --debug.
 */
export function reportError(err: unknown, debug: boolean, write: (s: string) => void): number {
  if (isBundlefarmError(err)) {
    write(`bundlefarm: ${err.code}: ${err.message}\n`);
    if (debug) writeDebug(err, write);
    return EXIT_ERROR;
  }
  const message = err instanceof Error ? err.message : String(err);
  write(`bundlefarm: internal error: ${message}${debug ? '' : ' (run with --debug for details)'}\n`);
  if (debug) writeDebug(err, write);
  return EXIT_INTERNAL;
}

function writeDebug(err: unknown, write: (s: string) => void): void {
  let current: unknown = err;
  let depth = 0;
  while (current && depth < 5) {
    // a thrown non-Error (an object, say) is shown as what it is, not as "[object Object]"
    write(`${depth === 0 ? '' : 'caused by: '}${current instanceof Error ? (current.stack ?? current.message) : inspect(current, { depth: 2, breakLength: Infinity })}\n`);
    current = current instanceof Error ? current.cause : undefined;
    depth++;
  }
}
