/**
 * A small client of the bundlefarm API (`fetch`, Node 20), for `bundlefarm enqueue`, `status`, `list`,
 * `cancel`, `retry` and `logs`.
 * The response types are the API's wire format, generated from its OpenAPI document (api-types.ts);
 * the job spec it sends is stated here (the server checks it, and test/service/openapi.test.ts that it
 * fits the document). An error response becomes a BundlefarmError with the server's code, so the CLI
 * prints `bundlefarm: BF_BAD_SPEC: …` and exits 1 as for local errors.
 */
import { BundlefarmError, InvalidOptionError } from '@bundlefarm/errors';
import type { components } from './api-types.js';

export const API_URL_ENV = 'BUNDLEFARM_API_URL';
export const API_TOKEN_ENV = 'BUNDLEFARM_API_TOKEN';

// The API's responses as the server's OpenAPI document states them (api-types.ts, generated from it:
// `npm run api-types`); named here as the CLI reads them.
type Schemas = components['schemas'];

export type ApiErrorBody = Schemas['Error'];
export type ApiProblem = NonNullable<ApiErrorBody['problems']>[number];
export type EnqueuedJob = Schemas['EnqueuedJob'];
export type JobStatusView = Schemas['BundleStatus'];
export type JobProgressView = NonNullable<JobStatusView['progress']>;
export type RegionStatusView = JobStatusView['regions'][number];
export type RegionErrorView = NonNullable<RegionStatusView['error']>;
/** GET /v1/bundles: a page of jobs. */
export type JobPageView = Schemas['BundleList'];
/** One job of GET /v1/bundles. */
export type JobSummaryView = JobPageView['jobs'][number];
export type CancelView = Schemas['CancelResult'];
export type RetryView = Schemas['RetryResult'];
export type JobLogView = Schemas['BundleLogs'];
/** An upload into the staging area (see the API's /v1/uploads). */
export type UploadView = Schemas['Upload'];
/** One part of an upload (POST/GET /v1/uploads): stored already (`etag`), or to PUT to `url`. */
export type UploadPartView = UploadView['parts'][number];
export type CompletedUploadView = Schemas['CompletedUpload'];

/** The job spec as POST /v1/bundles takes it. */
export interface JobSpecBody {
  name?: string;
  image: string;
  /** Build an ext4 image from `image` (a root tree or a rootfs tarball) first. */
  filesystem?: {
    from: 'tree' | 'tarball';
    sizeMiB?: number;
    label?: string;
    partition?: 'none' | 'mbr' | 'gpt';
    fstab?: 'keep' | 'generate';
  };
  architecture: 'i386' | 'x86_64';
  accountId: string;
  identity: string;
  regions: Array<{ region: string; bucket: string; prefix?: string; kernelId?: string; ramdiskId?: string }>;
  blockDeviceMapping?: Array<{ virtual: string; device: string }>;
  productCodes?: string[];
  level?: number;
  threads?: number;
  /** Replace a bundle already published at a target (default false: such a target is refused). */
  replace?: boolean;
}

/** The API could not be reached (connection refused, DNS, timeout): transient. */
export class ApiUnreachableError extends BundlefarmError {
  static readonly code = 'BF_API_UNREACHABLE';
  constructor(url: string, cause: unknown) {
    const reason = (cause as { cause?: { code?: string } } | null)?.cause?.code ?? (cause instanceof Error ? cause.message : String(cause));
    super(ApiUnreachableError.code, `cannot reach the bundlefarm API at ${url}: ${reason}`, true, { cause, details: { url } });
  }
}

/** An error response of the API, with the server's code. */
export class ApiResponseError extends BundlefarmError {
  readonly status: number;
  readonly problems: ApiProblem[];
  constructor(status: number, body: ApiErrorBody) {
    const problems = body.problems ?? [];
    super(body.error, withProblems(body.message, problems), status >= 500 || status === 429, { details: { status } });
    this.status = status;
    this.problems = problems;
  }
}

/**
 * The server's message with every problem, each said once: the server names the first problem in its
 * message ("… has 3 problems (first: image: …)", "…: identity: … (and 2 more)"), so that mention is
 * taken out before the whole list is appended.
 */
function withProblems(message: string, problems: readonly ApiProblem[]): string {
  if (problems.length === 0) return message;
  const list = problems.map((p) => `${p.path}: ${p.message}`);
  if (list.every((p) => message.includes(p))) return message;
  const first = list[0]!;
  const base = message
    .replace(` (first: ${first})`, '')
    .replace(`: ${first}`, '')
    .replace(/ \(and \d+ more\)/, '');
  return `${base}: ${list.join('; ')}`;
}

export interface ApiClientOptions {
  /** Base URL, e.g. http://localhost:8080 (--api or $BUNDLEFARM_API_URL). */
  url: string;
  /** Bearer token (--token or $BUNDLEFARM_API_TOKEN). */
  token?: string;
  /** Per-request timeout in ms (default 30 000). */
  timeoutMs?: number;
}

export function apiClientOptions(flags: { api?: string; token?: string }, env: NodeJS.ProcessEnv): ApiClientOptions {
  const url = flags.api ?? env[API_URL_ENV];
  if (!url) throw new InvalidOptionError('--api', `no API URL: give --api URL or set $${API_URL_ENV}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidOptionError('--api', `${JSON.stringify(url)} is not a URL (e.g. http://localhost:8080)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new InvalidOptionError('--api', 'must be an http(s) URL');
  const token = flags.token ?? env[API_TOKEN_ENV];
  if (token === undefined || token.trim() === '') {
    const why = flags.token !== undefined ? '--token is empty' : env[API_TOKEN_ENV] === undefined ? `$${API_TOKEN_ENV} is not set` : `$${API_TOKEN_ENV} is empty`;
    throw new InvalidOptionError('--token', `no API token: ${why}; set $${API_TOKEN_ENV} to your token (or give --token)`);
  }
  return { url: parsed.origin + parsed.pathname.replace(/\/+$/, ''), token };
}

export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  enqueue(spec: JobSpecBody, idempotencyKey?: string): Promise<EnqueuedJob> {
    return this.request<EnqueuedJob>('POST', '/v1/bundles', spec, {
      'x-bundlefarm-source': 'cli',
      ...(idempotencyKey !== undefined ? { 'idempotency-key': idempotencyKey } : {}),
    });
  }

  createUpload(filename: string, size: number): Promise<UploadView> {
    return this.request<UploadView>('POST', '/v1/uploads', { filename, size });
  }

  upload(id: string): Promise<UploadView> {
    return this.request<UploadView>('GET', `/v1/uploads/${encodeURIComponent(id)}`);
  }

  completeUpload(id: string, parts: Array<{ partNumber: number; etag: string }>): Promise<CompletedUploadView> {
    return this.request('POST', `/v1/uploads/${encodeURIComponent(id)}/complete`, { parts });
  }

  status(id: string): Promise<JobStatusView> {
    return this.request<JobStatusView>('GET', `/v1/bundles/${encodeURIComponent(id)}`);
  }

  list(query: { states?: string[]; limit?: number; cursor?: string } = {}): Promise<JobPageView> {
    const q = new URLSearchParams();
    if (query.states && query.states.length > 0) q.set('state', query.states.join(','));
    if (query.limit !== undefined) q.set('limit', String(query.limit));
    if (query.cursor !== undefined) q.set('cursor', query.cursor);
    const qs = q.toString();
    return this.request<JobPageView>('GET', `/v1/bundles${qs ? `?${qs}` : ''}`);
  }

  cancel(id: string): Promise<CancelView> {
    return this.request<CancelView>('DELETE', `/v1/bundles/${encodeURIComponent(id)}`);
  }

  retry(id: string): Promise<RetryView> {
    return this.request<RetryView>('POST', `/v1/bundles/${encodeURIComponent(id)}/retry`);
  }

  logs(id: string, offset = 0): Promise<JobLogView> {
    return this.request<JobLogView>('GET', `/v1/bundles/${encodeURIComponent(id)}/logs?offset=${offset}`);
  }

  private async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const url = `${this.options.url}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          accept: 'application/json',
          ...(this.options.token ? { authorization: `Bearer ${this.options.token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new ApiUnreachableError(this.options.url, err);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const b = json as Partial<ApiErrorBody> | undefined;
      throw new ApiResponseError(res.status, {
        error: typeof b?.error === 'string' && b.error.startsWith('BF_') ? b.error : 'BF_API_ERROR',
        message: typeof b?.message === 'string' ? b.message : `${method} ${path} answered HTTP ${res.status}`,
        ...(Array.isArray(b?.problems) ? { problems: b.problems } : {}),
      });
    }
    if (json === undefined) throw new ApiResponseError(res.status, { error: 'BF_API_ERROR', message: `${method} ${path} answered without a JSON body` });
    return json as T;
  }
}
