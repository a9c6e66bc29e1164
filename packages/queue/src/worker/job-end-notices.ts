/*
 * The worker's part in job-end notifications: when an attempt ends a job — it completed, it failed for
 * good (a permanent error, or its last attempt), it was cancelled — a notice is queued (see
 * notify/job-notice.ts) before the job is moved to its final state. A notice queued for an end that
 * then does not happen (the worker dies before BullMQ records it) is held back by the notifier until
 * the job's state agrees, and the attempt that runs next reports the same notice id, which adds nothing.
 *
 * Only jobs the API marked (`notify`) get notices, and with a job MAC key only jobs whose MAC holds:
 * a job written straight into Redis makes no notice the API would sign. A job the worker refused as
 * unauthorized (BF_JOB_UNAUTHORIZED: outside its principal's scope, or a replay — a genuine MAC issued
 * too long ago) makes none either: its notice, a signed delivery and a commit status on an old commit,
 * could be had again with every copy written back into Redis.
 */
import { DelayedError, Queue, RateLimitError, UnrecoverableError, WaitingChildrenError, WaitingError } from 'bullmq';
import type { Job } from 'bullmq';
import { CancelledError } from '@bundlefarm/errors';
import type { BundleJobData, BundleJobResult } from '../job-types.js';
import { addNotice, jobNotice, NOTIFY_QUEUE, type JobEndState, type NoticeJobData } from '../notify/job-notice.js';
import { createRedis } from '../redis-connection.js';
import { jobMacFields, jobMacValid } from '../scopes/job-mac.js';
import { JobUnauthorizedError } from '../scopes/scope-errors.js';
import { failureCode } from './job-failure.js';
import { JobLockLostError } from './worker-errors.js';
import type { WorkerLogger } from './worker-logger.js';

/** A notice waits this long before the notifier first looks: the job is in its final state by then. */
export const NOTICE_DELAY_MS = 250;

export interface JobEndNoticesOptions {
  redisUrl: string;
  prefix: string;
  macKey: Buffer | undefined;
  logger: WorkerLogger;
}

export class JobEndNotices {
  private readonly queue: Queue<NoticeJobData>;

  constructor(private readonly options: JobEndNoticesOptions) {
    const connection = createRedis({ url: options.redisUrl });
    connection.on('error', () => {});
    this.queue = new Queue<NoticeJobData>(NOTIFY_QUEUE, { connection, prefix: options.prefix });
    this.queue.on('error', () => {});
  }

  /** The job completed with `result`. Throws when the notice cannot be queued (the attempt is retried). */
  async completed(job: Job<BundleJobData, BundleJobResult>, result: BundleJobResult): Promise<void> {
    await this.add(job, 'completed', { result });
  }

  /** The attempt threw `err`: a notice when that ends the job (never throws). */
  async attemptFailed(job: Job<BundleJobData, BundleJobResult>, err: unknown): Promise<void> {
    const state = endState(job, err);
    if (state === undefined) return;
    if (failureCode(err instanceof Error ? err.message : String(err)) === JobUnauthorizedError.code) {
      this.options.logger.warn({ jobId: job.id, state }, 'no job-end notice: the job was refused as unauthorized');
      return;
    }
    try {
      await this.add(job, state, { failedReason: err instanceof Error ? err.message : String(err) });
    } catch (e) {
      this.options.logger.error({ err: e, jobId: job.id, state }, 'could not queue the job-end notice');
    }
  }

  async close(): Promise<void> {
    await this.queue.close().catch(() => {});
    await this.queue.disconnect().catch(() => {});
  }

  private async add(job: Job<BundleJobData, BundleJobResult>, state: JobEndState, end: { result?: BundleJobResult; failedReason?: string }): Promise<void> {
    const data = job.data;
    if (job.id === undefined || data?.notify !== true || !this.trusted(job)) return;
    const notice = jobNotice({ id: job.id, data, state, ...end });
    if (await addNotice(this.queue, notice, this.options.macKey, NOTICE_DELAY_MS)) {
      this.options.logger.info({ jobId: job.id, state, run: notice.run }, 'job-end notice queued');
    }
  }

  private trusted(job: Job<BundleJobData, BundleJobResult>): boolean {
    const key = this.options.macKey;
    if (key === undefined) return true;
    const d = job.data;
    return jobMacValid(key, jobMacFields(job.id ?? '', d as unknown as Record<string, unknown>), d.mac);
  }
}

/** The end `err` makes of the job, if any: none for a hand-back, a delay, a retry or a lost lock. */
export function endState(job: Pick<Job, 'attemptsMade' | 'opts'>, err: unknown): JobEndState | undefined {
  if (err instanceof WaitingError || err instanceof DelayedError || err instanceof RateLimitError || err instanceof WaitingChildrenError) return undefined;
  const reason = err instanceof Error ? err.message : String(err);
  const code = failureCode(reason);
  // another worker owns the job now: its end is that worker's to report
  if (code === JobLockLostError.code) return undefined;
  const permanent = err instanceof UnrecoverableError || (err as { name?: unknown } | null)?.name === 'UnrecoverableError';
  if (!permanent && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) return undefined;
  return code === CancelledError.code ? 'cancelled' : 'failed';
}
