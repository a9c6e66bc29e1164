import type { JobsOptions } from 'bullmq';

/** Name of the BullMQ queue of bundle jobs. */
export const BUNDLE_QUEUE = 'bundles';

/**
 * Key prefix of every bundlefarm key in Redis (default "bundlefarm"). With Redis Cluster use a hash tag,
 * e.g. "{bundlefarm}", so all keys of the queue live in one slot.
 */
export const DEFAULT_PREFIX = 'bundlefarm';

/**
 * Events the queue's event stream keeps (BullMQ's default): progress, completions and failures are
 * XADDed there for QueueEvents readers (the API's metrics, the CLI's --wait through the API), and
 * trimmed, approximately, to this many. The stream is the one part of the queue that grows with every
 * job however jobs are trimmed, up to this cap (some 250 bytes an event, ~10 events a small job).
 */
export const DEFAULT_EVENTS_MAX_LEN = 10_000;

/** Job options: retries with exponential backoff and jitter, and trimming so Redis does not grow. */
export interface JobPolicy {
  /** Attempts for transient failures (default 5). */
  attempts?: number;
  /** First backoff delay in ms (default 10 000), doubled each attempt, with 50 % jitter. */
  backoffMs?: number;
  /** Completed jobs kept (default: the last 1000, and none older than 7 days). */
  keepCompleted?: number;
  /** Failed jobs kept (default: the last 5000, and none older than 30 days). */
  keepFailed?: number;
}

export function jobOptions(policy: JobPolicy = {}): JobsOptions {
  return {
    attempts: policy.attempts ?? 5,
    backoff: { type: 'exponential', delay: policy.backoffMs ?? 10_000, jitter: 0.5 },
    removeOnComplete: { count: policy.keepCompleted ?? 1000, age: 7 * 24 * 3600 },
    removeOnFail: { count: policy.keepFailed ?? 5000, age: 30 * 24 * 3600 },
  };
}
