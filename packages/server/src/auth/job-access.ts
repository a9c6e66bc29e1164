/*
 * What a principal may do with jobs: enqueue only specs inside its scope, and see (or cancel, retry)
 * only its own jobs unless it may see (or manage) others'. A job it may not see is answered like one
 * that does not exist, so job ids of other principals cannot be probed.
 */
import { ForbiddenError } from '../errors/http-errors.js';
import {
  InvalidJobDataError,
  JobNotFoundError,
  OutOfScopeError,
  specScopeProblems,
  type BundleProducer,
  type BundleStatus,
  type JobOwner,
  type JobSpec,
  type Principal,
} from '@bundlefarm/queue';

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
  await checkJobAccess(producer, principal, id, access);
  try {
    return await producer.status(id);
  } catch (err) {
    // changed hands meanwhile (not possible today: a job's principal is set once), but never tell who
    if (err instanceof InvalidJobDataError && !principal.maySee(err.owner)) throw new JobNotFoundError(id);
    throw err;
  }
}

/**
 * Whether `principal` may see (or manage) job `id`, from the principal recorded in it — whatever else
 * its data holds, so a job whose data is not a valid job is still hidden from those who may not see it
 * (and answered 422 to those who may).
 */
export async function checkJobAccess(producer: BundleProducer, principal: Principal, id: string, access: 'see' | 'manage'): Promise<JobOwner> {
  const owner = await producer.owner(id);
  if (!principal.maySee(owner.principal)) throw new JobNotFoundError(id);
  if (access === 'manage' && !principal.mayManage(owner.principal)) {
    throw new ForbiddenError(`principal ${JSON.stringify(principal.name)} may see but not cancel or retry another principal's job`);
  }
  return owner;
}
