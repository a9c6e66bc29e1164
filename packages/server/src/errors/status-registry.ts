/**
 * HTTP status of each error code, like Fastify's error registry: codes are stable, so are their statuses.
 * Codes not listed: 503 when the error is transient (try again later), 500 otherwise.
 */
export const HTTP_STATUS_BY_CODE: Readonly<Record<string, number>> = Object.freeze({
  // request
  BF_BAD_REQUEST: 400,
  BF_BAD_JSON: 400,
  BF_BAD_SPEC: 400,
  BF_UNAUTHORIZED: 401,
  BF_OUT_OF_SCOPE: 403,
  BF_FORBIDDEN: 403,
  BF_BODY_TIMEOUT: 408,
  BF_WEBHOOK_REPLAYED: 409,
  BF_TOO_MANY_ATTEMPTS: 429,
  BF_BUSY: 503,
  BF_NOT_FOUND: 404,
  BF_BODY_TOO_LARGE: 413,
  BF_UNSUPPORTED_MEDIA_TYPE: 415,
  BF_RULE_SPEC_INVALID: 422,
  // what the spec asks for, found wrong at enqueue time
  BF_IMAGE_TOO_LARGE: 400,
  BF_IMAGE_EMPTY: 400,
  BF_UNSAFE_PATH: 400,
  BF_FILE_UNREADABLE: 400,
  BF_BAD_OPTION: 400,
  BF_BAD_NAME: 400,
  BF_UNKNOWN_REGION: 400,
  BF_S3_OBJECT_NOT_FOUND: 400,
  BF_S3_BUCKET_NOT_FOUND: 400,
  // jobs
  BF_JOB_NOT_FOUND: 404,
  BF_JOB_STATE_CONFLICT: 409,
  BF_JOB_DATA_INVALID: 422,
  BF_BAD_CURSOR: 400,
  BF_IDEMPOTENCY_CONFLICT: 409,
  BF_BUNDLE_EXISTS: 409,
  // the service around
  BF_QUEUE_UNAVAILABLE: 503,
  BF_INTERNAL: 500,
});

export function httpStatusOf(code: string, transient: boolean): number {
  return HTTP_STATUS_BY_CODE[code] ?? (transient ? 503 : 500);
}
