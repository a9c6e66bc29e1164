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
    super(JobStateConflictError.code, `cannot ${operation} bundle job ${JSON.stringify(id)}: it is ${state}`, false, {
      ...options,
      details: { ...options.details, id, state, operation },
    });
  }
}

/** An idempotency key reused for a different job spec. */
export class IdempotencyConflictError extends BundlefarmError {
  static readonly code = 'BF_IDEMPOTENCY_CONFLICT';
  constructor(id: string, options: BundlefarmErrorOptions = {}) {
    super(
      IdempotencyConflictError.code,
      `idempotency key ${JSON.stringify(id)} was already used for a different job spec; use a new key for a new job`,
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
