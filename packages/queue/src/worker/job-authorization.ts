/*
 * A job in Redis is not trusted because it is there: anyone who can write to Redis (or use Bull Board's
 * add and edit) could have put it there. Before a worker touches the image or S3, the job must carry a
 * valid MAC (when the worker has the key: then it came from the API unaltered), name a principal the
 * worker knows (when it has the principals file), and its spec must be inside that principal's scope —
 * the very check the API made, made again with the worker's own copy of the scopes. Any failure is
 * permanent (BF_JOB_UNAUTHORIZED, BF_OUT_OF_SCOPE).
 *
 * With the key, the MAC'd issue time must also be recent (BUNDLEFARM_JOB_MAX_AGE, job-max-age.ts): a
 * finished job's data, MAC and all, re-added to Redis is refused once it is older than that. A job
 * without an issue time is refused too (the API has set one since the MAC covers it); without the key
 * nothing is checked, so it still runs.
 */
import type { Job } from 'bullmq';
import type { JobSpec } from '../job-spec.js';
import type { BundleJobData } from '../job-types.js';
import { jobIssueProblem, jobMacFields, jobMacValid } from '../scopes/job-mac.js';
import { openedImageScope, resolvedImageScopeProblem, specScopeProblems } from '../scopes/scope-check.js';
import { JobUnauthorizedError, OutOfScopeError } from '../scopes/scope-errors.js';
import { DEFAULT_JOB_MAX_AGE_MS } from './job-max-age.js';
import type { OpenedImageCheck } from './rooted-file-image-source.js';
import type { WorkerConfig } from './worker-config.js';

export type AuthorizationConfig = Pick<WorkerConfig, 'principals' | 'jobMacKey' | 'imageRoot'> & Partial<Pick<WorkerConfig, 'jobMaxAgeMs'>>;

/** Returns the principal's name (undefined when the worker checks no scopes); throws when the job may not run. */
export async function checkJobScope(
  job: Pick<Job<BundleJobData>, 'id' | 'data'>,
  spec: JobSpec,
  config: AuthorizationConfig,
  now: number = Date.now(),
): Promise<string | undefined> {
  const id = job.id ?? '';
  const data = (job.data ?? {}) as Partial<BundleJobData>;
  const principalName = typeof data.principal === 'string' ? data.principal : undefined;
  if (config.jobMacKey !== undefined) {
    if (data.mac === undefined) throw new JobUnauthorizedError(id, 'it carries no MAC');
    if (!jobMacValid(config.jobMacKey, jobMacFields(id, data), data.mac)) {
      throw new JobUnauthorizedError(id, 'its MAC does not match its id, spec, principal, source, delivery, origin and issue time (altered in Redis?)');
    }
    if (data.issuedAt === undefined) {
      throw new JobUnauthorizedError(id, 'it carries no issue time: with a job MAC key, a job must have been issued by an API that binds one into its MAC (enqueue it again)');
    }
    const stale = jobIssueProblem(data.issuedAt, now, config.jobMaxAgeMs ?? DEFAULT_JOB_MAX_AGE_MS);
    if (stale !== undefined) throw new JobUnauthorizedError(id, stale);
  }
  if (config.principals === undefined) return undefined;
  if (principalName === undefined) throw new JobUnauthorizedError(id, 'it names no principal');
  const principal = config.principals.get(principalName);
  if (!principal) throw new JobUnauthorizedError(id, `principal ${JSON.stringify(principalName)} is not configured on this worker`);
  const problems = specScopeProblems(principal, spec);
  if (problems.length === 0) {
    const resolved = await resolvedImageScopeProblem(principal, config.imageRoot, spec.image);
    if (resolved !== undefined) problems.push({ path: 'image', message: resolved });
  }
  if (problems.length > 0) throw new OutOfScopeError(principal.name, problems);
  return principal.name;
}

/**
 * The check of the local image file the job's source opens (undefined: no scopes, or an s3:// image):
 * the scope checked above by name, checked again on the descriptor actually read (rooted-file-image-source.ts).
 * Call it for a job `checkJobScope` accepted, with the principal name it returned.
 */
export function openedImageCheck(config: AuthorizationConfig, principalName: string | undefined, image: string): OpenedImageCheck | undefined {
  const principal = principalName === undefined ? undefined : config.principals?.get(principalName);
  if (principal === undefined || image.startsWith('s3://')) return undefined;
  return openedImageScope(principal, image);
}

/** What the worker says at start-up when it takes jobs on trust. */
export function trustWarnings(config: AuthorizationConfig): string[] {
  const out: string[] = [];
  if (config.principals === undefined) out.push('no principals file (BUNDLEFARM_PRINCIPALS_FILE): jobs are run whatever identity, target or image they name');
  if (config.jobMacKey === undefined) out.push('no job MAC key (BUNDLEFARM_JOB_MAC_KEY): jobs written straight to Redis (or through Bull Board) are run like jobs from the API');
  return out;
}
