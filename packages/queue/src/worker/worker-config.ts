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
 * | `BUNDLEFARM_JOB_MAX_AGE`  | `7d`                     | with the MAC key: a job issued longer ago than this (`90s`, `30m`, `12h`, `7d`, or seconds) is refused, so a finished job copied back into Redis does not run again |
 * | `BUNDLEFARM_STAGING`      | (file's `staging`; none) | the API's staging area `s3://BUCKET/PREFIX`: staged images of ended jobs are deleted (see staged-image-cleanup.ts) |
 *
 * An empty variable counts as unset. `BUNDLEFARM_REDIS_URL`, `BUNDLEFARM_QUEUE_PREFIX` and
 * `BUNDLEFARM_LOG_LEVEL` are the API's too, read the same way (surrounding blanks dropped), with the same
 * rule and default (../service-settings.ts).
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
 * Each section is declared, with its defaults on its fields, in its own file under config/:
 *
 * | keys | file |
 * |------|------|
 * | `identities`, `ec2Certificates` | config/signing-config.ts |
 * | `imageRoot`, `staging` (and `BUNDLEFARM_STAGING`) | config/image-sources-config.ts |
 * | `s3` | config/s3-config.ts (credentials: config/static-credentials.ts) |
 * | `ec2` | config/ec2-config.ts (credentials: config/static-credentials.ts) |
 * | `concurrency`, `threads`, `progressIntervalMs`, `shutdownGraceMs`, `lockDurationMs` | config/job-run-config.ts |
 * | `scratch` | config/scratch-config.ts |
 * | `metricsPort`, `metricsHost` (and `BUNDLEFARM_WORKER_METRICS_*`) | config/metrics-config.ts |
 * | `BUNDLEFARM_PRINCIPALS_FILE`, `BUNDLEFARM_JOB_MAC_KEY`, `BUNDLEFARM_JOB_MAX_AGE` | config/job-trust-config.ts |
 * | `BUNDLEFARM_REDIS_URL`, `BUNDLEFARM_QUEUE_PREFIX`, `BUNDLEFARM_LOG_LEVEL` | ../service-settings.ts |
 *
 * This file reads the environment and the file, has each section resolved and assembles WorkerConfig.
 */
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { redactRedisUrl, redisUrlSchema, resolveQueuePrefix } from '../redis-url.js';
import { jobMacKey } from '../scopes/job-mac.js';
import { logLevelSchema, queuePrefixIssue, queuePrefixSchema, SERVICE_DEFAULTS, SERVICE_ENV, serviceSettingFromEnv, type LogLevel } from '../service-settings.js';
import { stagingAreaUrl } from '../staging/staging-area.js';
import { pathSchema, zodProblems } from './config/config-primitives.js';
import { ec2ConfigSchema, resolveEc2Config, type WorkerEc2Config } from './config/ec2-config.js';
import { checkImageRoot, IMAGE_SOURCES_ENV, resolveStaging, stagingSchema, type ImageSourcesConfig } from './config/image-sources-config.js';
import { JOB_RUN_DEFAULTS, jobRunShape, resolveJobRunConfig, type JobRunConfig } from './config/job-run-config.js';
import { JOB_TRUST_ENV, jobTrustEnvShape, loadPrincipals, type JobTrustConfig } from './config/job-trust-config.js';
import { METRICS_DEFAULTS, METRICS_ENV, metricsEndpoint, metricsEnvShape, metricsFileShape, type MetricsConfig } from './config/metrics-config.js';
import { resolveS3Config, S3_DEFAULTS, s3ConfigSchema, type WorkerS3Config } from './config/s3-config.js';
import { checkScratchDir, SCRATCH_DEFAULTS, scratchSchema, type ScratchConfig } from './config/scratch-config.js';
import { ec2CertificatesSchema, identitiesSchema, loadEc2Certificates, loadIdentities, type SigningConfig } from './config/signing-config.js';
import { DEFAULT_JOB_MAX_AGE_MS } from './job-max-age.js';
import { WorkerConfigError, type ConfigProblem } from './worker-errors.js';

export { MIN_SCRATCH_BYTES } from './config/scratch-config.js';
export { s3SettingsFor, type S3ConnectionSettings, type WorkerS3Config } from './config/s3-config.js';
export type { LogLevel };

/** Everything a worker runs with; each section's fields are documented (with defaults) in its file. */
export interface WorkerConfig extends SigningConfig, ImageSourcesConfig, JobRunConfig, ScratchConfig, MetricsConfig, JobTrustConfig {
  /** BUNDLEFARM_REDIS_URL (default `redis://127.0.0.1:6379`; service-settings.ts). */
  redisUrl: string;
  /** BUNDLEFARM_QUEUE_PREFIX (default `bundlefarm`, `{bundlefarm}` with a Redis Cluster; service-settings.ts). */
  prefix: string;
  /** BUNDLEFARM_LOG_LEVEL (default `info`; service-settings.ts). */
  logLevel: LogLevel;
  /** Absolute path of the JSON file this came from (BUNDLEFARM_CONFIG, required). */
  configFile: string;
  /** `s3` (default: AWS endpoints and the SDK's default credential chain; config/s3-config.ts). */
  s3: WorkerS3Config;
  /** `ec2`: how to reach EC2 per region, to register AMIs (config/ec2-config.ts). */
  ec2: WorkerEc2Config;
}

export const WORKER_ENV = {
  redisUrl: SERVICE_ENV.redisUrl,
  prefix: SERVICE_ENV.queuePrefix,
  config: 'BUNDLEFARM_CONFIG',
  logLevel: SERVICE_ENV.logLevel,
  ...METRICS_ENV,
  ...JOB_TRUST_ENV,
  ...IMAGE_SOURCES_ENV,
} as const;

/** The defaults, gathered from the sections' files (where each is documented). */
export const WORKER_DEFAULTS = {
  redisUrl: SERVICE_DEFAULTS.redisUrl,
  prefix: SERVICE_DEFAULTS.queuePrefix,
  logLevel: SERVICE_DEFAULTS.logLevel,
  ...JOB_RUN_DEFAULTS,
  ...S3_DEFAULTS,
  ...METRICS_DEFAULTS,
  ...SCRATCH_DEFAULTS,
} as const;

// ---- schemas ------------------------------------------------------------------------------------

const fileSchema = z
  .object({
    identities: identitiesSchema,
    imageRoot: pathSchema.optional(),
    s3: s3ConfigSchema.optional(),
    ec2: ec2ConfigSchema.optional(),
    ec2Certificates: ec2CertificatesSchema.optional(),
    ...jobRunShape,
    ...metricsFileShape,
    scratch: scratchSchema.optional(),
    staging: stagingSchema.optional(),
  })
  .strict();

const envSchema = z.object({
  [WORKER_ENV.redisUrl]: redisUrlSchema.default(WORKER_DEFAULTS.redisUrl),
  [WORKER_ENV.prefix]: queuePrefixSchema.optional(),
  [WORKER_ENV.config]: z.string({ error: 'is required: the path of the worker configuration file (JSON)' }).min(1),
  [WORKER_ENV.logLevel]: logLevelSchema.default(WORKER_DEFAULTS.logLevel),
  ...metricsEnvShape,
  ...jobTrustEnvShape,
  [WORKER_ENV.staging]: stagingSchema.optional(),
}).superRefine((e, ctx) => {
  // a Redis Cluster needs a hash tag in the prefix (service-settings.ts)
  queuePrefixIssue(e[WORKER_ENV.redisUrl], e[WORKER_ENV.prefix], ctx, [WORKER_ENV.prefix]);
});

const SERVICE_SETTINGS = new Set<string>(Object.values(SERVICE_ENV));
const isServiceSetting = (name: string): name is (typeof SERVICE_ENV)[keyof typeof SERVICE_ENV] => SERVICE_SETTINGS.has(name);

// ---- loading ------------------------------------------------------------------------------------

/** Reads the environment and the JSON file, loads keys and certificates; throws WorkerConfigError listing every problem. */
export async function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): Promise<WorkerConfig> {
  const problems: ConfigProblem[] = [];
  const picked = Object.fromEntries(
    Object.values(WORKER_ENV).flatMap((name) => {
      // blanks around a value are dropped, as the API does (a MAC key pasted with a newline is the same key)
      const value = isServiceSetting(name) ? serviceSettingFromEnv(env, name) : env[name]?.trim();
      return value ? [[name, value]] : [];
    }),
  );
  const envResult = envSchema.safeParse(picked);
  if (!envResult.success) problems.push(...zodProblems(envResult.error));

  const rawPath = env[WORKER_ENV.config];
  const configFile = rawPath ? resolve(rawPath) : undefined;
  let file: z.output<typeof fileSchema> | undefined;
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

  const e = envResult.data;
  const base = dirname(configFile);
  const at = (p: string): string => resolve(base, p);
  // read in parallel, reported in a fixed order (loader by loader, each in the file's order), whichever read ends first
  const found: [ConfigProblem[], ConfigProblem[], ConfigProblem[], ConfigProblem[]] = [[], [], [], []];
  const principalsFile = e[WORKER_ENV.principalsFile];
  const [identities, ec2Certificates, imageRoot, principals, scratchDir] = await Promise.all([
    loadIdentities(file.identities, at, env, found[0]),
    loadEc2Certificates(file.ec2Certificates ?? {}, at, found[1]),
    file.imageRoot !== undefined ? checkImageRoot(at(file.imageRoot), found[2]) : Promise.resolve(undefined),
    principalsFile !== undefined ? loadPrincipals(principalsFile) : Promise.resolve(undefined),
    checkScratchDir(file.scratch?.dir !== undefined ? at(file.scratch.dir) : tmpdir(), found[3]),
  ]);
  problems.push(...found.flat());
  if (principals !== undefined && 'problem' in principals) problems.push(principals.problem);
  const s3 = resolveS3Config(file.s3 ?? {}, env, problems);
  const staging = resolveStaging(e[WORKER_ENV.staging], file.staging, problems);
  const ec2 = resolveEc2Config(file.ec2 ?? {}, s3.defaults.credentials, env, problems);
  if (problems.length > 0) throw new WorkerConfigError(problems, configFile);

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
    ...resolveJobRunConfig(file),
    scratch: { dir: scratchDir ?? tmpdir(), maxBytes: file.scratch?.maxBytes ?? WORKER_DEFAULTS.scratchMaxBytes },
    metrics: metricsEndpoint(e[WORKER_ENV.metricsPort] ?? file.metricsPort, e[WORKER_ENV.metricsHost] ?? file.metricsHost),
    principals: principals !== undefined && 'value' in principals ? principals.value : undefined,
    jobMacKey: macKey !== undefined ? jobMacKey(macKey) : undefined,
    jobMaxAgeMs: e[WORKER_ENV.jobMaxAge] ?? DEFAULT_JOB_MAX_AGE_MS,
    staging,
  };
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

