/**
 * Turns what the EC2 SDK (and Node's HTTP stack below it) throws into bundlefarm's typed errors: by
 * EC2's error code (the SDK's `name` of service exceptions) first, then HTTP status, then the errno of
 * network errors. Already typed errors pass through. Transient: 5xx, throttling, `Unavailable`,
 * timeouts, dropped connections; everything else is permanent.
 */
import {
  AmiNameInvalidError,
  AmiNameTakenError,
  AmiNotFoundError,
  BundlefarmError,
  Ec2AccessDeniedError,
  Ec2ManifestInvalidError,
  Ec2RequestFailedError,
  Ec2UnavailableError,
} from '@bundlefarm/errors';

/** What a request was about, for messages. */
export interface Ec2ErrorContext {
  operation: 'RegisterImage' | 'DescribeImages' | 'DeregisterImage';
  region?: string;
  name?: string;
  imageId?: string;
  /** `bucket/key` of the manifest. */
  location?: string;
}

export interface Ec2ErrorFacts {
  status: number | undefined;
  /** EC2's error code (`InvalidAMIName.Duplicate` …) or the SDK's error name (`TimeoutError` …). */
  code: string;
  errno: string | undefined;
  /** EC2's message, trimmed. */
  message: string;
}

const ACCESS_CODES = new Set([
  'AuthFailure',
  'UnauthorizedOperation',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'OptInRequired',
  'Blocked',
  'PendingVerification',
  'RequestExpired',
  'ExpiredToken',
  'CredentialsProviderError',
]);

const TRANSIENT_CODES = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'Unavailable', 'ServiceUnavailable', 'InternalError', 'InternalFailure', 'TimeoutError', 'RequestTimeout']);

const TRANSIENT_ERRNOS = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND']);

export function ec2ErrorFacts(err: unknown): Ec2ErrorFacts {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { name?: unknown; code?: unknown; Code?: unknown; message?: unknown; $metadata?: { httpStatusCode?: unknown } };
  const rawStatus = e.$metadata?.httpStatusCode;
  const status = typeof rawStatus === 'number' && rawStatus > 0 ? rawStatus : undefined;
  const errno = typeof e.code === 'string' && /^E[A-Z_]+$/.test(e.code) ? e.code : undefined;
  const code = typeof e.Code === 'string' ? e.Code : typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' ? e.message.replace(/\s+/g, ' ').slice(0, 300) : '';
  return { status, code, errno, message };
}

function describe(f: Ec2ErrorFacts): string {
  const what = f.errno ?? f.code;
  const text = f.message !== '' && f.message !== what && f.message !== 'UnknownError' ? `: ${f.message}` : '';
  return `${what}${f.status !== undefined ? ` (HTTP ${f.status})` : ''}${text}`;
}

/** True when the same request may succeed later. */
export function isTransientEc2Error(err: unknown): boolean {
  if (err instanceof BundlefarmError) return err.transient;
  const f = ec2ErrorFacts(err);
  if (TRANSIENT_CODES.has(f.code)) return true;
  if (f.status !== undefined && f.status >= 500) return f.status !== 501;
  if (f.status === 429) return true;
  if (f.errno !== undefined && TRANSIENT_ERRNOS.has(f.errno)) return true;
  return f.status === undefined && /socket hang up|^aborted$|premature close/i.test(f.message);
}

/** Any thrown value as a typed error of the operation. */
export function toEc2Error(err: unknown, ctx: Ec2ErrorContext): BundlefarmError {
  if (err instanceof BundlefarmError) return err;
  const f = ec2ErrorFacts(err);
  const options = { cause: err, details: { ec2Code: f.code, status: f.status ?? null }, ...(ctx.region !== undefined ? { region: ctx.region } : {}) };
  switch (f.code) {
    case 'InvalidAMIName.Duplicate': {
      const holder = /\b(ami-[0-9a-f]{8,17})\b/.exec(f.message)?.[1];
      return new AmiNameTakenError(ctx.name ?? '', holder !== undefined ? { imageId: holder } : {}, options);
    }
    case 'InvalidAMIName.Malformed':
      return new AmiNameInvalidError(ctx.name ?? '', f.message || 'EC2 refused it (InvalidAMIName.Malformed)', options);
    case 'InvalidManifest':
      return new Ec2ManifestInvalidError(ctx.location ?? '(manifest)', f.message || 'EC2 refused the manifest (InvalidManifest)', options);
    case 'InvalidAMIID.NotFound':
    case 'InvalidAMIID.Unavailable':
    case 'InvalidAMIID.Malformed':
      return new AmiNotFoundError(ctx.imageId ?? '', `${f.code}: ${f.message || 'no such image of this account'}`, options);
  }
  if (ACCESS_CODES.has(f.code) || f.status === 401 || f.status === 403) return new Ec2AccessDeniedError(ctx.operation, f.code, options);
  if (isTransientEc2Error(err)) return new Ec2UnavailableError(ctx.operation, describe(f), options);
  return new Ec2RequestFailedError(ctx.operation, describe(f), options);
}
