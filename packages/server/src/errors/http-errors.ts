import { BundlefarmError, type BundlefarmErrorOptions } from '@bundlefarm/errors';
import type { SpecProblem } from '@bundlefarm/queue';

/** Errors of the HTTP layer itself (requests, authentication). Stable codes; statuses in status-registry.ts. */

export class UnauthorizedError extends BundlefarmError {
  static readonly code = 'BF_UNAUTHORIZED';
  /** Value of the WWW-Authenticate header sent with the 401. */
  readonly challenge: string;
  constructor(reason: string, challenge = 'Bearer realm="bundlefarm"', options: BundlefarmErrorOptions = {}) {
    super(UnauthorizedError.code, `not authenticated: ${reason}`, false, options);
    this.challenge = challenge;
  }
}

export class BadRequestError extends BundlefarmError {
  static readonly code = 'BF_BAD_REQUEST';
  constructor(reason: string, options: BundlefarmErrorOptions = {}) {
    super(BadRequestError.code, reason, false, options);
  }
}

export class RouteNotFoundError extends BundlefarmError {
  static readonly code = 'BF_NOT_FOUND';
  constructor(method: string, path: string, options: BundlefarmErrorOptions = {}) {
    super(RouteNotFoundError.code, `there is no ${method} ${path}`, false, { ...options, details: { ...options.details, method, path } });
  }
}

export class BodyTooLargeError extends BundlefarmError {
  static readonly code = 'BF_BODY_TOO_LARGE';
  constructor(limit: number, options: BundlefarmErrorOptions = {}) {
    super(BodyTooLargeError.code, `the request body is larger than ${limit} bytes`, false, { ...options, details: { ...options.details, limit } });
  }
}

export class UnsupportedMediaTypeError extends BundlefarmError {
  static readonly code = 'BF_UNSUPPORTED_MEDIA_TYPE';
  constructor(contentType: string | undefined, expected: string, options: BundlefarmErrorOptions = {}) {
    super(
      UnsupportedMediaTypeError.code,
      `content type ${JSON.stringify(contentType ?? '(none)')} is not supported; send ${expected}`,
      false,
      { ...options, details: { ...options.details, contentType: contentType ?? null } },
    );
  }
}

export class MalformedJsonError extends BundlefarmError {
  static readonly code = 'BF_BAD_JSON';
  constructor(reason: string, options: BundlefarmErrorOptions = {}) {
    super(MalformedJsonError.code, `the request body is not valid JSON: ${reason}`, false, options);
  }
}

/** A webhook rule matched, but the spec it rendered does not validate (a rule or payload problem). */
export class RuleSpecInvalidError extends BundlefarmError {
  static readonly code = 'BF_RULE_SPEC_INVALID';
  readonly problems: readonly SpecProblem[];
  constructor(rule: string, problems: readonly SpecProblem[], options: BundlefarmErrorOptions = {}) {
    super(
      RuleSpecInvalidError.code,
      `webhook rule ${JSON.stringify(rule)} rendered a job spec with ${problems.length} problem(s); nothing was enqueued`,
      false,
      { ...options, details: { ...options.details, rule, problems: problems.length } },
    );
    this.problems = Object.freeze([...problems]);
  }
}

export class InternalError extends BundlefarmError {
  static readonly code = 'BF_INTERNAL';
  constructor(options: BundlefarmErrorOptions = {}) {
    super(InternalError.code, 'internal error; the server log has the details', false, options);
  }
}

/** Authenticated, but this principal may not do this (the board's write actions for a viewer). */
export class ForbiddenError extends BundlefarmError {
  static readonly code = 'BF_FORBIDDEN';
  constructor(reason: string, options: BundlefarmErrorOptions = {}) {
    super(ForbiddenError.code, `forbidden: ${reason}`, false, options);
  }
}

/** Too many failed logins from this client: wait `retryAfterSeconds`. */
export class TooManyAttemptsError extends BundlefarmError {
  static readonly code = 'BF_TOO_MANY_ATTEMPTS';
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, options: BundlefarmErrorOptions = {}) {
    super(TooManyAttemptsError.code, `too many failed logins from this client; try again in ${retryAfterSeconds} s`, true, {
      ...options,
      details: { ...options.details, retryAfterSeconds },
    });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The API holds as many unauthenticated webhook bytes as it may (BUNDLEFARM_WEBHOOK_BUFFER_BUDGET): try again later. */
export class BusyError extends BundlefarmError {
  static readonly code = 'BF_BUSY';
  constructor(reason: string, options: BundlefarmErrorOptions = {}) {
    super(BusyError.code, `the server is busy: ${reason}; try again later`, true, options);
  }
}

/** The body did not arrive within the time allowed. */
export class BodyTimeoutError extends BundlefarmError {
  static readonly code = 'BF_BODY_TIMEOUT';
  constructor(ms: number, options: BundlefarmErrorOptions = {}) {
    super(BodyTimeoutError.code, `the request body did not arrive within ${ms} ms`, false, { ...options, details: { ...options.details, ms } });
  }
}

/**
 * A signed webhook body (or delivery id) seen before under another event: the event header is not
 * signed, so a body keeps the meaning it was first delivered with.
 */
export class WebhookReplayedError extends BundlefarmError {
  static readonly code = 'BF_WEBHOOK_REPLAYED';
  constructor(reason: string, options: BundlefarmErrorOptions = {}) {
    super(WebhookReplayedError.code, `${reason}; nothing was enqueued`, false, options);
  }
}
