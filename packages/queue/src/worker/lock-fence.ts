/*
 * Self-fencing of one running job: the worker writes to S3 for a job only while it can show it holds
 * the job's lock. A worker cut off from Redis but not from S3 would otherwise keep uploading parts under
 * the very keys the worker that took the job over writes (under another AES key): its late PUTs would
 * corrupt the bundle the other one publishes.
 *
 * The fence renews the job's lock itself every `lockDurationMs / 8` (beside BullMQ's renewals) and keeps
 * the time each renewal was *sent*: one that succeeded proves the lock held until at least that time
 * plus `lockDurationMs` (Redis set the new expiry when it ran the renewal, which was after it was sent).
 * Another worker can take the job over only once the lock has expired (and the stalled-job check ran).
 * So when no renewal sent in the last `fenceAfterMs` (7/8 of the lock) has succeeded, the fence fires:
 * the job is stopped as if its lock were lost, which cuts off its S3 requests in flight at once and
 * sends no more — at least `lockDurationMs / 8` before any other worker can write.
 *
 * A renewal that finds the lock gone fires `onLost`. Renewals that hang (Redis away) do not stop the
 * next ones from being sent (a few at most wait at a time); `renewNow()` sends one at once (on
 * reconnecting).
 */

export interface LockFenceOptions {
  lockDurationMs: number;
  /** Renews the lock: true when this worker still holds it, false when it is gone; rejects on a Redis error. */
  renew: () => Promise<boolean>;
  /** No renewal confirmed the lock for `fenceAfterMs`: stop writing (called once). */
  onFence: (unconfirmedMs: number) => void;
  /** A renewal found the lock gone (called once). */
  onLost: () => void;
  /** Default: performance.now (ms). */
  now?: () => number;
}

/** How long a lock may go unconfirmed before the worker stops writing for its job: 7/8 of it. */
export function fenceAfterMs(lockDurationMs: number): number {
  return Math.floor((lockDurationMs * 7) / 8);
}

/** Renewals waiting for Redis at once, at most. */
const MAX_PENDING = 4;

export class LockFence {
  private readonly now: () => number;
  /** Send time of the latest renewal that succeeded (the job's start before the first). */
  private confirmedAt: number;
  private pending = 0;
  private ticker: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private done = false;
  readonly fenceAfterMs: number;

  constructor(private readonly options: LockFenceOptions) {
    this.now = options.now ?? (() => performance.now());
    this.confirmedAt = this.now();
    this.fenceAfterMs = fenceAfterMs(options.lockDurationMs);
  }

  start(): this {
    this.ticker = setInterval(() => this.renewNow(), Math.max(50, Math.floor(this.options.lockDurationMs / 8)));
    this.ticker.unref();
    this.arm();
    return this;
  }

  stop(): void {
    this.done = true;
    clearInterval(this.ticker);
    clearTimeout(this.watchdog);
  }

  /** Milliseconds since the send time of the latest renewal that succeeded. */
  get unconfirmedMs(): number {
    return this.now() - this.confirmedAt;
  }

  /** A lock check sent at `sentAt` (this clock) succeeded elsewhere (e.g. right before publishing). */
  confirmed(sentAt: number): void {
    if (this.done || sentAt <= this.confirmedAt) return;
    this.confirmedAt = sentAt;
    this.arm();
  }

  /** Sends a renewal now (unless several already wait for Redis). */
  renewNow(): void {
    if (this.done || this.pending >= MAX_PENDING) return;
    const sentAt = this.now();
    this.pending++;
    this.options.renew().then(
      (held) => {
        this.pending--;
        if (held) this.confirmed(sentAt);
        else if (!this.done) {
          this.stop();
          this.options.onLost();
        }
      },
      () => {
        this.pending--; // not confirmed; the next tick tries again
      },
    );
  }

  private arm(): void {
    clearTimeout(this.watchdog);
    if (this.done) return;
    this.watchdog = setTimeout(() => this.check(), Math.max(0, this.confirmedAt + this.fenceAfterMs - this.now()));
    this.watchdog.unref();
  }

  private check(): void {
    if (this.done) return;
    const unconfirmed = this.unconfirmedMs;
    if (unconfirmed < this.fenceAfterMs) return this.arm();
    this.stop();
    this.options.onFence(unconfirmed);
  }
}
