import { InvalidOptionError } from '@bundlefarm/errors';

/**
 * How to reach one S3 region (or one S3-compatible store). Checked by `checkS3Settings` before any
 * client is built; error messages name the setting, never a credential's value.
 */
export interface S3Settings {
  /** Region of the buckets this client talks to, e.g. `eu-west-1` (S3-compatibles: their configured name). */
  region: string;
  /** Endpoint URL of an S3-compatible store (MinIO, Ceph …): `http(s)://host[:port]`. Default: AWS. */
  endpoint?: string;
  /** Path-style addressing (`host/bucket/key`), which most S3-compatibles need (default false). */
  forcePathStyle?: boolean;
  /** Static credentials. Default: the SDK's chain (environment, profile, SSO, instance/task role). */
  credentials?: S3StaticCredentials;
  /** Attempts per request made by the SDK itself, 1–20 (default 3). Sinks retry on top of that. */
  maxAttempts?: number;
  /** Milliseconds to establish a TCP/TLS connection (default 5 000). */
  connectionTimeoutMs?: number;
  /**
   * Milliseconds from sending a request until the response headers arrive (default 120 000): for a PUT
   * this includes sending the body, so it must allow 10 MiB over a slow link. Not a limit on streaming
   * a response body — `socketTimeoutMs` covers stalls there.
   */
  requestTimeoutMs?: number;
  /** Milliseconds a connection may stay silent before it is dropped (default 60 000). */
  socketTimeoutMs?: number;
  /** Most concurrent connections to this endpoint (default 50, the SDK's). */
  maxSockets?: number;
}

export interface S3StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const S3_SETTINGS_DEFAULTS = {
  forcePathStyle: false,
  maxAttempts: 3,
  connectionTimeoutMs: 5_000,
  requestTimeoutMs: 120_000,
  socketTimeoutMs: 60_000,
  maxSockets: 50,
} as const;

export type ResolvedS3Settings = Required<Omit<S3Settings, 'endpoint' | 'credentials'>> & Pick<S3Settings, 'endpoint' | 'credentials'>;

/** AWS region names and the plain names S3-compatible stores use (`us-east-1`, `garage`, `minio`). */
const REGION = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** Validates settings and fills in the defaults. Throws InvalidOptionError naming the bad setting. */
export function checkS3Settings(settings: S3Settings): ResolvedS3Settings {
  if (typeof settings !== 'object' || settings === null) throw new InvalidOptionError('S3 settings', 'are missing');
  const { region, endpoint, credentials } = settings;
  if (typeof region !== 'string' || !REGION.test(region)) {
    throw new InvalidOptionError('S3 region', `${JSON.stringify(region)} is not a region name (e.g. us-east-1)`);
  }
  if (endpoint !== undefined) checkEndpoint(endpoint);
  if (credentials !== undefined) checkCredentials(credentials);
  if (settings.forcePathStyle !== undefined && typeof settings.forcePathStyle !== 'boolean') {
    throw new InvalidOptionError('S3 forcePathStyle', 'must be true or false');
  }
  return {
    region,
    endpoint,
    credentials,
    forcePathStyle: settings.forcePathStyle ?? S3_SETTINGS_DEFAULTS.forcePathStyle,
    maxAttempts: wholeNumber('S3 maxAttempts', settings.maxAttempts, S3_SETTINGS_DEFAULTS.maxAttempts, 1, 20),
    connectionTimeoutMs: wholeNumber('S3 connectionTimeoutMs', settings.connectionTimeoutMs, S3_SETTINGS_DEFAULTS.connectionTimeoutMs, 1, 600_000),
    requestTimeoutMs: wholeNumber('S3 requestTimeoutMs', settings.requestTimeoutMs, S3_SETTINGS_DEFAULTS.requestTimeoutMs, 1, 3_600_000),
    socketTimeoutMs: wholeNumber('S3 socketTimeoutMs', settings.socketTimeoutMs, S3_SETTINGS_DEFAULTS.socketTimeoutMs, 1, 3_600_000),
    maxSockets: wholeNumber('S3 maxSockets', settings.maxSockets, S3_SETTINGS_DEFAULTS.maxSockets, 1, 1024),
  };
}

function checkEndpoint(endpoint: string): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new InvalidOptionError('S3 endpoint', 'is not a URL (expected http(s)://host[:port])');
  }
  // never echo an endpoint that carries a password
  if (url.username !== '' || url.password !== '') {
    throw new InvalidOptionError('S3 endpoint', 'must not contain credentials; use the credentials setting');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionError('S3 endpoint', `${JSON.stringify(endpoint)} is not an http(s) URL`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new InvalidOptionError('S3 endpoint', `${JSON.stringify(endpoint)} must be just scheme, host and port (no path or query)`);
  }
}

function checkCredentials(credentials: S3StaticCredentials): void {
  const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v.length > 0 && v.trim() === v;
  // messages name the field only: a credential's value must never reach an error, a log or a job result
  if (typeof credentials !== 'object' || credentials === null) throw new InvalidOptionError('S3 credentials', 'must be an object');
  if (!nonEmpty(credentials.accessKeyId)) throw new InvalidOptionError('S3 credentials', 'accessKeyId is empty or has surrounding spaces');
  if (!nonEmpty(credentials.secretAccessKey)) throw new InvalidOptionError('S3 credentials', 'secretAccessKey is empty or has surrounding spaces');
  if (credentials.sessionToken !== undefined && !nonEmpty(credentials.sessionToken)) {
    throw new InvalidOptionError('S3 credentials', 'sessionToken is empty or has surrounding spaces');
  }
}

function wholeNumber(option: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(option, `${String(value)} is not a whole number from ${min} to ${max}`);
  }
  return value;
}
