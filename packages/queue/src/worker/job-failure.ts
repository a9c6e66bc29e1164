import { UnrecoverableError } from 'bullmq';
import { BundlefarmError, CancelledError, isBundlefarmError } from '@bundlefarm/errors';
import { WorkerInternalError } from './worker-errors.js';

/**
 * How a job's error reaches BullMQ. The job's `failedReason` is `BF_CODE: message` (stable code first,
 * for the API to match on). Permanent errors become BullMQ's UnrecoverableError, so the job fails at
 * once whatever attempts are left; transient ones are thrown as plain errors, so BullMQ retries them
 * with the queue's backoff.
 */

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
  if (!err.transient) return new UnrecoverableError(reason);
  const failure = new Error(reason);
  failure.name = 'TransientBundleError';
  return failure;
}

export { failureCode } from '../failure-reason.js';
