/**
 * How an attempt is stopped from outside, and what it makes of it. BullMQ hands the processor one
 * signal; its abort reason says who stopped the job:
 *
 * - SHUTDOWN_REASON: the worker is shutting down; the job goes back to the queue (not a failed attempt);
 * - CANCEL_REASON: a user cancelled it through the cancel channel; it fails as BF_CANCELLED;
 * - LOCK_LOST_REASON: this worker lost the job's lock (or fenced itself: lock-fence.ts); another worker
 *   may run the job now, so it fails as BF_JOB_LOCK_LOST and touches nothing of the job's any more.
 *
 * An AttemptStop turns that one signal into the two the sink takes: `bundling` stops preflight and
 * bundling (the sink lets uploads in flight end, then deletes what it wrote), `abandon` — only for a lost
 * lock — cuts requests off at once and deletes nothing (another worker may own those keys by now).
 * Publishing is never stopped by a cancel: it takes moments and must not leave half-recorded regions,
 * so a stop counts only while the attempt is not publishing yet (stopReason).
 */
import { CancelledError, type BundlefarmError } from '@bundlefarm/errors';
import { asBundlefarmError } from './job-failure.js';
import { JobLockLostError } from './worker-errors.js';

/** Abort reason of jobs stopped because their worker is shutting down: they go back to the queue. */
export const SHUTDOWN_REASON = 'bundlefarm:worker-shutdown';
/** Abort reason of jobs cancelled through the cancel channel: they fail as BF_CANCELLED. */
export const CANCEL_REASON = 'bundlefarm:cancelled';
/** Abort reason of jobs whose lock this worker lost (another worker may run them now). */
export const LOCK_LOST_REASON = 'bundlefarm:lock-lost';

/** The signals of one attempt's preflight and bundling, following BullMQ's signal until detached. */
export class AttemptStop {
  /** Stops preflight and bundling (a cancel, a shutdown, a lost lock). */
  private readonly bundlingController = new AbortController();
  /** Abandons the sink: requests cut off at once, nothing deleted (another worker may own the keys). */
  private readonly abandonController = new AbortController();
  private readonly onAbort = (): void => {
    if (this.signal?.reason === LOCK_LOST_REASON) this.abandonController.abort(LOCK_LOST_REASON);
    this.bundlingController.abort(this.signal?.reason);
  };

  constructor(private readonly signal: AbortSignal | undefined) {
    if (signal?.aborted) this.onAbort();
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get bundling(): AbortSignal {
    return this.bundlingController.signal;
  }

  get abandon(): AbortSignal {
    return this.abandonController.signal;
  }

  /** Bundling is over (or never started): BullMQ's signal no longer reaches these. */
  detach(): void {
    this.signal?.removeEventListener('abort', this.onAbort);
  }
}

/** Why an attempt that threw was stopped from outside; undefined: it was not (or only once publishing). */
export function stopReason(signal: AbortSignal | undefined, publishing: boolean): 'shutdown' | 'lock-lost' | 'cancelled' | undefined {
  // an abort counts only before publishing: publishing runs to its end whatever the signal says
  if (signal?.aborted !== true || publishing) return undefined;
  return signal.reason === SHUTDOWN_REASON ? 'shutdown' : signal.reason === LOCK_LOST_REASON ? 'lock-lost' : 'cancelled';
}

/** The error an attempt that threw `err` fails with, given why it was stopped (not for a shutdown). */
export function attemptFailure(err: unknown, stopped: 'lock-lost' | 'cancelled' | undefined, jobId: string | undefined): BundlefarmError {
  if (stopped === undefined) return asBundlefarmError(err);
  return stopped === 'lock-lost' ? new JobLockLostError(jobId ?? '', { cause: err }) : new CancelledError('bundle job', { cause: err });
}
