/**
 * One region of an S3PartSink (s3-part-sink.ts): what was written there, the requests under way, and
 * how they stop.
 *
 * Deleting waits for the PUTs still in flight: a server may complete a PUT whose client went away
 * after sending the body (S3 does), so a PUT cut off and deleted right after could land after its
 * DELETE and stay. A failed region and the sink's `abort()` therefore release callers at once and send
 * nothing more (`signal`), but let requests already sent run to their end — for at most `settleMs`,
 * after which they are cut off (S3 hangs: its deletes would not pass either). The caller's signal (a
 * cancel, a shutdown) stops the sink the same way: what was sent settles, then `abort()` deletes it, so
 * a cancel leaves nothing behind. Only the sink's `abandonSignal` cuts requests off at once, and then
 * nothing is deleted: it is for a lost job lock, when another BullMQ worker may be writing the same
 * keys already — late PUTs of ours must not land over its parts, and deletes of ours must not take them
 * away.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import type { BundlefarmError } from '@bundlefarm/errors';
import { eachLimited } from './each-limited.js';
import { withRetry, type RetryPolicy } from './retry.js';
import type { S3Target } from './s3-part-sink.js';

/** Deletes run this many at a time per region (abort and failed-region cleanup). */
const DELETE_CONCURRENCY = 8;

export class RegionUpload {
  failure: BundlefarmError | undefined;
  /** Every key a PUT was started for (it may have landed even if the client saw an error); deleted ones leave. */
  readonly written = new Set<string>();
  /** Every key a PUT was ever started for (never shrinks). */
  readonly touched = new Set<string>();
  /** The check (and withdrawal) of a published manifest, before the region's first write. */
  prepared: Promise<void> | undefined;
  /** Stored part index → byte length. */
  readonly parts = new Map<number, number>();
  /** Uploads (with their retries) under way. */
  readonly inflight = new Set<Promise<unknown>>();
  /** HTTP requests sent and not answered yet: what they did at the server is not known until they end. */
  private readonly requests = new Set<Promise<unknown>>();
  /** Aborted when the region fails or the sink is cancelled: no more requests, callers released. */
  readonly controller = new AbortController();
  /** The sink's signal or the region's own. */
  readonly signal: AbortSignal;
  /** Cuts off the requests still in flight once stopping has waited `settleMs` for them. */
  private readonly cutOff = new AbortController();
  /** What the requests themselves are sent with: the cut-off, or the sink's abandonSignal (a lost lock). */
  readonly requestSignal: AbortSignal;
  /** The region's failure cleanup (settle, then delete what was written), once it failed. */
  cleanup: Promise<void> | undefined;

  constructor(
    readonly target: S3Target,
    sinkSignal: AbortSignal,
    private readonly abandonSignal: AbortSignal | undefined,
  ) {
    this.signal = AbortSignal.any([sinkSignal, this.controller.signal]);
    this.requestSignal = abandonSignal ? AbortSignal.any([abandonSignal, this.cutOff.signal]) : this.cutOff.signal;
  }

  /**
   * Tracks a request sent to this region (see `settle`). The caller gets its outcome, or an AbortError
   * as soon as the region stops — while the request itself runs on to its end or its cut-off.
   */
  send<T>(request: Promise<T>): Promise<T> {
    const tracked = request.then(
      () => undefined,
      () => undefined,
    );
    this.requests.add(tracked);
    void tracked.then(() => this.requests.delete(tracked));
    if (this.signal.aborted) return Promise.reject(abortError());
    return new Promise<T>((resolve, reject) => {
      const onStop = (): void => reject(abortError());
      this.signal.addEventListener('abort', onStop, { once: true });
      request.then(resolve, reject).finally(() => this.signal.removeEventListener('abort', onStop));
    });
  }

  /** Waits until the region's requests in flight have ended, cutting them off after `settleMs`. */
  async settle(settleMs: number): Promise<void> {
    if (this.requests.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...this.requests]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, settleMs);
        }),
      ]);
      clearTimeout(timer);
    }
    this.cutOff.abort();
    await Promise.all([...this.requests]);
  }

  /**
   * Deletes every key written in the region (best effort, retried, never cancelled); forgets those
   * deleted. Nothing once abandoned: the keys are another writer's then (they stay in `written`, which
   * the sink reports as leftovers).
   */
  async deleteWritten(retry: RetryPolicy): Promise<void> {
    if (this.abandonSignal?.aborted) return;
    const { bucket, client } = this.target;
    await eachLimited([...this.written], DELETE_CONCURRENCY, async (key) => {
      try {
        await withRetry({ policy: retry, operation: 'DeleteObject', bucket, key }, () => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
        this.written.delete(key);
      } catch {
        // kept in `written`: reported by the sink's leftoverObjects()
      }
    });
  }
}

/** What a request's caller gets when its region stops first (withRetry then reports the stop's reason). */
export function abortError(): Error {
  return Object.assign(new Error('the upload was stopped'), { name: 'AbortError' });
}
