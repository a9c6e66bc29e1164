/**
 * How the worker runs jobs: how many at once, on how big a CPU pool, how often it reports progress,
 * how long a job's lock lasts and how long running jobs get on shutdown. Plain numbers of the worker
 * configuration file, each documented with its default on its field below.
 */
import { availableParallelism } from 'node:os';
import type { z } from 'zod';
import { whole } from './config-primitives.js';

export interface JobRunConfig {
  /** `concurrency` (default 1): jobs this process runs at once, 1–64. They share one CPU pool. */
  concurrency: number;
  /** `threads` (default: the number of cores, os.availableParallelism()): size of the process's CPU pool, 1–256. */
  threads: number;
  /** `progressIntervalMs` (default 1000): least time between two progress updates of a job, 100–60 000. */
  progressIntervalMs: number;
  /**
   * `shutdownGraceMs` (default 30 000): on shutdown, how long running jobs may take to finish before
   * they are stopped and handed back to the queue for another worker, 0–3 600 000.
   */
  shutdownGraceMs: number;
  /**
   * `lockDurationMs` (default 60 000): BullMQ job lock; renewed every eighth of it (at most every
   * quarter) while a job runs (the CPU work is on the pool, so the event loop is free to),
   * 1 000–3 600 000. A worker that dies leaves its job to be picked up again after this long, up to
   * twice as long (the stalled-job check runs every `min(lockDurationMs, 30 s)`). A Redis outage of up
   * to half of it never costs a running job its lock (reconnects are bounded by it: docs/service.md,
   * "Redis outages and job locks"); a longer one may (the job is then stopped here and retried).
   * Values of a few seconds are for tests.
   */
  lockDurationMs: number;
}

export const JOB_RUN_DEFAULTS = {
  concurrency: 1,
  progressIntervalMs: 1000,
  shutdownGraceMs: 30_000,
  lockDurationMs: 60_000,
} as const;

/** The fields of the file (zod shape, in the file schema's order). */
export const jobRunShape = {
  concurrency: whole(1, 64).optional(),
  threads: whole(1, 256).optional(),
  progressIntervalMs: whole(100, 60_000).optional(),
  shutdownGraceMs: whole(0, 3_600_000).optional(),
  lockDurationMs: whole(1_000, 3_600_000).optional(),
};

type JobRunInput = z.output<z.ZodObject<typeof jobRunShape>>;

export function resolveJobRunConfig(file: JobRunInput): JobRunConfig {
  return {
    concurrency: file.concurrency ?? JOB_RUN_DEFAULTS.concurrency,
    threads: file.threads ?? availableParallelism(),
    progressIntervalMs: file.progressIntervalMs ?? JOB_RUN_DEFAULTS.progressIntervalMs,
    shutdownGraceMs: file.shutdownGraceMs ?? JOB_RUN_DEFAULTS.shutdownGraceMs,
    lockDurationMs: file.lockDurationMs ?? JOB_RUN_DEFAULTS.lockDurationMs,
  };
}
