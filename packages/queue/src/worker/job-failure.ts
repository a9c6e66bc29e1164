/**
 * How a job's error reaches BullMQ. The job's `failedReason` is `BF_CODE: message` (stable code first,
 * for the API to match on). Permanent errors become BullMQ's UnrecoverableError, so the job fails at
 * once whatever attempts are left; transient ones are thrown as plain errors, so BullMQ retries them
 * with the queue's backoff.
 */
import { UnrecoverableError } from 'bullmq';
import { BundlefarmError, CancelledError, isBundlefarmError } from '@bundlefarm/errors';
import { WorkerInternalError } from './worker-errors.js';

/** Any thrown value as a BundlefarmError (unknown errors are internal, transient). */
export function asBundlefarmError(err: unknown): BundlefarmError {
  if (err instanceof BundlefarmError) return err;
  if (isBundlefarmError(err)) {
    // a BundlefarmError from another copy of the package: keep its code and classification
    return new BundlefarmError(err.code, err.message, err.transient, { cause: err, details: err.details });
  }
  if ((err as { name?: unknown } | null)?.name === 'AbortError') return new CancelledError('bundle job', { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new WorkerInternalError(message, { cause: err });
}

/** The error to throw from the processor for `err`. */
export function toJobFailure(err: BundlefarmError): Error {
  const reason = `${err.code}: ${err.message}`;
  const failure = err.transient ? Object.assign(new Error(reason), { name: 'TransientBundleError' }) : new UnrecoverableError(reason);
  // BullMQ keeps the thrown error's stack in the job (Bull Board shows it): for an error bundlefarm
  // classified — bad input, configuration, S3 said no — the code and message are the whole story, and
  // frames of the worker's own files (local paths) are noise to whoever reads the board. Only an
  // unexpected error (a bug) keeps the stack of where it happened, for the one who fixes it.
  failure.stack = err.code === WorkerInternalError.code && err.cause instanceof Error && err.cause.stack ? err.cause.stack : `${failure.name}: ${reason}`;
  return failure;
}

export { failureCode } from '../failure-reason.js';
