/*
 * A job in Redis is not trusted because it is there: anyone who can write to Redis (or use Bull Board's
 * add and edit) could have put it there. Before a worker touches the image or S3, the job must carry a
 * valid MAC (when the worker has the key: then it came from the API unaltered), name a principal the
 * worker knows (when it has the principals file), and its spec must be inside that principal's scope —
 * the very check the API made, made again with the worker's own copy of the scopes. Any failure is
 * permanent (BF_JOB_UNAUTHORIZED, BF_OUT_OF_SCOPE).
 */
import type { Job } from 'bullmq';
import type { JobSpec } from '../job-spec.js';
import type { BundleJobData } from '../job-types.js';
import { jobMacValid } from '../scopes/job-mac.js';
import { resolvedImageScopeProblem, specScopeProblems } from '../scopes/scope-check.js';
import { JobUnauthorizedError, OutOfScopeError } from '../scopes/scope-errors.js';
import type { WorkerConfig } from './worker-config.js';

export type AuthorizationConfig = Pick<WorkerConfig, 'principals' | 'jobMacKey' | 'imageRoot'>;

/** Returns the principal's name (undefined when the worker checks no scopes); throws when the job may not run. */
export async function checkJobScope(job: Pick<Job<BundleJobData>, 'id' | 'data'>, spec: JobSpec, config: AuthorizationConfig): Promise<string | undefined> {
  const id = job.id ?? '';
  const data = (job.data ?? {}) as Partial<BundleJobData>;
  const principalName = typeof data.principal === 'string' ? data.principal : undefined;
  if (config.jobMacKey !== undefined) {
    const fields = { id, spec: data.spec, principal: principalName, source: String(data.source ?? ''), delivery: typeof data.delivery === 'string' ? data.delivery : undefined, origin: data.origin };
    if (data.mac === undefined) throw new JobUnauthorizedError(id, 'it carries no MAC');
    if (!jobMacValid(config.jobMacKey, fields, data.mac)) throw new JobUnauthorizedError(id, 'its MAC does not match its id, spec, principal, source, delivery and origin (altered in Redis?)');
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

/** What the worker says at start-up when it takes jobs on trust. */
export function trustWarnings(config: AuthorizationConfig): string[] {
  const out: string[] = [];
  if (config.principals === undefined) out.push('no principals file (BUNDLEFARM_PRINCIPALS_FILE): jobs are run whatever identity, target or image they name');
  if (config.jobMacKey === undefined) out.push('no job MAC key (BUNDLEFARM_JOB_MAC_KEY): jobs written straight to Redis (or through Bull Board) are run like jobs from the API');
  return out;
}
