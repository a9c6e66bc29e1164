import { ForbiddenError } from '../errors/http-errors.js';
import { JobNotFoundError, OutOfScopeError, specScopeProblems, type BundleProducer, type BundleStatus, type JobSpec, type Principal } from '@bundlefarm/queue';

/*
 * What a principal may do with jobs: enqueue only specs inside its scope, and see (or cancel, retry)
 * only its own jobs unless it may see (or manage) others'. A job it may not see is answered like one
 * that does not exist, so job ids of other principals cannot be probed.
 */

/** Job-id prefixes made from webhook deliveries; API clients may not claim them (Idempotency-Key). */
export const RESERVED_JOB_ID_PREFIXES = ['github-', 'gitlab-'] as const;

export function reservedJobIdProblem(id: string): string | undefined {
  const prefix = RESERVED_JOB_ID_PREFIXES.find((p) => id.toLowerCase().startsWith(p));
  return prefix === undefined ? undefined : `must not start with "${prefix}" (job ids of webhook deliveries)`;
}

/** The validated spec, when `principal` may enqueue it; InvalidJobSpecError or OutOfScopeError (403, every field named) otherwise. */
export function checkEnqueueScope(producer: BundleProducer, principal: Principal, body: unknown): JobSpec {
  const spec = producer.validate(body);
  const problems = specScopeProblems(principal, spec);
  if (problems.length > 0) throw new OutOfScopeError(principal.name, problems);
  return spec;
}

/**
 * The job's status when `principal` may see it (or manage it: cancel, retry). JobNotFoundError when it
 * may not see it; ForbiddenError when it may see but not manage it.
 */
export async function visibleJob(producer: BundleProducer, principal: Principal, id: string, access: 'see' | 'manage'): Promise<BundleStatus> {
  const status = await producer.status(id);
  if (!principal.maySee(status.principal)) throw new JobNotFoundError(id);
  if (access === 'manage' && !principal.mayManage(status.principal)) {
    throw new ForbiddenError(`principal ${JSON.stringify(principal.name)} may see but not cancel or retry another principal's job`);
  }
  return status;
}
