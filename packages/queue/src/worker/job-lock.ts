/**
 * Fencing of one attempt by its job's BullMQ lock. Another worker may take a job whose lock this one
 * could not renew (Redis unreachable, the process stalled), and redo it: its run overwrites the parts
 * and publishes its own manifest. So a manifest goes up, and leftovers are deleted, only right after a
 * renewal that succeeded (holds), and an attempt that lost the lock writes nothing of the job's any
 * more — not its data, not its claims (`lost`). LOCK_LOST_REASON on the signal (self-fencing,
 * lock-fence.ts) counts as lost whatever Redis says.
 */
import type { Job } from 'bullmq';
import { LOCK_LOST_REASON } from './job-cancellation.js';
import { asBundlefarmError } from './job-failure.js';
import { JobLockLostError } from './worker-errors.js';

export class JobLock {
  /** Set at the end of a failed attempt that lost the lock: the job's data and claims are not its to touch. */
  lost = false;

  constructor(
    private readonly job: Pick<Job, 'id' | 'extendLock'>,
    /** BullMQ's lock token; none for a job run outside a BullMQ worker (no lock to check). */
    private readonly token: string | undefined,
    private readonly signal: AbortSignal | undefined,
    private readonly lockDurationMs: number,
  ) {}

  /**
   * True while this worker holds the job: its lock renewed just now (a Redis round trip), and the job not
   * stopped for a lost lock (self-fencing) meanwhile.
   */
  async holds(): Promise<boolean> {
    if (this.signalSaysLost()) return false;
    if (this.token === undefined) return true;
    const renewed = await this.job.extendLock(this.token, this.lockDurationMs);
    return renewed === 1 && !this.signalSaysLost();
  }

  /** Throws JobLockLostError unless the lock holds (see holds). */
  async check(): Promise<void> {
    if (!(await this.holds())) throw this.lostError();
  }

  lostError(): JobLockLostError {
    return new JobLockLostError(this.job.id ?? '');
  }

  /** At the end of a failed attempt: was the lock lost (by the signal, or as the error says)? Sets `lost`. */
  settle(err: unknown): boolean {
    this.lost = this.signal?.reason === LOCK_LOST_REASON || asBundlefarmError(err).code === JobLockLostError.code;
    return this.lost;
  }

  private signalSaysLost(): boolean {
    return this.signal?.aborted === true && this.signal.reason === LOCK_LOST_REASON;
  }
}
