/*
 * BUNDLEFARM_JOB_MAX_AGE: how long after its issue time (in the job MAC, scopes/job-mac.ts) a worker
 * still runs a job. A job's data with its MAC can be copied back into Redis by whoever can write there
 * once the job is done; past this age the copy is refused. Default 7 days (BullMQ's retries, a delayed
 * job and a queue that waited over a weekend all fit); an API retry issues the job anew.
 *
 * Value: a whole number of seconds, or with a unit: `90s`, `30m`, `12h`, `7d`. At least one minute.
 */
import { z } from 'zod';

export const JOB_MAX_AGE_ENV = 'BUNDLEFARM_JOB_MAX_AGE';
export const DEFAULT_JOB_MAX_AGE_MS = 7 * 24 * 3600_000;
const MIN_JOB_MAX_AGE_MS = 60_000;
const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 24 * 3600_000 };

/** The variable's value (blanks around it dropped) → milliseconds. */
export const jobMaxAgeSchema = z
  .string()
  .trim()
  .regex(/^\d{1,9}[smhd]?$/, 'must be a whole number of seconds, or with a unit: 90s, 30m, 12h, 7d')
  .transform((s) => Number(/^\d+/.exec(s)![0]) * (UNIT_MS[s.at(-1)!] ?? 1000))
  .refine((ms) => ms >= MIN_JOB_MAX_AGE_MS, 'must be at least one minute');
