/**
 * Configuration of the API server. `buildServer` takes it as an object (checked with `checkServerConfig`);
 * `serverConfigFromEnv` reads it from BUNDLEFARM_* environment variables. Every problem is reported at
 * once, naming the setting (or variable) — never a value, since most of them are secrets. The Redis URL,
 * queue prefix and log level follow @bundlefarm/queue service-settings.ts, as the workers' do.
 */
import { isIP } from 'node:net';
import { BundlefarmError } from '@bundlefarm/errors';
import {
  logLevelSchema,
  parseRedisUrl,
  queuePrefixIssue,
  queuePrefixSchema,
  redisUrlSchema,
  resolveQueuePrefix,
  SERVICE_DEFAULTS,
  SERVICE_ENV,
  serviceSettingFromEnv,
  type LogLevel,
  type S3Settings,
} from '@bundlefarm/queue';
import { z } from 'zod';

/** The API's settings, as `buildServer` takes them. */
export interface ServerConfig {
  /**
   * Legacy bearer tokens (16+ characters each): together one unrestricted principal, "api-tokens"
   * (a warning at start). Prefer `principalsFile`. At least one of the two is needed.
   */
  apiTokens?: string[];
  /** The principals file (tokens as hashes, each with its scope; see @bundlefarm/queue scopes/principals.ts). Give the workers the same file. */
  principalsFile?: string;
  /** Key of the job MAC (32+ characters), shared with the workers, never stored in Redis. Default: none (jobs carry no MAC). */
  jobMacKey?: string;
  /** GitHub webhook secrets (X-Hub-Signature-256); several while rotating. None: GitHub hooks get 401. */
  githubWebhookSecrets?: string[];
  /** GitLab webhook secret tokens (X-Gitlab-Token). None: GitLab hooks get 401. */
  gitlabWebhookTokens?: string[];
  /** JSON file of webhook rules (docs/webhook-rules.example.json). None: every hook is acknowledged and ignored. */
  webhookRulesFile?: string;
  /** The workers' local image root as mounted on the API host; set only if it is (see docs/service.md). */
  imageRoot?: string;
  /** S3 access for the enqueue-time size check of s3:// images (default: none, no check). */
  s3?: S3Settings;
  /**
   * The staging area of `POST /v1/uploads` (default: none; the route then answers 404 BF_NOT_FOUND):
   * images from CI are uploaded through presigned URLs to `url`/<principal>/<uuid>/<file>.
   */
  staging?: StagingConfig;
  /** Redis URL: redis://, rediss://, redis+sentinel:// or redis+cluster:// (see @bundlefarm/queue redis-url.ts; default redis://127.0.0.1:6379). */
  redisUrl?: string;
  /** Queue key prefix (default "bundlefarm"; "{bundlefarm}" with Redis Cluster); the rule is @bundlefarm/queue service-settings.ts's, the workers' too. */
  queuePrefix?: string;
  /** Largest JSON body of the API, bytes (default 64 KiB). */
  bodyLimit?: number;
  /** Largest webhook body, bytes (default 1 MiB). */
  webhookBodyLimit?: number;
  /**
   * Bytes of webhook bodies not yet authenticated that the API holds at once, over all connections
   * (default 16 MiB): a delivery that would go over it is refused (503) and its connection closed.
   */
  webhookBufferBudget?: number;
  /** Milliseconds a webhook body may take to arrive (default 10 000); slower: 408 and the connection closed. */
  webhookBodyTimeoutMs?: number;
  /** Connections the API accepts at once (default 2048); more are refused by the server. */
  maxConnections?: number;
  /**
   * The Bull Board admin login (basic auth): the only one that may retry, promote, clean, remove, pause,
   * add or edit jobs, at /admin/queues/manage… (ADMIN_BOARD_PATH). API tokens never can.
   */
  admin?: { user: string; password: string };
  /** No write actions on Bull Board at all, not even for the admin login (default false). */
  boardReadOnly?: boolean;
  /** pino level (default info); `silent` for none. */
  logLevel?: LogLevel;
  /**
   * Reverse proxies in front of the API whose X-Forwarded-For is believed (default false: none; the
   * client is the TCP peer). A number: that many proxy hops (1 = one proxy, which appends the address it
   * saw); a list: the proxies' addresses or CIDRs. `true` means 1 hop: trusting every hop would take the
   * left-most X-Forwarded-For entry, which the client writes itself, so each guess at the board's
   * password could claim a fresh address and the failed-login limiter would never stop it.
   */
  trustProxy?: boolean | number | string[];
  /** Seconds a delivery id / idempotency key is remembered (default 30 days). */
  replayTtlSeconds?: number;
  /** Attempts per job for transient failures (default 5). */
  jobAttempts?: number;
  /** First retry delay of a job in ms (default 10 000, doubled each attempt). */
  jobBackoffMs?: number;
  /**
   * Completed jobs kept in Redis (default 1000, and none older than 7 days). Each completion trims the
   * older ones, so Redis holds a bounded number of finished jobs however many run; 0 removes a job as
   * it completes (its status is then 404). Applies to jobs enqueued from then on.
   */
  keepCompleted?: number;
  /** Failed jobs kept in Redis (default 5000, and none older than 30 days); as `keepCompleted`. */
  keepFailed?: number;
  /**
   * Events the queue's event stream keeps (default 10 000, some 250 bytes each): the part of the queue
   * that grows with every job up to this cap. Give every API replica the same value.
   */
  eventsMaxLen?: number;
  /**
   * Redis replicas that must hold a new job before the API answers 202 (Redis WAIT, up to 1 s; 0–16).
   * Default: 1 with a redis+sentinel:// URL, 0 otherwise (docs/service.md "Redis high availability").
   */
  redisWaitReplicas?: number;
  /**
   * The API's address as CI systems reach it (e.g. https://bundlefarm.example.com): commit statuses link
   * to `PUBLIC_URL/v1/bundles/ID`. Default: none, statuses carry no link.
   */
  publicUrl?: string;
  /** GitHub token that may post commit statuses (repo:status). None: no GitHub commit statuses. */
  githubStatusToken?: string;
  /** GitHub REST API base (default https://api.github.com; GitHub Enterprise: https://HOST/api/v3). */
  githubApiUrl?: string;
  /** GitLab token that may post commit statuses (api scope). None: no GitLab commit statuses. */
  gitlabStatusToken?: string;
  /** GitLab REST API base (default https://gitlab.com/api/v4). */
  gitlabApiUrl?: string;
  /** Attempts of each notification delivery (default 8). */
  notifyAttempts?: number;
  /** First retry delay of a notification in ms (default 5 000, doubled each attempt, at most 10 minutes). */
  notifyBackoffMs?: number;
  /** Milliseconds a notification endpoint (or commit status API) has to answer (default 10 000). */
  notifyTimeoutMs?: number;
}

/** Where uploads go, and how the API reaches it. */
export interface StagingConfig {
  /** `s3://BUCKET/PREFIX`; give the workers the same (BUNDLEFARM_STAGING). */
  url: string;
  /** How the API reaches the bucket (CreateMultipartUpload, ListParts, CompleteMultipartUpload, HeadObject); region = the bucket's. */
  s3: S3Settings;
  /** Endpoint the presigned URLs name, when clients reach S3 elsewhere than the API does (default: `s3.endpoint`). */
  publicEndpoint?: string;
  /** Seconds a presigned URL stays valid (default 3600, 60 to 604 800); a resume gets fresh ones. */
  urlTtlSeconds?: number;
}

export type ResolvedServerConfig = z.output<typeof serverConfigSchema>;

export const SERVER_DEFAULTS = {
  redisUrl: SERVICE_DEFAULTS.redisUrl,
  queuePrefix: SERVICE_DEFAULTS.queuePrefix,
  bodyLimit: 64 * 1024,
  webhookBodyLimit: 1024 * 1024,
  webhookBufferBudget: 16 * 1024 * 1024,
  webhookBodyTimeoutMs: 10_000,
  maxConnections: 2048,
  logLevel: SERVICE_DEFAULTS.logLevel,
  replayTtlSeconds: 30 * 24 * 3600,
  githubApiUrl: 'https://api.github.com',
  gitlabApiUrl: 'https://gitlab.com/api/v4',
  notifyAttempts: 8,
  notifyBackoffMs: 5_000,
  notifyTimeoutMs: 10_000,
  host: '0.0.0.0',
  port: 8080,
} as const;

const httpUrl = (what: string) =>
  z
    .string()
    .max(2048)
    .refine((v) => {
      try {
        const u = new URL(v);
        return (u.protocol === 'https:' || u.protocol === 'http:') && u.username === '' && u.password === '';
      } catch {
        return false;
      }
    }, `must be the http(s) URL of ${what}, without user or password`)
    .transform((v) => v.replace(/\/+$/, ''));

const secret = (what: string, min: number) => z.string().min(min, `each ${what} must have at least ${min} characters`).max(1024);

export const serverConfigSchema = z
  .object({
    apiTokens: z.array(secret('API token', 16)).default([]),
    principalsFile: z.string().min(1).optional(),
    jobMacKey: secret('job MAC key', 32).optional(),
    githubWebhookSecrets: z.array(secret('GitHub webhook secret', 16)).default([]),
    gitlabWebhookTokens: z.array(secret('GitLab webhook token', 16)).default([]),
    webhookRulesFile: z.string().min(1).optional(),
    imageRoot: z.string().min(1).optional(),
    s3: z.custom<S3Settings>((v) => typeof v === 'object' && v !== null, 'must be S3 settings').optional(),
    staging: z
      .object({
        url: z.string().regex(/^s3:\/\/[^/]+/, 'must be s3://BUCKET/PREFIX'),
        s3: z.custom<S3Settings>((v) => typeof v === 'object' && v !== null, 'must be S3 settings'),
        publicEndpoint: z.url({ protocol: /^https?$/ }).optional(),
        urlTtlSeconds: z.number().int().min(60).max(604_800).optional(),
      })
      .strict()
      .optional(),
    redisUrl: redisUrlSchema.default(SERVER_DEFAULTS.redisUrl),
    queuePrefix: queuePrefixSchema.optional(),
    bodyLimit: z.number().int().min(1024).max(16 * 1024 * 1024).default(SERVER_DEFAULTS.bodyLimit),
    webhookBodyLimit: z.number().int().min(1024).max(32 * 1024 * 1024).default(SERVER_DEFAULTS.webhookBodyLimit),
    webhookBufferBudget: z.number().int().min(64 * 1024).max(1024 * 1024 * 1024).default(SERVER_DEFAULTS.webhookBufferBudget),
    webhookBodyTimeoutMs: z.number().int().min(100).max(600_000).default(SERVER_DEFAULTS.webhookBodyTimeoutMs),
    maxConnections: z.number().int().min(16).max(1_000_000).default(SERVER_DEFAULTS.maxConnections),
    admin: z
      .object({ user: z.string().min(1).max(128).regex(/^[^:]+$/, 'must not contain ":"'), password: secret('admin password', 12) })
      .strict()
      .optional(),
    boardReadOnly: z.boolean().default(false),
    logLevel: logLevelSchema.default(SERVER_DEFAULTS.logLevel),
    trustProxy: z
      .union([
        z.boolean(),
        z.number().int().min(1).max(10),
        z.array(z.string().refine(isProxyAddress, 'must be an IP address or CIDR (e.g. 10.0.0.0/8)')).min(1),
      ])
      .default(false),
    replayTtlSeconds: z.number().int().min(1).max(366 * 24 * 3600).default(SERVER_DEFAULTS.replayTtlSeconds),
    jobAttempts: z.number().int().min(1).max(100).optional(),
    jobBackoffMs: z.number().int().min(0).max(3_600_000).optional(),
    keepCompleted: z.number().int().min(0).max(1_000_000).optional(),
    keepFailed: z.number().int().min(0).max(1_000_000).optional(),
    eventsMaxLen: z.number().int().min(100).max(10_000_000).optional(),
    redisWaitReplicas: z.number().int().min(0).max(16).optional(),
    publicUrl: httpUrl('the API').optional(),
    githubStatusToken: secret('GitHub status token', 8).optional(),
    githubApiUrl: httpUrl('the GitHub API').default(SERVER_DEFAULTS.githubApiUrl),
    gitlabStatusToken: secret('GitLab status token', 8).optional(),
    gitlabApiUrl: httpUrl('the GitLab API').default(SERVER_DEFAULTS.gitlabApiUrl),
    notifyAttempts: z.number().int().min(1).max(50).default(SERVER_DEFAULTS.notifyAttempts),
    notifyBackoffMs: z.number().int().min(1).max(3_600_000).default(SERVER_DEFAULTS.notifyBackoffMs),
    notifyTimeoutMs: z.number().int().min(100).max(600_000).default(SERVER_DEFAULTS.notifyTimeoutMs),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.apiTokens.length === 0 && c.principalsFile === undefined) {
      ctx.addIssue({ code: 'custom', path: ['apiTokens'], message: 'at least one API token or a principals file (BUNDLEFARM_PRINCIPALS_FILE) is needed' });
    }
    if (c.webhookBufferBudget < c.webhookBodyLimit) ctx.addIssue({ code: 'custom', path: ['webhookBufferBudget'], message: 'must be at least the webhook body limit' });
    // a Redis Cluster needs a hash tag in the prefix (@bundlefarm/queue service-settings.ts)
    queuePrefixIssue(c.redisUrl, c.queuePrefix, ctx, ['queuePrefix']);
    if ((c.redisWaitReplicas ?? 0) > 0 && redisUrlSchema.safeParse(c.redisUrl).success && parseRedisUrl(c.redisUrl).kind === 'cluster') {
      ctx.addIssue({ code: 'custom', path: ['redisWaitReplicas'], message: 'must be 0 with a Redis Cluster (redis+cluster://)' });
    }
  })
  .transform((c) => ({ ...c, queuePrefix: resolveQueuePrefix(c.redisUrl, c.queuePrefix) }));

/** A configuration that does not validate; `problems` name settings or variables, never values. */
export class ServerConfigError extends BundlefarmError {
  static readonly code = 'BF_BAD_CONFIG';
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(ServerConfigError.code, `the server configuration is invalid: ${problems.join('; ')}`, false, { details: { problems: problems.length } });
    this.problems = problems;
  }
}

export function checkServerConfig(config: ServerConfig, names: Record<string, string> = {}): ResolvedServerConfig {
  const r = serverConfigSchema.safeParse(config);
  if (r.success) return r.data;
  throw new ServerConfigError(
    r.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const where = names[key] ?? (i.path.map(String).join('.') || 'config');
      return `${where}: ${i.message}`;
    }),
  );
}

/** Environment variables, and the setting each one fills. */
export const ENV = {
  apiTokens: 'BUNDLEFARM_API_TOKENS',
  principalsFile: 'BUNDLEFARM_PRINCIPALS_FILE',
  jobMacKey: 'BUNDLEFARM_JOB_MAC_KEY',
  githubWebhookSecrets: 'BUNDLEFARM_GITHUB_WEBHOOK_SECRETS',
  gitlabWebhookTokens: 'BUNDLEFARM_GITLAB_WEBHOOK_TOKENS',
  webhookRulesFile: 'BUNDLEFARM_WEBHOOK_RULES',
  imageRoot: 'BUNDLEFARM_IMAGE_ROOT',
  s3: 'BUNDLEFARM_S3_*',
  staging: 'BUNDLEFARM_STAGING',
  redisUrl: SERVICE_ENV.redisUrl,
  queuePrefix: SERVICE_ENV.queuePrefix,
  bodyLimit: 'BUNDLEFARM_BODY_LIMIT',
  webhookBodyLimit: 'BUNDLEFARM_WEBHOOK_BODY_LIMIT',
  webhookBufferBudget: 'BUNDLEFARM_WEBHOOK_BUFFER_BUDGET',
  webhookBodyTimeoutMs: 'BUNDLEFARM_WEBHOOK_BODY_TIMEOUT_MS',
  maxConnections: 'BUNDLEFARM_MAX_CONNECTIONS',
  admin: 'BUNDLEFARM_ADMIN_USER/BUNDLEFARM_ADMIN_PASSWORD',
  boardReadOnly: 'BUNDLEFARM_BOARD_READ_ONLY',
  logLevel: SERVICE_ENV.logLevel,
  trustProxy: 'BUNDLEFARM_TRUST_PROXY',
  replayTtlSeconds: 'BUNDLEFARM_REPLAY_TTL',
  jobAttempts: 'BUNDLEFARM_JOB_ATTEMPTS',
  jobBackoffMs: 'BUNDLEFARM_JOB_BACKOFF_MS',
  keepCompleted: 'BUNDLEFARM_KEEP_COMPLETED',
  keepFailed: 'BUNDLEFARM_KEEP_FAILED',
  eventsMaxLen: 'BUNDLEFARM_EVENTS_MAX_LEN',
  redisWaitReplicas: 'BUNDLEFARM_REDIS_WAIT_REPLICAS',
  publicUrl: 'BUNDLEFARM_PUBLIC_URL',
  githubStatusToken: 'BUNDLEFARM_GITHUB_STATUS_TOKEN',
  githubApiUrl: 'BUNDLEFARM_GITHUB_API_URL',
  gitlabStatusToken: 'BUNDLEFARM_GITLAB_STATUS_TOKEN',
  gitlabApiUrl: 'BUNDLEFARM_GITLAB_API_URL',
  notifyAttempts: 'BUNDLEFARM_NOTIFY_ATTEMPTS',
  notifyBackoffMs: 'BUNDLEFARM_NOTIFY_BACKOFF_MS',
  notifyTimeoutMs: 'BUNDLEFARM_NOTIFY_TIMEOUT_MS',
} as const satisfies Record<keyof ServerConfig, string>;

export interface ListenConfig {
  host: string;
  port: number;
}

/**
 * Reads the configuration from the environment:
 *
 * | variable | setting |
 * |---|---|
 * | BUNDLEFARM_PRINCIPALS_FILE | principals (tokens as hashes, scopes) — this or BUNDLEFARM_API_TOKENS |
 * | BUNDLEFARM_API_TOKENS | legacy: comma-separated bearer tokens, one unrestricted principal |
 * | BUNDLEFARM_JOB_MAC_KEY | job MAC key shared with the workers (32+ characters) |
 * | BUNDLEFARM_GITHUB_WEBHOOK_SECRETS, BUNDLEFARM_GITLAB_WEBHOOK_TOKENS | comma-separated |
 * | BUNDLEFARM_WEBHOOK_RULES | rules file path |
 * | BUNDLEFARM_IMAGE_ROOT | image root as mounted here |
 * | BUNDLEFARM_S3_SIZE_CHECK | HeadObject s3:// images at enqueue (default: true when any BUNDLEFARM_S3_* below is set) |
 * | BUNDLEFARM_S3_REGION, BUNDLEFARM_S3_ENDPOINT, BUNDLEFARM_S3_FORCE_PATH_STYLE | where |
 * | BUNDLEFARM_S3_ACCESS_KEY_ID, BUNDLEFARM_S3_SECRET_ACCESS_KEY | credentials (default: the AWS SDK chain) |
 * | BUNDLEFARM_STAGING | staging area of POST /v1/uploads, `s3://BUCKET/PREFIX` (reached with the BUNDLEFARM_S3_* settings) |
 * | BUNDLEFARM_STAGING_ENDPOINT | endpoint presigned URLs name (default BUNDLEFARM_S3_ENDPOINT, else AWS) |
 * | BUNDLEFARM_STAGING_URL_TTL | seconds presigned URLs stay valid (default 3600) |
 * | BUNDLEFARM_REDIS_URL, BUNDLEFARM_QUEUE_PREFIX | queue |
 * | BUNDLEFARM_BODY_LIMIT, BUNDLEFARM_WEBHOOK_BODY_LIMIT, BUNDLEFARM_WEBHOOK_BUFFER_BUDGET | bytes |
 * | BUNDLEFARM_WEBHOOK_BODY_TIMEOUT_MS, BUNDLEFARM_MAX_CONNECTIONS | |
 * | BUNDLEFARM_ADMIN_USER, BUNDLEFARM_ADMIN_PASSWORD | Bull Board admin login (write actions) |
 * | BUNDLEFARM_BOARD_READ_ONLY, BUNDLEFARM_TRUST_PROXY | true/false |
 * | BUNDLEFARM_LOG_LEVEL, BUNDLEFARM_REPLAY_TTL, BUNDLEFARM_JOB_ATTEMPTS, BUNDLEFARM_JOB_BACKOFF_MS | |
 * | BUNDLEFARM_KEEP_COMPLETED, BUNDLEFARM_KEEP_FAILED | finished jobs kept in Redis (default 1000, 5000) |
 * | BUNDLEFARM_EVENTS_MAX_LEN | events the queue's event stream keeps (default 10 000) |
 * | BUNDLEFARM_REDIS_WAIT_REPLICAS | replicas that must hold a new job before 202 (default 1 with redis+sentinel://, else 0) |
 * | BUNDLEFARM_PUBLIC_URL | the API's address for links in commit statuses |
 * | BUNDLEFARM_GITHUB_STATUS_TOKEN, BUNDLEFARM_GITHUB_API_URL | GitHub commit statuses (API default https://api.github.com) |
 * | BUNDLEFARM_GITLAB_STATUS_TOKEN, BUNDLEFARM_GITLAB_API_URL | GitLab commit statuses (API default https://gitlab.com/api/v4) |
 * | BUNDLEFARM_NOTIFY_ATTEMPTS, BUNDLEFARM_NOTIFY_BACKOFF_MS, BUNDLEFARM_NOTIFY_TIMEOUT_MS | notification deliveries (default 8, 5 000, 10 000) |
 * | (each endpoint's `secretEnv`) | its signing secret, 16+ characters (principals and rules files name the variable) |
 * | BUNDLEFARM_API_HOST, BUNDLEFARM_API_PORT | where to listen (default 0.0.0.0:8080) |
 */
export function serverConfigFromEnv(env: NodeJS.ProcessEnv): { config: ResolvedServerConfig; listen: ListenConfig } {
  const problems: string[] = [];
  const list = (name: string): string[] | undefined => {
    const v = env[name];
    if (v === undefined || v.trim() === '') return undefined;
    return v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  };
  const str = (name: string): string | undefined => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const int = (name: string): number | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) {
      problems.push(`${name}: must be a whole number`);
      return undefined;
    }
    return Number(v);
  };
  const proxies = (name: string): boolean | number | string[] | undefined => {
    const v = str(name)?.trim();
    if (v === undefined) return undefined;
    if (/^\d+$/.test(v)) return Number(v);
    if (/^[a-z]+$/i.test(v)) return bool(name);
    return v.split(',').map((a) => a.trim());
  };
  const bool = (name: string): boolean | undefined => {
    const v = str(name)?.toLowerCase();
    if (v === undefined) return undefined;
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    problems.push(`${name}: must be true or false`);
    return undefined;
  };

  const config: ServerConfig = { apiTokens: list(ENV.apiTokens) ?? [] };
  const set = <K extends keyof ServerConfig>(key: K, value: ServerConfig[K] | undefined): void => {
    if (value !== undefined) config[key] = value;
  };
  set('principalsFile', str(ENV.principalsFile));
  set('jobMacKey', str(ENV.jobMacKey));
  set('webhookBufferBudget', int(ENV.webhookBufferBudget));
  set('webhookBodyTimeoutMs', int(ENV.webhookBodyTimeoutMs));
  set('maxConnections', int(ENV.maxConnections));
  set('githubWebhookSecrets', list(ENV.githubWebhookSecrets));
  set('gitlabWebhookTokens', list(ENV.gitlabWebhookTokens));
  set('webhookRulesFile', str(ENV.webhookRulesFile));
  set('imageRoot', str(ENV.imageRoot));
  set('redisUrl', serviceSettingFromEnv(env, ENV.redisUrl));
  set('queuePrefix', serviceSettingFromEnv(env, ENV.queuePrefix));
  set('bodyLimit', int(ENV.bodyLimit));
  set('webhookBodyLimit', int(ENV.webhookBodyLimit));
  set('boardReadOnly', bool(ENV.boardReadOnly));
  set('trustProxy', proxies(ENV.trustProxy));
  set('replayTtlSeconds', int(ENV.replayTtlSeconds));
  set('jobAttempts', int(ENV.jobAttempts));
  set('jobBackoffMs', int(ENV.jobBackoffMs));
  set('keepCompleted', int(ENV.keepCompleted));
  set('keepFailed', int(ENV.keepFailed));
  set('eventsMaxLen', int(ENV.eventsMaxLen));
  set('redisWaitReplicas', int(ENV.redisWaitReplicas));
  set('publicUrl', str(ENV.publicUrl));
  set('githubStatusToken', str(ENV.githubStatusToken));
  set('githubApiUrl', str(ENV.githubApiUrl));
  set('gitlabStatusToken', str(ENV.gitlabStatusToken));
  set('gitlabApiUrl', str(ENV.gitlabApiUrl));
  set('notifyAttempts', int(ENV.notifyAttempts));
  set('notifyBackoffMs', int(ENV.notifyBackoffMs));
  set('notifyTimeoutMs', int(ENV.notifyTimeoutMs));
  const level = serviceSettingFromEnv(env, ENV.logLevel);
  if (level !== undefined) config.logLevel = level as LogLevel;

  const user = str('BUNDLEFARM_ADMIN_USER');
  const password = str('BUNDLEFARM_ADMIN_PASSWORD');
  if (user !== undefined && password !== undefined) config.admin = { user, password };
  else if (user !== undefined || password !== undefined) problems.push('BUNDLEFARM_ADMIN_USER and BUNDLEFARM_ADMIN_PASSWORD: set both or neither');

  const s3Wanted = bool('BUNDLEFARM_S3_SIZE_CHECK') ?? ['BUNDLEFARM_S3_REGION', 'BUNDLEFARM_S3_ENDPOINT', 'BUNDLEFARM_S3_ACCESS_KEY_ID'].some((n) => str(n) !== undefined);
  const stagingUrl = str(ENV.staging);
  const s3Settings = (): S3Settings => {
    const accessKeyId = str('BUNDLEFARM_S3_ACCESS_KEY_ID');
    const secretAccessKey = str('BUNDLEFARM_S3_SECRET_ACCESS_KEY');
    if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
      problems.push('BUNDLEFARM_S3_ACCESS_KEY_ID and BUNDLEFARM_S3_SECRET_ACCESS_KEY: set both or neither');
    }
    const endpoint = str('BUNDLEFARM_S3_ENDPOINT');
    const forcePathStyle = bool('BUNDLEFARM_S3_FORCE_PATH_STYLE');
    return {
      region: str('BUNDLEFARM_S3_REGION') ?? 'us-east-1',
      ...(endpoint !== undefined ? { endpoint } : {}),
      ...(forcePathStyle !== undefined ? { forcePathStyle } : {}),
      ...(accessKeyId !== undefined && secretAccessKey !== undefined ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    };
  };
  const s3 = s3Wanted || stagingUrl !== undefined ? s3Settings() : undefined;
  if (s3Wanted && s3) config.s3 = s3;
  if (stagingUrl !== undefined && s3) {
    const publicEndpoint = str('BUNDLEFARM_STAGING_ENDPOINT');
    const urlTtlSeconds = int('BUNDLEFARM_STAGING_URL_TTL');
    config.staging = {
      url: stagingUrl,
      s3,
      ...(publicEndpoint !== undefined ? { publicEndpoint } : {}),
      ...(urlTtlSeconds !== undefined ? { urlTtlSeconds } : {}),
    };
  }

  const port = int('BUNDLEFARM_API_PORT') ?? SERVER_DEFAULTS.port;
  if (port < 1 || port > 65535) problems.push('BUNDLEFARM_API_PORT: must be 1-65535');
  const listen = { host: str('BUNDLEFARM_API_HOST') ?? SERVER_DEFAULTS.host, port };

  let resolved: ResolvedServerConfig | undefined;
  try {
    resolved = checkServerConfig(config, ENV);
  } catch (err) {
    if (err instanceof ServerConfigError) problems.push(...err.problems);
    else throw err;
  }
  if (problems.length > 0 || !resolved) throw new ServerConfigError(problems);
  return { config: resolved, listen };
}

/** An IPv4/IPv6 address, or one with a /prefix length: what proxy-addr (Fastify's trustProxy) accepts. */
function isProxyAddress(value: string): boolean {
  const [address, bits, ...rest] = value.split('/');
  if (rest.length > 0 || address === undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** Fastify's trustProxy from ours: `true` is one hop, never "every hop" (see ServerConfig.trustProxy). */
export function fastifyTrustProxy(value: boolean | number | string[]): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (value === false || Array.isArray(value)) return value;
  const hops = value === true ? 1 : value;
  // proxy-addr asks hop by hop from the TCP peer outwards: trust the first `hops` of them
  return (_address, hop) => hop < hops;
}
