/**
 * Retries on top of the SDK's own: the SDK retries quickly (and stops when its per-client retry quota
 * runs dry in an outage); this layer waits longer between tries, with exponential backoff and full
 * jitter (a random delay in [0, min(max, base·2^(n−1))]) so that many uploads failing together do not
 * come back together. Only retryable failures (5xx, throttling, timeouts, dropped connections) are
 * retried; everything else fails at once.
 */
import { CancelledError, InvalidOptionError } from '@bundlefarm/errors';
import { abortedError, describeS3Error, isAbortError, isRetryableS3Error, toS3Error } from './s3-error-mapping.js';

export interface RetryOptions {
  /** Tries per request at this layer, 1–20 (default 5); each may be several SDK attempts. */
  attempts?: number;
  /** Backoff ceiling of the first retry, in ms (default 250). */
  baseDelayMs?: number;
  /** Largest backoff ceiling, in ms (default 20 000). */
  maxDelayMs?: number;
}

export type RetryPolicy = Required<RetryOptions>;

export const RETRY_DEFAULTS: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 20_000 };

/** One retry about to happen, for logs and metrics (no secrets: bucket, key and an error summary). */
export interface RetryEvent {
  operation: string;
  bucket: string;
  key?: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  delayMs: number;
  reason: string;
}

export function checkRetryOptions(options: RetryOptions = {}): RetryPolicy {
  const policy = { ...RETRY_DEFAULTS, ...stripUndefined(options) };
  const whole = (name: string, v: number, min: number, max: number): void => {
    if (!Number.isInteger(v) || v < min || v > max) throw new InvalidOptionError(`retry ${name}`, `${String(v)} is not a whole number from ${min} to ${max}`);
  };
  whole('attempts', policy.attempts, 1, 20);
  whole('baseDelayMs', policy.baseDelayMs, 0, 600_000);
  whole('maxDelayMs', policy.maxDelayMs, 0, 3_600_000);
  if (policy.maxDelayMs < policy.baseDelayMs) throw new InvalidOptionError('retry maxDelayMs', 'is smaller than baseDelayMs');
  return policy;
}

/** Full-jitter backoff before retry number `attempt` (1 = after the first failure). */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt - 1, 30));
  return Math.floor(random() * ceiling);
}

/** Waits `ms`, or rejects with CancelledError as soon as `signal` fires. */
export function sleep(ms: number, signal?: AbortSignal, what = 'S3 request'): Promise<void> {
  if (signal?.aborted) return Promise.reject(new CancelledError(what));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new CancelledError(what));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface RetryContext {
  policy: RetryPolicy;
  operation: string;
  bucket: string;
  key?: string;
  signal?: AbortSignal;
  onRetry?: (event: RetryEvent) => void;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the attempts are spent; rejects with the last
 * error as thrown (callers map it with `toS3Error`), or when `signal` fires with CancelledError
 * (S3UnavailableError when it was a deadline, see abortedError).
 */
export async function withRetry<T>(ctx: RetryContext, attempt: () => Promise<T>): Promise<T> {
  const { signal } = ctx;
  for (let n = 1; ; n++) {
    if (signal?.aborted) throw abortedError(ctx, signal.reason);
    try {
      return await attempt();
    } catch (err) {
      if (signal?.aborted) throw abortedError(ctx, signal.reason, err);
      if (isAbortError(err)) throw toS3Error(err, ctx);
      if (n >= ctx.policy.attempts || !isRetryableS3Error(err)) throw err;
      const delayMs = backoffDelay(n, ctx.policy);
      ctx.onRetry?.({
        operation: ctx.operation,
        bucket: ctx.bucket,
        ...(ctx.key !== undefined ? { key: ctx.key } : {}),
        attempt: n,
        delayMs,
        reason: describeS3Error(err),
      });
      await sleep(delayMs, signal).catch((cancelled: unknown) => {
        throw signal?.aborted ? abortedError(ctx, signal.reason) : cancelled;
      });
    }
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
