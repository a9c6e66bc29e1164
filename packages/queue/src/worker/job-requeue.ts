/**
 * An attempt that gives its job back to the queue instead of failing it (not counted as an attempt):
 *
 * - waitForTarget: another job is writing a bundle of this name to one of the targets (TargetBusyError);
 *   the job is delayed and looks again then. Nothing was written anywhere.
 * - handBack: the worker is shutting down; the job is moved to wait for another worker.
 *
 * Either way the stored progress says `queued` with the highest percent watchers have seen (percent
 * never goes down), and BullMQ is told the job is no longer this worker's (DelayedError, WaitingError).
 * Without a lock token (a job run outside a BullMQ worker) the job fails with the error instead.
 */
import { DelayedError, WaitingError, type Job } from 'bullmq';
import type { BundleJobData, BundleJobProgress, BundleJobResult } from '../job-types.js';
import { asBundlefarmError, toJobFailure } from './job-failure.js';
import type { TargetBusyError } from './worker-errors.js';
import type { WorkerLogger } from './worker-logger.js';

export interface JobRequeueContext {
  job: Job<BundleJobData, BundleJobResult>;
  token: string | undefined;
  log: WorkerLogger;
  /** A line in the job's BullMQ log (best effort). */
  note: (text: string) => Promise<void>;
  /** The highest percent watchers have seen for the job. */
  percentReached: () => number;
}

/** Another job is writing to a target: this one goes back to the queue, delayed, and looks again then. */
export async function waitForTarget(ctx: JobRequeueContext, busy: TargetBusyError, lockDurationMs: number): Promise<never> {
  if (ctx.token === undefined) throw toJobFailure(busy);
  const delayMs = Math.min(Math.max(1_000, lockDurationMs / 2), 15_000);
  ctx.log.info({ target: busy.details.target, holder: busy.details.holder, delayMs }, 'waiting: another job is writing to the target');
  await ctx.note(`waiting: ${busy.message}`);
  try {
    await ctx.job.updateProgress(queued(ctx));
    await ctx.job.moveToDelayed(Date.now() + delayMs, ctx.token);
  } catch (moveErr) {
    ctx.log.error({ err: moveErr }, 'could not delay the job');
    throw toJobFailure(busy);
  }
  throw new DelayedError(busy.message);
}

/** Gives the job back to the queue (not a failed attempt) and tells BullMQ it is no longer ours. */
export async function handBack(ctx: JobRequeueContext, err: unknown, seconds: () => number): Promise<never> {
  const cause = asBundlefarmError(err);
  if (ctx.token === undefined) throw toJobFailure(cause);
  try {
    await ctx.job.updateProgress(queued(ctx));
    await ctx.job.moveToWait(ctx.token);
  } catch (moveErr) {
    ctx.log.error({ err: moveErr }, 'could not hand the job back to the queue');
    throw toJobFailure(asBundlefarmError(moveErr));
  }
  ctx.log.info({ seconds: seconds(), stoppedBy: cause.code }, 'job handed back to the queue (worker shutting down)');
  throw new WaitingError('handed back to the queue: the worker is shutting down');
}

function queued(ctx: JobRequeueContext): BundleJobProgress {
  return { stage: 'queued', percent: ctx.percentReached(), bytesIn: 0, totalIn: 0, bytesOut: 0, partsDone: 0, regions: {} };
}
