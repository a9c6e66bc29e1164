/**
 * Configuration of a bundle worker process, read and checked once at start-up. Everything that can
 * be wrong is reported together (WorkerConfigError lists every problem with its env var or JSON path),
 * and keys are loaded and matched against their certificates right away, so a misconfigured worker
 * fails before it takes a job. Key material, passphrases and S3 credentials are held in this process's
 * memory only: the file holds paths and the *names* of environment variables, never secrets.
 *
 * ## Environment
 *
 * | variable                  | default                  | meaning |
 * |---------------------------|--------------------------|---------|
 * | `BUNDLEFARM_REDIS_URL`    | `redis://127.0.0.1:6379` | Redis of the queue (`redis://[:password@]host:port[/db]`, `rediss://` for TLS, `redis+sentinel://[:password@]host:port[,host:port…]/mastername[?db=N]` for a Sentinel group) |
 * | `BUNDLEFARM_QUEUE_PREFIX` | `bundlefarm`             | key prefix of the queue; with a Redis Cluster (`redis+cluster://host:port[,host:port…]`) it must have a hash tag, default `{bundlefarm}` |
 * | `BUNDLEFARM_CONFIG`       | (required)               | path of the JSON file below |
 * | `BUNDLEFARM_LOG_LEVEL`    | `info`                   | pino level: fatal, error, warn, info, debug, trace, silent |
 * | `BUNDLEFARM_WORKER_METRICS_PORT` | (file's `metricsPort`; none: off) | serve Prometheus metrics on this port (0: any free port, logged) |
 * | `BUNDLEFARM_WORKER_METRICS_HOST` | (file's `metricsHost`; `127.0.0.1`) | address the metrics port binds to (`0.0.0.0` in a container) |
 * | `BUNDLEFARM_PRINCIPALS_FILE` | none                  | the API's principals file (scopes/principals.ts): every job must name one of them and stay in its scope |
 * | `BUNDLEFARM_JOB_MAC_KEY`  | none                     | the API's job MAC key (32+ characters): every job must carry a valid MAC |
 * | `BUNDLEFARM_STAGING`      | (file's `staging`; none) | the API's staging area `s3://BUCKET/PREFIX`: staged images of ended jobs are deleted (see staged-image-cleanup.ts) |
 *
 * An empty variable counts as unset.
 *
 * ## The JSON file (relative paths are relative to the file's directory)
 *
 * ```json
 * {
 *   "identities": {
 *     "release": { "key": "keys/release-key.pem", "cert": "keys/release-cert.pem", "passphraseEnv": "RELEASE_KEY_PASSPHRASE" }
 *   },
 *   "imageRoot": "/srv/images",
 *   "s3": {
 *     "accessKeyIdEnv": "BUNDLEFARM_S3_KEY_ID",
 *     "secretAccessKeyEnv": "BUNDLEFARM_S3_SECRET",
 *     "regions": { "us-gov-west-1": { "accessKeyIdEnv": "GOV_KEY_ID", "secretAccessKeyEnv": "GOV_SECRET" } }
 *   },
 *   "ec2Certificates": { "aws": "/etc/bundlefarm/cert-ec2-2026.pem" },
 *   "concurrency": 2,
 *   "threads": 8
 * }
 * ```
 *
 * - `identities` (required, at least one): signing identities jobs may name (`spec.identity`), each
 *   `{ key, cert, passphraseEnv? }`: PEM private key, its X.509 certificate, and the name of the
 *   environment variable holding the key's passphrase when it is encrypted.
 * - `imageRoot` (default: none): directory local images are read from; a job's relative path is
 *   resolved inside it (symlinks followed, never outside). Without it only `s3://` images are accepted.
 * - `s3` (default: AWS endpoints and the SDK's default credential chain):
 *   - `endpoint`: URL of an S3-compatible store (default AWS); `forcePathStyle` (default false);
 *   - `accessKeyIdEnv` / `secretAccessKeyEnv` / `sessionTokenEnv`: names of environment variables with
 *     static credentials (default: the SDK's chain — environment, profile, instance or task role);
 *   - `maxAttempts` (SDK attempts per request, default 3), `connectionTimeoutMs` (5 000),
 *     `requestTimeoutMs` (120 000), `socketTimeoutMs` (60 000), `maxSockets` (50);
 *   - `regions`: `{ "<region>": { …any of the settings above… } }` overriding them for one region;
 *   - `acl`: canned ACL of every object (default `aws-exec-read`; `public-read`, `ec2-bundle-read`);
 *   - `partsInFlight`: 10 MiB parts pending upload at once per job, 1–64 (default 4);
 *   - `retry`: `{ attempts, baseDelayMs, maxDelayMs }` of each S3 request on top of the SDK's
 *     (default 5 tries, 250 ms, 20 s — full-jitter exponential backoff);
 *   - `imageRegion`: region of the client that reads `s3://` images (default `us-east-1`).
 * - `ec2Certificates` (default: the certificates shipped in @bundlefarm/format): `{ "aws" | "aws-us-gov" |
 *   "aws-cn": "/path/cert.pem" }` — the EC2 certificate a partition's bundles are encrypted for, for a
 *   certificate rotation (or tests that hold the matching private key).
 * - `ec2` (default: AWS endpoints; the `s3` section's static credentials, else the SDK's chain): how
 *   published bundles are registered as AMIs (job specs' `register`) — see worker-ec2-config.ts:
 *   `endpoint`, `accessKeyIdEnv` / `secretAccessKeyEnv` / `sessionTokenEnv`, `maxAttempts`, and
 *   `regions: { "<region>": { … } }` overrides (an EC2-compatible endpoint per region, for tests).
 * - `concurrency` (default 1): jobs this process runs at once, 1–64. They share one CPU pool.
 * - `threads` (default: the number of cores): size of the process's CPU pool, 1–256.
 * - `progressIntervalMs` (default 1000): least time between two progress updates of a job, 100–60 000.
 * - `shutdownGraceMs` (default 30 000): on shutdown, how long running jobs may take to finish before
 *   they are stopped and handed back to the queue for another worker, 0–3 600 000.
 * - `lockDurationMs` (default 60 000): BullMQ job lock; renewed every eighth of it (at most every
 *   quarter) while a job runs (the CPU work is on the pool, so the event loop is free to),
 *   1 000–3 600 000. A worker that dies leaves its job to be picked up again after this long, up to
 *   twice as long (the stalled-job check runs every `min(lockDurationMs, 30 s)`). A Redis outage of up
 *   to half of it never costs a running job its lock (reconnects are bounded by it: docs/service.md,
 *   "Redis outages and job locks"); a longer one may (the job is then stopped here and retried).
 *   Values of a few seconds are for tests.
 * - `scratch` (jobs with `filesystem`: where their ext4 image is built): `{ dir, maxBytes }`.
 *   `dir` (default: the OS temp directory, e.g. /tmp; created if missing) gets one `bundlefarm-rootfs-*`
 *   subdirectory per build, removed when the build ends however it ends; those a killed worker left
 *   behind on this host are removed when the worker starts and at the start of every job. `maxBytes`
 *   (default 12 GiB: the 10 GiB an image may have, staging and slack; at least 64 MiB) is what one build
 *   may use there: the image (its allocated bytes, about the content) plus tarball files staged on their
 *   way into it (at most an eighth of `maxBytes`, 256 MiB at most). A job that would need more —
 *   `filesystem.sizeMiB` above it, an S3 or local tarball larger than it, a tree whose files need more
 *   — is refused before its filesystem is built (BF_SCRATCH_LIMIT, not retried); a tarball whose
 *   content turns out larger is stopped as soon as it passes the limit. Each job slot (`concurrency`)
 *   may use `maxBytes` at once: size the directory's filesystem for `concurrency × maxBytes`.
 * - `staging` (default: none): the staging area `s3://BUCKET/PREFIX` of uploaded images (the API's
 *   BUNDLEFARM_STAGING; its bucket is read with the `imageRegion` client). When a job whose image was
 *   uploaded there ends (completed, failed for good, cancelled), the worker deletes the image — only
 *   an object of the job's own principal carrying the API's upload mark (staged-image-cleanup.ts).
 * - `metricsPort` (default: none, no metrics server): serve `GET /metrics` (Prometheus text format:
 *   jobs running, pool threads busy, bytes per stage, part upload latency, retries, build info) on this
 *   port, 0–65 535 (0: any free port, logged at start-up). `metricsHost` (default `127.0.0.1`): the
 *   address it binds to. The page has no authentication: bind it to an internal address only.
 */
import { mkdir, readFile, realpath, stat } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { isBundlefarmError } from '@bundlefarm/errors';
import {
  assertCertificateMatchesKey,
  readCertificateFile,
  readPrivateKeyFile,
  type CertificateMaterial,
  type Partition,
  type UserIdentity,
} from '@bundlefarm/format';
import { BUNDLE_ACLS, checkRetryOptions, checkS3Settings, type RetryOptions, type S3BundleAcl, type S3Settings } from '@bundlefarm/s3';
import { DEFAULT_PREFIX } from '../queue-settings.js';
import { queuePrefixProblem, redactRedisUrl, redisUrlSchema, resolveQueuePrefix } from '../redis-url.js';
import { jobMacKey, MIN_JOB_MAC_KEY_LENGTH } from '../scopes/job-mac.js';
import { jobMaxAgeSetting, type JobMaxAgeSetting } from './job-max-age.js';
import { Principals } from '../scopes/principals.js';
import { parseStagingArea, stagingAreaUrl, type StagingArea } from '../staging/staging-area.js';
import { ec2ConfigSchema, resolveEc2Config, type WorkerEc2Config } from './worker-ec2-config.js';
import { WorkerConfigError, type ConfigProblem } from './worker-errors.js';

export interface WorkerConfig extends JobMaxAgeSetting {
  redisUrl: string;
  prefix: string;
  logLevel: LogLevel;
  /** Absolute path of the JSON file this came from. */
  configFile: string;
  /** Loaded signing identities by name (key matched to certificate). Never serialize or log. */
  identities: ReadonlyMap<string, UserIdentity>;
  /** Real path of the image root, when configured. */
  imageRoot: string | undefined;
  s3: WorkerS3Config;
  /** How to reach EC2 per region, to register AMIs. */
  ec2: WorkerEc2Config;
  /** EC2 certificates replacing the shipped ones, per partition. */
  ec2Certificates: Readonly<Partial<Record<Partition, CertificateMaterial>>>;
  concurrency: number;
  threads: number;
  progressIntervalMs: number;
  shutdownGraceMs: number;
  lockDurationMs: number;
  /** Where jobs with `filesystem` build their image, and the most bytes one build may use there. */
  scratch: { dir: string; maxBytes: number };
  /** Where the worker serves /metrics; undefined: it does not. */
  metrics?: { host: string; port: number } | undefined;
  /**
   * The principals jobs may name, from BUNDLEFARM_PRINCIPALS_FILE (the API's file). Undefined: jobs are
   * not checked against scopes (and the worker says so when it starts).
   */
  principals: Principals | undefined;
  /** Key of the job MAC (BUNDLEFARM_JOB_MAC_KEY); undefined: MACs are not checked. Never log. */
  jobMacKey: Buffer | undefined;
  /** The staging area of uploaded images (BUNDLEFARM_STAGING or `staging`); undefined: none, nothing is ever deleted. */
  staging?: StagingArea | undefined;
}

/** S3 connection settings without the region (that comes with each target). */
export type S3ConnectionSettings = Omit<S3Settings, 'region'>;

export interface WorkerS3Config {
  /** Settings of every region without an override. Credentials resolved from the environment. */
  defaults: S3ConnectionSettings;
  /** Complete settings (defaults merged with the override) of the regions that have one. */
  regions: Readonly<Record<string, S3ConnectionSettings>>;
  acl: S3BundleAcl;
  partsInFlight: number;
  retry: RetryOptions;
  imageRegion: string;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export const WORKER_ENV = {
  redisUrl: 'BUNDLEFARM_REDIS_URL',
  prefix: 'BUNDLEFARM_QUEUE_PREFIX',
  config: 'BUNDLEFARM_CONFIG',
  logLevel: 'BUNDLEFARM_LOG_LEVEL',
  metricsPort: 'BUNDLEFARM_WORKER_METRICS_PORT',
  metricsHost: 'BUNDLEFARM_WORKER_METRICS_HOST',
  principalsFile: 'BUNDLEFARM_PRINCIPALS_FILE',
  jobMacKey: 'BUNDLEFARM_JOB_MAC_KEY',
  staging: 'BUNDLEFARM_STAGING',
} as const;

export const WORKER_DEFAULTS = {
  redisUrl: 'redis://127.0.0.1:6379',
  prefix: DEFAULT_PREFIX,
  logLevel: 'info' as LogLevel,
  concurrency: 1,
  progressIntervalMs: 1000,
  shutdownGraceMs: 30_000,
  lockDurationMs: 60_000,
  acl: 'aws-exec-read' as S3BundleAcl,
  partsInFlight: 4,
  imageRegion: 'us-east-1',
  metricsHost: '127.0.0.1',
  scratchMaxBytes: 12 * 1024 ** 3,
} as const;

/** Smallest `scratch.maxBytes`: a 16 MiB image and its staging, with room to spare. */
export const MIN_SCRATCH_BYTES = 64 * 1024 * 1024;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// ---- schemas ------------------------------------------------------------------------------------

/** An IPv4 or IPv6 address, or a host name, to bind a server to. */
const hostSchema = z.string().regex(/^(?:[A-Za-z0-9.-]{1,253}|\[?[0-9A-Fa-f:.]{2,45}\]?)$/, 'must be an IP address or a host name, e.g. 127.0.0.1 or 0.0.0.0');

const whole = (min: number, max: number) => z.number().int(`must be a whole number from ${min} to ${max}`).min(min).max(max);

const envNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be the name of an environment variable (letters, digits, "_")');
const pathSchema = z.string().min(1, 'must be a file path').refine((s) => !s.includes('\0'), 'must not contain NUL');
/** AWS region names and the plain names S3-compatible stores use. */
const s3RegionSchema = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'must be a region name, e.g. us-east-1');

const s3ConnectionShape = {
  endpoint: z.string().optional(),
  forcePathStyle: z.boolean().optional(),
  accessKeyIdEnv: envNameSchema.optional(),
  secretAccessKeyEnv: envNameSchema.optional(),
  sessionTokenEnv: envNameSchema.optional(),
  maxAttempts: whole(1, 20).optional(),
  connectionTimeoutMs: whole(1, 600_000).optional(),
  requestTimeoutMs: whole(1, 3_600_000).optional(),
  socketTimeoutMs: whole(1, 3_600_000).optional(),
  maxSockets: whole(1, 1024).optional(),
};
const s3ConnectionSchema = z.object(s3ConnectionShape).strict();
type S3ConnectionInput = z.output<typeof s3ConnectionSchema>;

const fileSchema = z
  .object({
    identities: z
      .record(
        z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'identity names are 1–64 letters, digits, ".", "_" or "-"'),
        z.object({ key: pathSchema, cert: pathSchema, passphraseEnv: envNameSchema.optional() }).strict(),
      )
      .refine((ids) => Object.keys(ids).length > 0, 'configure at least one identity'),
    imageRoot: pathSchema.optional(),
    s3: z
      .object({
        ...s3ConnectionShape,
        regions: z.record(s3RegionSchema, s3ConnectionSchema).optional(),
        acl: z.enum(BUNDLE_ACLS as [S3BundleAcl, ...S3BundleAcl[]]).optional(),
        partsInFlight: whole(1, 64).optional(),
        retry: z.object({ attempts: whole(1, 20).optional(), baseDelayMs: whole(0, 600_000).optional(), maxDelayMs: whole(0, 3_600_000).optional() }).strict().optional(),
        imageRegion: s3RegionSchema.optional(),
      })
      .strict()
      .optional(),
    ec2: ec2ConfigSchema.optional(),
    ec2Certificates: z.object({ aws: pathSchema.optional(), 'aws-us-gov': pathSchema.optional(), 'aws-cn': pathSchema.optional() }).strict().optional(),
    concurrency: whole(1, 64).optional(),
    threads: whole(1, 256).optional(),
    progressIntervalMs: whole(100, 60_000).optional(),
    shutdownGraceMs: whole(0, 3_600_000).optional(),
    lockDurationMs: whole(1_000, 3_600_000).optional(),
    metricsPort: whole(0, 65_535).optional(),
    metricsHost: hostSchema.optional(),
    scratch: z
      .object({ dir: pathSchema.optional(), maxBytes: whole(MIN_SCRATCH_BYTES, Number.MAX_SAFE_INTEGER).optional() })
      .strict()
      .optional(),
    staging: z.string().min(1).optional(),
  })
  .strict();

type WorkerFile = z.output<typeof fileSchema>;

const envSchema = z.object({
  [WORKER_ENV.redisUrl]: redisUrlSchema.default(WORKER_DEFAULTS.redisUrl),
  [WORKER_ENV.prefix]: z
    .string()
    .regex(/^[A-Za-z0-9_{}.:-]{1,64}$/, 'must be 1–64 letters, digits and "_{}.:-" (e.g. bundlefarm or {bundlefarm})')
    .optional(),
  [WORKER_ENV.config]: z.string({ error: 'is required: the path of the worker configuration file (JSON)' }).min(1),
  [WORKER_ENV.logLevel]: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default(WORKER_DEFAULTS.logLevel),
  [WORKER_ENV.metricsPort]: z
    .string()
    .regex(/^\d{1,5}$/, 'must be a port number, 0-65535')
    .transform(Number)
    .refine((n) => n <= 65_535, 'must be a port number, 0-65535')
    .optional(),
  [WORKER_ENV.metricsHost]: hostSchema.optional(),
  [WORKER_ENV.principalsFile]: z.string().min(1).optional(),
  [WORKER_ENV.jobMacKey]: z.string().min(MIN_JOB_MAC_KEY_LENGTH, `must have at least ${MIN_JOB_MAC_KEY_LENGTH} characters`).optional(),
  [WORKER_ENV.staging]: z.string().min(1).optional(),
}).superRefine((e, ctx) => {
  // a Redis Cluster needs a hash tag in the prefix (redis-url.ts)
  const problem = queuePrefixProblem(e[WORKER_ENV.redisUrl], e[WORKER_ENV.prefix]);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [WORKER_ENV.prefix], message: problem });
});

function zodProblems(error: z.ZodError, prefix = ''): ConfigProblem[] {
  // never echo received values: a misplaced secret must not end up in an error message
  return error.issues.map((i) => ({ path: prefix + (i.path.map(String).join('.') || '(file)'), message: i.message }));
}

// ---- loading ------------------------------------------------------------------------------------

/** Reads the environment and the JSON file, loads keys and certificates; throws WorkerConfigError listing every problem. */
export async function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): Promise<WorkerConfig> {
  const problems: ConfigProblem[] = [];
  const picked = Object.fromEntries(Object.values(WORKER_ENV).flatMap((name) => (env[name] ? [[name, env[name]]] : [])));
  const envResult = envSchema.safeParse(picked);
  if (!envResult.success) problems.push(...zodProblems(envResult.error));

  const rawPath = env[WORKER_ENV.config];
  const configFile = rawPath ? resolve(rawPath) : undefined;
  let file: WorkerFile | undefined;
  if (configFile !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(configFile, 'utf8'));
    } catch (err) {
      const reason = (err as { code?: string }).code ?? (err instanceof SyntaxError ? `not valid JSON (${err.message})` : String(err));
      problems.push({ path: WORKER_ENV.config, message: `cannot read ${configFile}: ${reason}` });
    }
    if (json !== undefined) {
      const r = fileSchema.safeParse(json);
      if (r.success) file = r.data;
      else problems.push(...zodProblems(r.error));
    }
  }
  if (!envResult.success || file === undefined || configFile === undefined) throw new WorkerConfigError(problems, configFile);

  const base = dirname(configFile);
  const at = (p: string): string => resolve(base, p);
  // read in parallel, reported in a fixed order (loader by loader, each in the file's order), whichever read ends first
  const found: [ConfigProblem[], ConfigProblem[], ConfigProblem[], ConfigProblem[]] = [[], [], [], []];
  const principalsFile = envResult.data[WORKER_ENV.principalsFile];
  const [identities, ec2Certificates, imageRoot, principals, scratchDir] = await Promise.all([
    loadIdentities(file.identities, at, env, found[0]),
    loadEc2Certificates(file.ec2Certificates ?? {}, at, found[1]),
    file.imageRoot !== undefined ? checkImageRoot(at(file.imageRoot), found[2]) : Promise.resolve(undefined),
    principalsFile !== undefined ? loadPrincipals(principalsFile) : Promise.resolve(undefined),
    checkScratchDir(file.scratch?.dir !== undefined ? at(file.scratch.dir) : tmpdir(), found[3]),
  ]);
  problems.push(...found.flat());
  if (principals !== undefined && 'problem' in principals) problems.push(principals.problem);
  const s3 = resolveS3(file.s3 ?? {}, env, problems);
  const stagingUrl = envResult.data[WORKER_ENV.staging] ?? file.staging;
  let staging: StagingArea | undefined;
  if (stagingUrl !== undefined) {
    try {
      staging = parseStagingArea(stagingUrl, envResult.data[WORKER_ENV.staging] !== undefined ? WORKER_ENV.staging : 'staging');
    } catch (err) {
      problems.push({ path: envResult.data[WORKER_ENV.staging] !== undefined ? WORKER_ENV.staging : 'staging', message: describeError(err) });
    }
  }
  const ec2 = resolveEc2Config(file.ec2 ?? {}, s3.defaults.credentials, env, problems);
  if (problems.length > 0) throw new WorkerConfigError(problems, configFile);

  const e = envResult.data;
  const macKey = e[WORKER_ENV.jobMacKey];
  return {
    redisUrl: e[WORKER_ENV.redisUrl],
    prefix: resolveQueuePrefix(e[WORKER_ENV.redisUrl], e[WORKER_ENV.prefix]),
    logLevel: e[WORKER_ENV.logLevel],
    configFile,
    identities,
    imageRoot,
    s3,
    ec2,
    ec2Certificates,
    concurrency: file.concurrency ?? WORKER_DEFAULTS.concurrency,
    threads: file.threads ?? availableParallelism(),
    progressIntervalMs: file.progressIntervalMs ?? WORKER_DEFAULTS.progressIntervalMs,
    shutdownGraceMs: file.shutdownGraceMs ?? WORKER_DEFAULTS.shutdownGraceMs,
    lockDurationMs: file.lockDurationMs ?? WORKER_DEFAULTS.lockDurationMs,
    scratch: { dir: scratchDir ?? tmpdir(), maxBytes: file.scratch?.maxBytes ?? WORKER_DEFAULTS.scratchMaxBytes },
    metrics: metricsEndpoint(e[WORKER_ENV.metricsPort] ?? file.metricsPort, e[WORKER_ENV.metricsHost] ?? file.metricsHost),
    principals: principals !== undefined && 'value' in principals ? principals.value : undefined,
    jobMacKey: macKey !== undefined ? jobMacKey(macKey) : undefined,
    staging,
    ...jobMaxAgeSetting(env, configFile), // BUNDLEFARM_JOB_MAX_AGE (job-max-age.ts)
  };
}

async function loadPrincipals(path: string): Promise<Outcome<Principals>> {
  try {
    return { value: await Principals.load(resolve(path)) };
  } catch (err) {
    return { problem: { path: WORKER_ENV.principalsFile, message: describeError(err) } };
  }
}

function metricsEndpoint(port: number | undefined, host: string | undefined): WorkerConfig['metrics'] {
  return port === undefined ? undefined : { host: (host ?? WORKER_DEFAULTS.metricsHost).replace(/^\[(.*)\]$/, '$1'), port };
}

function describeError(err: unknown): string {
  if (isBundlefarmError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

type Outcome<T> = { value: T } | { problem: ConfigProblem };

/**
 * Loads every key at once; what loaded and the problems come out in the keys' order, whichever read ends
 * first, so neither depends on timing.
 */
async function loadInOrder<K extends string, T>(keys: K[], load: (key: K) => Promise<Outcome<T>>, problems: ConfigProblem[]): Promise<Map<K, T>> {
  const outcomes = await Promise.all(keys.map(load));
  const loaded = new Map<K, T>();
  outcomes.forEach((o, i) => ('value' in o ? loaded.set(keys[i]!, o.value) : problems.push(o.problem)));
  return loaded;
}

function loadIdentities(
  identities: WorkerFile['identities'],
  at: (p: string) => string,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
): Promise<Map<string, UserIdentity>> {
  return loadInOrder(
    Object.keys(identities),
    async (name): Promise<Outcome<UserIdentity>> => {
      const id = identities[name]!;
      const path = `identities.${name}`;
      let passphrase: string | undefined;
      if (id.passphraseEnv !== undefined) {
        passphrase = env[id.passphraseEnv];
        if (!passphrase) return { problem: { path: `${path}.passphraseEnv`, message: `environment variable ${id.passphraseEnv} is not set` } };
      }
      try {
        const [privateKey, certificate] = await Promise.all([readPrivateKeyFile(at(id.key), passphrase), readCertificateFile(at(id.cert))]);
        assertCertificateMatchesKey(certificate, privateKey);
        return { value: { privateKey, certificate } };
      } catch (err) {
        return { problem: { path, message: describeError(err) } };
      }
    },
    problems,
  );
}

async function loadEc2Certificates(
  paths: NonNullable<WorkerFile['ec2Certificates']>,
  at: (p: string) => string,
  problems: ConfigProblem[],
): Promise<Partial<Record<Partition, CertificateMaterial>>> {
  const partitions = (Object.keys(paths) as Partition[]).filter((partition) => paths[partition] !== undefined);
  const loaded = await loadInOrder(
    partitions,
    async (partition): Promise<Outcome<CertificateMaterial>> => {
      try {
        return { value: await readCertificateFile(at(paths[partition]!)) };
      } catch (err) {
        return { problem: { path: `ec2Certificates.${partition}`, message: describeError(err) } };
      }
    },
    problems,
  );
  return Object.fromEntries(loaded);
}

async function checkImageRoot(path: string, problems: ConfigProblem[]): Promise<string | undefined> {
  try {
    const real = await realpath(path);
    if (!(await stat(real)).isDirectory()) {
      problems.push({ path: 'imageRoot', message: `${path} is not a directory` });
      return undefined;
    }
    return real;
  } catch (err) {
    problems.push({ path: 'imageRoot', message: `${path} cannot be used: ${(err as { code?: string }).code ?? String(err)}` });
    return undefined;
  }
}

/** The scratch directory, created if missing (owner only), as a real path. */
async function checkScratchDir(path: string, problems: ConfigProblem[]): Promise<string | undefined> {
  try {
    await mkdir(path, { recursive: true, mode: 0o700 });
    const real = await realpath(path);
    if (!(await stat(real)).isDirectory()) {
      problems.push({ path: 'scratch.dir', message: `${path} is not a directory` });
      return undefined;
    }
    return real;
  } catch (err) {
    problems.push({ path: 'scratch.dir', message: `${path} cannot be used: ${(err as { code?: string }).code ?? String(err)}` });
    return undefined;
  }
}

function resolveS3(s3: NonNullable<WorkerFile['s3']>, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): WorkerS3Config {
  const { regions = {}, acl, partsInFlight, retry, imageRegion, ...defaults } = s3;
  const connection = (input: S3ConnectionInput, path: string, region: string): S3ConnectionSettings => {
    const { accessKeyIdEnv, secretAccessKeyEnv, sessionTokenEnv, ...rest } = input;
    const settings: S3ConnectionSettings = stripUndefined(rest);
    if ((accessKeyIdEnv === undefined) !== (secretAccessKeyEnv === undefined)) {
      problems.push({ path, message: 'give both accessKeyIdEnv and secretAccessKeyEnv, or neither (the SDK credential chain is used then)' });
    } else if (accessKeyIdEnv !== undefined && secretAccessKeyEnv !== undefined) {
      const value = (name: string, field: string): string | undefined => {
        const v = env[name];
        if (!v) problems.push({ path: `${path}.${field}`, message: `environment variable ${name} is not set` });
        return v || undefined;
      };
      const accessKeyId = value(accessKeyIdEnv, 'accessKeyIdEnv');
      const secretAccessKey = value(secretAccessKeyEnv, 'secretAccessKeyEnv');
      const sessionToken = sessionTokenEnv !== undefined ? value(sessionTokenEnv, 'sessionTokenEnv') : undefined;
      if (accessKeyId && secretAccessKey) settings.credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
    } else if (sessionTokenEnv !== undefined) {
      problems.push({ path: `${path}.sessionTokenEnv`, message: 'needs accessKeyIdEnv and secretAccessKeyEnv as well' });
    }
    try {
      checkS3Settings({ ...settings, region });
    } catch (err) {
      // InvalidOptionError messages name the setting, never a credential's value
      problems.push({ path, message: describeError(err) });
    }
    return settings;
  };
  const resolvedImageRegion = imageRegion ?? WORKER_DEFAULTS.imageRegion;
  const resolvedDefaults = connection(defaults, 's3', resolvedImageRegion);
  const resolvedRegions: Record<string, S3ConnectionSettings> = {};
  for (const [region, override] of Object.entries(regions)) {
    // an override inherits every setting it does not name (credential env names as a pair)
    const inheritsCredentials = override.accessKeyIdEnv === undefined && override.secretAccessKeyEnv === undefined;
    const merged: S3ConnectionInput = {
      ...defaults,
      ...stripUndefined(override),
      ...(inheritsCredentials
        ? {}
        : { accessKeyIdEnv: override.accessKeyIdEnv, secretAccessKeyEnv: override.secretAccessKeyEnv, sessionTokenEnv: override.sessionTokenEnv }),
    };
    resolvedRegions[region] = connection(merged, `s3.regions.${region}`, region);
  }
  let resolvedRetry: RetryOptions = retry ?? {};
  try {
    resolvedRetry = checkRetryOptions(stripUndefined(resolvedRetry));
  } catch (err) {
    problems.push({ path: 's3.retry', message: describeError(err) });
  }
  return {
    defaults: resolvedDefaults,
    regions: resolvedRegions,
    acl: acl ?? WORKER_DEFAULTS.acl,
    partsInFlight: partsInFlight ?? WORKER_DEFAULTS.partsInFlight,
    retry: resolvedRetry,
    imageRegion: resolvedImageRegion,
  };
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** S3 settings of `region`: its override if it has one, else the defaults. */
export function s3SettingsFor(config: WorkerS3Config, region: string): S3Settings {
  return { ...(config.regions[region] ?? config.defaults), region };
}

/** What the worker runs with, for its start-up log line: no key, passphrase, credential or Redis password. */
export function describeWorkerConfig(config: WorkerConfig): Record<string, unknown> {
  const endpoints = Object.fromEntries(
    Object.entries(config.s3.regions).flatMap(([region, s]) => (s.endpoint !== undefined ? [[region, s.endpoint]] : [])),
  );
  return {
    redis: redactRedisUrl(config.redisUrl),
    prefix: config.prefix,
    configFile: config.configFile,
    identities: [...config.identities.keys()],
    imageRoot: config.imageRoot ?? null,
    s3: {
      endpoint: config.s3.defaults.endpoint ?? 'aws',
      regionEndpoints: endpoints,
      staticCredentials: config.s3.defaults.credentials !== undefined,
      acl: config.s3.acl,
      partsInFlight: config.s3.partsInFlight,
    },
    ec2: {
      endpoint: config.ec2.defaults.endpoint ?? 'aws',
      regionEndpoints: Object.fromEntries(Object.entries(config.ec2.regions).flatMap(([region, s]) => (s.endpoint !== undefined ? [[region, s.endpoint]] : []))),
      staticCredentials: config.ec2.defaults.credentials !== undefined,
    },
    ec2CertificateOverrides: Object.keys(config.ec2Certificates),
    concurrency: config.concurrency,
    threads: config.threads,
    progressIntervalMs: config.progressIntervalMs,
    shutdownGraceMs: config.shutdownGraceMs,
    lockDurationMs: config.lockDurationMs,
    metrics: config.metrics ? `${config.metrics.host}:${config.metrics.port}` : 'off',
    scratch: config.scratch,
    principals: config.principals?.names ?? null,
    jobMac: config.jobMacKey !== undefined,
    staging: config.staging ? stagingAreaUrl(config.staging) : null,
  };
}

