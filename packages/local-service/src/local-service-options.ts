/*
 * What `bundlefarm serve --local` is told: where it keeps its state, where it listens, which buckets
 * (each in a region of its own choosing) its S3 has, how many workers run. Validated here with zod;
 * every default documented on the field.
 */
import { z } from 'zod';
import { InvalidOptionError } from '@bundlefarm/errors';
import { isRegionName } from '@bundlefarm/s3-local';
import { logLevelSchema, redisUrlSchema, SERVICE_DEFAULTS, type LogLevel } from '@bundlefarm/queue';

export interface LocalBucket {
  name: string;
  /** An AWS region name; a job's target in that region must name this bucket's endpoint region. */
  region: string;
}

/** The buckets of a local service told none: one in us-east-1, one in GovCloud (another partition, another EC2 certificate). */
export const DEFAULT_LOCAL_BUCKETS: readonly LocalBucket[] = [
  { name: 'bundlefarm-local', region: 'us-east-1' },
  { name: 'bundlefarm-local-gov', region: 'us-gov-west-1' },
];

export interface LocalServiceOptions {
  /** Where everything is kept: Redis's AOF, the S3 store, keys, configuration, logs, the env file (created, made 0700). Required. */
  dataDir: string;
  /** Address the API and the S3 endpoints listen on (default 127.0.0.1). */
  host?: string;
  /** The API's port (default 8080; 0: any free port). */
  apiPort?: number;
  /** The S3 endpoint of the first bucket's region; each further region gets the next port (default 9000; 0: any free ports). */
  s3Port?: number;
  /** A Redis to use instead of starting one (default: start `redis-server` with AOF in `dataDir/redis`). */
  redisUrl?: string;
  /** Port of the Redis started here (default 0: any free port). */
  redisPort?: number;
  /** Worker processes (default 1). */
  workers?: number;
  /** Buckets of the local S3 (default `DEFAULT_LOCAL_BUCKETS`). Kept across runs; one endpoint per region. */
  buckets?: readonly LocalBucket[];
  /** Log level of the API and workers (default info); their logs go to `dataDir/logs/`. */
  logLevel?: LogLevel;
}

export const LOCAL_SERVICE_DEFAULTS = { host: '127.0.0.1', apiPort: 8080, s3Port: 9000, redisPort: 0, workers: 1, logLevel: SERVICE_DEFAULTS.logLevel } as const;

const port = z.number().int('must be a whole number').min(0).max(65_535);
const bucketSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name (3–63 lowercase letters, digits, "." and "-")'),
  region: z.string().refine(isRegionName, 'must be an AWS region name, e.g. us-gov-west-1'),
});

const optionsSchema = z.object({
  dataDir: z.string().min(1, 'must be a directory'),
  host: z.string().regex(/^[A-Za-z0-9.:-]{1,253}$/, 'must be an IP address or host name').default(LOCAL_SERVICE_DEFAULTS.host),
  apiPort: port.default(LOCAL_SERVICE_DEFAULTS.apiPort),
  s3Port: port.default(LOCAL_SERVICE_DEFAULTS.s3Port),
  redisUrl: redisUrlSchema.optional(),
  redisPort: port.default(LOCAL_SERVICE_DEFAULTS.redisPort),
  workers: z.number().int().min(1, 'at least 1').max(64, 'at most 64').default(LOCAL_SERVICE_DEFAULTS.workers),
  buckets: z
    .array(bucketSchema)
    .min(1, 'give at least one bucket')
    .max(16)
    .refine((b) => new Set(b.map((x) => x.name)).size === b.length, 'bucket names must differ')
    .default([...DEFAULT_LOCAL_BUCKETS]),
  logLevel: logLevelSchema.default(LOCAL_SERVICE_DEFAULTS.logLevel),
});

export type ResolvedLocalServiceOptions = z.output<typeof optionsSchema>;

/** The options with their defaults; a bad one is an InvalidOptionError naming it. */
export function resolveLocalServiceOptions(options: LocalServiceOptions): ResolvedLocalServiceOptions {
  const parsed = optionsSchema.safeParse(options);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new InvalidOptionError(issue.path.length > 0 ? issue.path.join('.') : 'options', issue.message);
}

/** `NAME:REGION` (the CLI's `--bucket`). */
export function parseLocalBucket(value: string): LocalBucket {
  const m = /^([^:]+):([a-z0-9-]+)$/.exec(value.trim());
  if (!m) throw new InvalidOptionError('--bucket', `${JSON.stringify(value)} is not NAME:REGION (e.g. my-amis-gov:us-gov-west-1)`);
  const bucket = bucketSchema.safeParse({ name: m[1], region: m[2] });
  if (!bucket.success) throw new InvalidOptionError('--bucket', `${JSON.stringify(value)}: ${bucket.error.issues[0]!.path.join('.')} ${bucket.error.issues[0]!.message}`);
  return bucket.data;
}

/** Where `serve --local` keeps its state when told nothing: `$XDG_DATA_HOME/bundlefarm/local` (default `~/.local/share/bundlefarm/local`). */
export function defaultLocalDataDir(env: NodeJS.ProcessEnv, home: string): string {
  const base = env.XDG_DATA_HOME?.startsWith('/') ? env.XDG_DATA_HOME : `${home}/.local/share`;
  return `${base}/bundlefarm/local`;
}
