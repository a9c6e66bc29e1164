/**
 * What the worker checks a job against before running it (job-authorization.ts), from the API's own
 * settings: its principals file (BUNDLEFARM_PRINCIPALS_FILE: every job must name one of them and stay
 * in its scope) and its job MAC key (BUNDLEFARM_JOB_MAC_KEY, 32+ characters: every job must carry a
 * valid MAC). Either unset: that check is off, and the worker says so when it starts. With the MAC key,
 * a job's MAC'd issue time must also be recent: BUNDLEFARM_JOB_MAX_AGE (../job-max-age.ts).
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { MIN_JOB_MAC_KEY_LENGTH } from '../../scopes/job-mac.js';
import { JOB_MAX_AGE_ENV, jobMaxAgeSchema } from '../job-max-age.js';
import { Principals } from '../../scopes/principals.js';
import { describeError, type Outcome } from './config-primitives.js';

export const JOB_TRUST_ENV = {
  principalsFile: 'BUNDLEFARM_PRINCIPALS_FILE',
  jobMacKey: 'BUNDLEFARM_JOB_MAC_KEY',
  jobMaxAge: JOB_MAX_AGE_ENV,
} as const;

export interface JobTrustConfig {
  /**
   * The principals jobs may name, from BUNDLEFARM_PRINCIPALS_FILE (the API's file; default none).
   * Undefined: jobs are not checked against scopes.
   */
  principals: Principals | undefined;
  /** Key of the job MAC, from BUNDLEFARM_JOB_MAC_KEY (default none); undefined: MACs are not checked. Never log. */
  jobMacKey: Buffer | undefined;
  /**
   * How long after its issue time a job may still run, in ms, from BUNDLEFARM_JOB_MAX_AGE (default
   * 7 days; `90s`, `30m`, `12h`, `7d` or seconds, at least a minute). Checked only with the MAC key.
   */
  jobMaxAgeMs: number;
}

/** The variables (zod shape, by variable name). */
export const jobTrustEnvShape = {
  [JOB_TRUST_ENV.principalsFile]: z.string().min(1).optional(),
  [JOB_TRUST_ENV.jobMacKey]: z.string().min(MIN_JOB_MAC_KEY_LENGTH, `must have at least ${MIN_JOB_MAC_KEY_LENGTH} characters`).optional(),
  [JOB_TRUST_ENV.jobMaxAge]: jobMaxAgeSchema.optional(),
};

export async function loadPrincipals(path: string): Promise<Outcome<Principals>> {
  try {
    return { value: await Principals.load(resolve(path)) };
  } catch (err) {
    return { problem: { path: JOB_TRUST_ENV.principalsFile, message: describeError(err) } };
  }
}
