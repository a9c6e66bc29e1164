/*
 * What a principal may do with jobs: enqueue only specs inside its scope, and see (or cancel, retry)
 * only its own jobs unless it may see (or manage) others'. A job it may not see is answered like one
 * that does not exist, so job ids of other principals cannot be probed.
 */
import { ForbiddenError } from '../errors/http-errors.js';
import {
  InvalidJobDataError,
  isJobId,
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

/**
 * The job id an Idempotency-Key makes for `principal`: `p<length of its name>-<name>-<key>`, e.g.
 * `p6-team-a-os-2024.1`. Job ids are one namespace (BullMQ's), so when the key itself was the id, a key
 * another principal had used answered 409 where an unused one answered 202: any token holder could
 * probe other principals' keys (release names, commit ids …) and squat on the ones they would use next
 * (security re-review R10). Answering the same for both cannot work — the id is taken either way — so
 * the key is scoped instead: two principals using the same key get two jobs, and no answer to one
 * depends on what the other did. The name's length makes the mapping one-to-one whatever characters
 * names and keys share (`a` + `b-c` and `a-b` + `c` differ); `p` keeps it from being a plain number
 * or a webhook's `github-`/`gitlab-` id. Undefined when the result would be longer than a job id may be.
 */
export function principalJobId(principal: Pick<Principal, 'name'>, key: string): string | undefined {
  const id = `p${principal.name.length}-${principal.name}-${key}`;
  return isJobId(id) ? id : undefined;
}

/** The longest Idempotency-Key `principal` may send (job ids are at most 200 characters). */
export function maxIdempotencyKeyLength(principal: Pick<Principal, 'name'>): number {
  return MAX_JOB_ID_LENGTH - `p${principal.name.length}-${principal.name}-`.length;
}

const MAX_JOB_ID_LENGTH = 200;

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
