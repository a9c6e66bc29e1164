/**
 * Base class of every error bundlefarm raises on purpose.
 *
 * - `code` is stable: scripts, tests, job results and HTTP responses match on it, never on the message.
 * - `transient` says whether trying again may succeed (S3 5xx, Redis down, disk full) or whether the
 *   input itself is wrong (bad key, tampered part, image too large). Queue workers turn permanent errors
 *   into BullMQ's `UnrecoverableError` so they are not retried.
 * - `details` holds the facts the message is built from (file names, indexes, sizes), never secrets.
 */
export type ErrorDetailValue = string | number | boolean | null | undefined;
export type ErrorDetails = Readonly<Record<string, ErrorDetailValue>>;

export interface BundlefarmErrorOptions {
  /** Underlying error, kept for `--debug` output and logs. */
  cause?: unknown;
  /** Facts for machines (file, index, expected, actual ...). Must never contain key material. */
  details?: ErrorDetails;
}

export interface SerializedError {
  code: string;
  message: string;
  transient: boolean;
  details: ErrorDetails;
}

export class BundlefarmError extends Error {
  readonly code: string;
  readonly transient: boolean;
  readonly details: ErrorDetails;

  constructor(code: string, message: string, transient: boolean, options: BundlefarmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.transient = transient;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  toJSON(): SerializedError {
    return { code: this.code, message: this.message, transient: this.transient, details: this.details };
  }
}

/** True for errors bundlefarm raised itself (across realms and package copies, by duck typing). */
export function isBundlefarmError(err: unknown): err is BundlefarmError {
  return (
    err instanceof BundlefarmError ||
    (typeof err === 'object' &&
      err !== null &&
      typeof (err as { code?: unknown }).code === 'string' &&
      (err as { code: string }).code.startsWith('BF_') &&
      typeof (err as { transient?: unknown }).transient === 'boolean')
  );
}
