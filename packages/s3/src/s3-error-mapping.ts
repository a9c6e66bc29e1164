import { BundlefarmError, CancelledError, isBundlefarmError } from '@bundlefarm/errors';
import {
  S3AccessDeniedError,
  S3AclNotSupportedError,
  S3BucketNotFoundError,
  S3ObjectNotFoundError,
  S3RegionMismatchError,
  S3RequestFailedError,
  S3UnavailableError,
} from './s3-errors.js';

/**
 * Reads what the SDK (and Node's HTTP stack below it) throws: by HTTP status first, then by S3's error
 * code (`name` of SDK service exceptions), then by the errno of network errors. Decides whether trying
 * again may help, and turns errors into bundlefarm's typed ones.
 */
export interface S3ErrorFacts {
  /** HTTP status, when a response arrived. */
  status: number | undefined;
  /** S3's error code (`NoSuchBucket`, `SlowDown` …) or the SDK's error name (`TimeoutError` …). */
  name: string;
  /** Node errno of network errors (`ECONNRESET` …). */
  errno: string | undefined;
  /** `x-amz-bucket-region` of a redirect or a 400/403 answered by the bucket's real region. */
  bucketRegion: string | undefined;
}

/** What an operation was doing, for messages. */
export interface S3ErrorContext {
  bucket: string;
  /** The SDK command or a phrase (`PutObject`, `PutObject with ACL aws-exec-read`). */
  operation: string;
  key?: string;
  /** The region the bucket is expected in. */
  region?: string;
  /** The ACL sent, to explain AccessControlListNotSupported. */
  acl?: string;
}

const RETRYABLE_CODES = new Set([
  'InternalError',
  'ServiceUnavailable',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  // S3 answers these when the body was damaged in transit (its signed SHA-256 is checked before
  // Content-MD5, so a flipped bit usually gets the first): it is re-sent from memory, intact
  'XAmzContentSHA256Mismatch',
  'BadDigest',
  'IncompleteBody',
]);

const RETRYABLE_ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

const ACCESS_CODES = new Set(['AccessDenied', 'AllAccessDisabled', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccountProblem', 'InvalidToken', 'ExpiredToken']);

export function s3ErrorFacts(err: unknown): S3ErrorFacts {
  const e = (typeof err === 'object' && err !== null ? err : {}) as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $response?: { statusCode?: unknown; headers?: Record<string, unknown> };
  };
  const rawStatus = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  const status = typeof rawStatus === 'number' && rawStatus > 0 ? rawStatus : undefined;
  const errno = typeof e.code === 'string' && /^E[A-Z_]+$/.test(e.code) ? e.code : undefined;
  const s3Code = typeof e.Code === 'string' ? e.Code : undefined;
  const name = s3Code ?? (typeof e.name === 'string' ? e.name : 'Error');
  const region = e.$response?.headers?.['x-amz-bucket-region'];
  return { status, name, errno, bucketRegion: typeof region === 'string' && region !== '' ? region : undefined };
}

/** The caller's AbortSignal fired (the SDK throws AbortError; we throw CancelledError). */
export function isAbortError(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'AbortError' || (err as { code?: unknown } | null)?.code === CancelledError.code;
}

/** True when the same request may succeed later: 5xx, 429, throttling, timeouts, network failures. */
export function isRetryableS3Error(err: unknown): boolean {
  if (isBundlefarmError(err)) return err.transient;
  if (isAbortError(err)) return false;
  const { status, name, errno } = s3ErrorFacts(err);
  if (status !== undefined && (status >= 500 || status === 429)) return status !== 501;
  if (RETRYABLE_CODES.has(name)) return true;
  if (errno !== undefined && RETRYABLE_ERRNOS.has(errno)) return true;
  // Node's "socket hang up" / "aborted" on a dropped connection
  const message = (err as { message?: unknown } | null)?.message;
  return status === undefined && typeof message === 'string' && /socket hang up|^aborted$|premature close/i.test(message);
}

/** Short, secret-free description: S3 code, errno and HTTP status. */
export function describeS3Error(err: unknown): string {
  const { status, name, errno } = s3ErrorFacts(err);
  const message = (err as { message?: unknown } | null)?.message;
  const what = errno ?? name;
  const text = typeof message === 'string' && message !== '' && message !== what && message !== 'UnknownError' ? `: ${message.slice(0, 200)}` : '';
  return `${what}${status !== undefined ? ` (HTTP ${status})` : ''}${text}`;
}

/**
 * What a fired AbortSignal means: a deadline (`AbortSignal.timeout`, reason TimeoutError) is a
 * transient S3UnavailableError — S3 was too slow — anything else a CancelledError.
 */
export function abortedError(ctx: S3ErrorContext, reason: unknown, cause?: unknown): BundlefarmError {
  if ((reason as { name?: unknown } | null)?.name === 'TimeoutError') {
    return new S3UnavailableError(ctx.bucket, ctx.operation, 'no answer before the deadline', { cause: cause ?? reason, ...regionOf(ctx) });
  }
  return new CancelledError(`${ctx.operation} on S3 bucket ${ctx.bucket}`, { cause: cause ?? reason });
}

/**
 * Turns anything an S3 call threw into a BundlefarmError (already typed errors pass through). Give the
 * call's `signal`: the SDK's AbortError does not say why it was aborted, the signal's reason does.
 */
export function toS3Error(err: unknown, ctx: S3ErrorContext, signal?: AbortSignal): BundlefarmError {
  if (err instanceof BundlefarmError) return err;
  if (signal?.aborted) return abortedError(ctx, signal.reason, err);
  if (isAbortError(err)) return abortedError(ctx, undefined, err);
  const { status, name, bucketRegion } = s3ErrorFacts(err);
  const options = { cause: safeCause(err), details: { s3Code: name, status: status ?? null, ...(ctx.key !== undefined ? { key: ctx.key } : {}) } };
  // errors about requests that reached the bucket name the region too (see S3ErrorOptions)
  const located = { ...options, ...regionOf(ctx) };
  if (name === 'NoSuchBucket') return new S3BucketNotFoundError(ctx.bucket, options);
  if (name === 'NoSuchKey') return new S3ObjectNotFoundError(ctx.bucket, ctx.key ?? '', options);
  if (status === 404 && name === 'NotFound') {
    // HEAD answers carry no body: a 404 means the object when one was asked for, else the bucket
    return ctx.key !== undefined ? new S3ObjectNotFoundError(ctx.bucket, ctx.key, options) : new S3BucketNotFoundError(ctx.bucket, options);
  }
  if (name === 'AccessControlListNotSupported') return new S3AclNotSupportedError(ctx.bucket, ctx.acl ?? 'requested', options);
  if (bucketRegion !== undefined && ctx.region !== undefined && bucketRegion !== ctx.region && (status === 301 || status === 400 || status === 403)) {
    return new S3RegionMismatchError(ctx.bucket, ctx.region, bucketRegion, options);
  }
  if (status === 403 || ACCESS_CODES.has(name)) return new S3AccessDeniedError(ctx.bucket, ctx.operation, name, located);
  if (status === 301 || name === 'PermanentRedirect') {
    return new S3RequestFailedError(ctx.bucket, ctx.operation, `${describeS3Error(err)}; the bucket is in another region than the client's`, false, located);
  }
  if (isRetryableS3Error(err)) return new S3UnavailableError(ctx.bucket, ctx.operation, describeS3Error(err), located);
  return new S3RequestFailedError(ctx.bucket, ctx.operation, describeS3Error(err), false, located);
}

function regionOf(ctx: S3ErrorContext): { region?: string } {
  return ctx.region !== undefined ? { region: ctx.region } : {};
}

/** Fields S3 error bodies may carry that identify credentials or signing input (SignatureDoesNotMatch …). */
const SENSITIVE_FIELDS = ['AWSAccessKeyId', 'StringToSign', 'StringToSignBytes', 'CanonicalRequest', 'CanonicalRequestBytes', 'SignatureProvided'];

/**
 * The error kept as `cause` (printed by --debug and logs): S3 and network errors copied without the
 * signing details S3 echoes back on SignatureDoesNotMatch (the access key id, the string to sign).
 */
function safeCause(err: unknown): unknown {
  if (!(err instanceof Error) || !SENSITIVE_FIELDS.some((f) => f in err)) return err;
  const copy = new Error(err.message);
  copy.name = err.name;
  if (err.stack !== undefined) copy.stack = err.stack;
  const { $metadata, $fault, Code } = err as { $metadata?: unknown; $fault?: unknown; Code?: unknown };
  return Object.assign(copy, { $metadata, $fault, Code });
}
