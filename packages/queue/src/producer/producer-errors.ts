import { BundlefarmError, type BundlefarmErrorOptions } from '@bundlefarm/errors';
import type { SpecProblem } from '../job-spec.js';

/** Errors the producer raises. Codes are stable; the HTTP layer maps them to status codes. */

/** A job spec that does not validate: every problem, with where it is. */
export class InvalidJobSpecError extends BundlefarmError {
  static readonly code = 'BF_BAD_SPEC';
  readonly problems: readonly SpecProblem[];
  constructor(problems: readonly SpecProblem[], options: BundlefarmErrorOptions = {}) {
    const first = problems[0];
    const summary = first ? `${first.path}: ${first.message}` : 'it is invalid';
    super(
      InvalidJobSpecError.code,
      problems.length > 1 ? `the job spec has ${problems.length} problems (first: ${summary})` : `the job spec is invalid: ${summary}`,
      false,
      { ...options, details: { ...options.details, problems: problems.length } },
    );
    this.problems = Object.freeze([...problems]);
  }
}

export class JobNotFoundError extends BundlefarmError {
  static readonly code = 'BF_JOB_NOT_FOUND';
  constructor(id: string, options: BundlefarmErrorOptions = {}) {
    super(JobNotFoundError.code, `bundle job ${JSON.stringify(id)} does not exist (never enqueued, cancelled while waiting, or trimmed)`, false, {
      ...options,
      details: { ...options.details, id },
    });
  }
}

/** The job is in a state the operation does not apply to (retry of a running job, cancel of a finished one). */
export class JobStateConflictError extends BundlefarmError {
  static readonly code = 'BF_JOB_STATE_CONFLICT';
  constructor(id: string, state: string, operation: string, options: BundlefarmErrorOptions = {}) {
    const hint = operation === 'retry' ? ' (only failed or cancelled jobs can be retried)' : operation === 'cancel' ? ' (only waiting or running jobs can be cancelled)' : '';
    super(JobStateConflictError.code, `cannot ${operation} bundle job ${JSON.stringify(id)}: it is ${state}${hint}`, false, {
      ...options,
      details: { ...options.details, id, state, operation },
    });
  }
}

/**
 * A job whose stored data is not a job this service made (added by hand in Redis, or by something
 * else): it cannot be reported or retried. Permanent; the API answers 422.
 */
export class InvalidJobDataError extends BundlefarmError {
  static readonly code = 'BF_JOB_DATA_INVALID';
  /** The principal recorded in the job, if any (who may see this answer). */
  readonly owner: string | undefined;
  constructor(id: string, problem: string, owner: string | undefined, options: BundlefarmErrorOptions = {}) {
    super(InvalidJobDataError.code, `bundle job ${JSON.stringify(id)} cannot be read: ${problem} (not a job this bundlefarm made)`, false, {
      ...options,
      details: { ...options.details, id },
    });
    this.owner = owner;
  }
}

/** A cursor of GET /v1/bundles that is not one the API gave out. */
export class InvalidCursorError extends BundlefarmError {
  static readonly code = 'BF_BAD_CURSOR';
  constructor(options: BundlefarmErrorOptions = {}) {
    super(InvalidCursorError.code, 'the cursor is not one this API gave out: use the nextCursor of the previous page, or none for the first', false, options);
  }
}

/** An idempotency key reused for a different job spec. */
export class IdempotencyConflictError extends BundlefarmError {
  static readonly code = 'BF_IDEMPOTENCY_CONFLICT';
  constructor(id: string, options: BundlefarmErrorOptions = {}) {
    super(
      IdempotencyConflictError.code,
      `the Idempotency-Key of job ${JSON.stringify(id)} was already used with a different job spec; use a new key for a new job`,
      false,
      { ...options, details: { ...options.details, id } },
    );
  }
}

/** Redis did not answer (down, restarting, unreachable): try again later. */
export class QueueUnavailableError extends BundlefarmError {
  static readonly code = 'BF_QUEUE_UNAVAILABLE';
  constructor(operation: string, cause?: unknown, options: BundlefarmErrorOptions = {}) {
    super(QueueUnavailableError.code, `the job queue is unavailable (${operation}): Redis does not answer; try again later`, true, {
      ...options,
      cause,
      details: { ...options.details, operation },
    });
  }
}
