/*
 * Errors of authorization: a spec outside its principal's scope, a job no configured principal (or no
 * valid MAC) vouches for, a principals file that does not validate. All permanent: trying again cannot
 * make a caller allowed.
 */
import { BundlefarmError, type BundlefarmErrorOptions } from '@bundlefarm/errors';
import type { SpecProblem } from '../job-spec.js';

/** A job spec asks for what its principal may not: every offending field, named (`identity`, `regions.1.bucket`, `image`). */
export class OutOfScopeError extends BundlefarmError {
  static readonly code = 'BF_OUT_OF_SCOPE';
  readonly problems: readonly SpecProblem[];
  constructor(principal: string, problems: readonly SpecProblem[], options: BundlefarmErrorOptions = {}) {
    const first = problems[0];
    super(
      OutOfScopeError.code,
      `the job spec is outside the scope of principal ${JSON.stringify(principal)}: ${first ? `${first.path}: ${first.message}` : 'not allowed'}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}; nothing was enqueued or run`,
      false,
      { ...options, details: { ...options.details, principal, problems: problems.length } },
    );
    this.problems = Object.freeze([...problems]);
  }
}

/** A job in the queue that no configured principal vouches for (added through Redis or the board, or tampered with there). */
export class JobUnauthorizedError extends BundlefarmError {
  static readonly code = 'BF_JOB_UNAUTHORIZED';
  constructor(jobId: string, reason: string, options: BundlefarmErrorOptions = {}) {
    super(JobUnauthorizedError.code, `job ${JSON.stringify(jobId)} is refused: ${reason}; it was not run (enqueue it through the API)`, false, {
      ...options,
      details: { ...options.details, jobId },
    });
  }
}

/** The principals file cannot be used: every problem, by JSON path. */
export class PrincipalsFileError extends BundlefarmError {
  static readonly code = 'BF_BAD_PRINCIPALS';
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[], options: BundlefarmErrorOptions = {}) {
    super(PrincipalsFileError.code, `principals ${source} are invalid: ${problems.join('; ')}`, false, {
      ...options,
      details: { ...options.details, source, problems: problems.length },
    });
    this.problems = Object.freeze([...problems]);
  }
}
