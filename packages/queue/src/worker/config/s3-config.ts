/**
 * The `s3` section of the worker configuration file: how the worker reaches S3 to upload bundles (and
 * read `s3://` images, with the `imageRegion` client). Everything is optional; default: AWS endpoints and
 * the SDK's default credential chain.
 *
 * ```json
 * "s3": {
 *   "endpoint": "https://s3.example.internal", "forcePathStyle": true,
 *   "accessKeyIdEnv": "BUNDLEFARM_S3_KEY_ID", "secretAccessKeyEnv": "BUNDLEFARM_S3_SECRET", "sessionTokenEnv": "…",
 *   "maxAttempts": 3, "connectionTimeoutMs": 5000, "requestTimeoutMs": 120000, "socketTimeoutMs": 60000, "maxSockets": 50,
 *   "regions": { "us-gov-west-1": { "accessKeyIdEnv": "GOV_KEY_ID", "secretAccessKeyEnv": "GOV_SECRET" } },
 *   "acl": "aws-exec-read", "partsInFlight": 4,
 *   "retry": { "attempts": 5, "baseDelayMs": 250, "maxDelayMs": 20000 },
 *   "imageRegion": "us-east-1"
 * }
 * ```
 *
 * The connection settings (`endpoint`, `forcePathStyle` (default false), the credential variable names
 * (static-credentials.ts; default the SDK's chain — environment, profile, instance or task role),
 * `maxAttempts` (SDK attempts per request, default 3), `connectionTimeoutMs` (5 000), `requestTimeoutMs`
 * (120 000), `socketTimeoutMs` (60 000), `maxSockets` (50)) apply to every region; `regions` overrides
 * any of them for one region. The rest is documented on WorkerS3Config's fields.
 */
import { z } from 'zod';
import { BUNDLE_ACLS, checkRetryOptions, checkS3Settings, type RetryOptions, type S3BundleAcl, type S3Settings } from '@bundlefarm/s3';
import type { ConfigProblem } from '../worker-errors.js';
import { describeError, stripUndefined, whole } from './config-primitives.js';
import { credentialEnvShape, credentialsFromEnv, withOverride } from './static-credentials.js';

/** S3 connection settings without the region (that comes with each target). */
export type S3ConnectionSettings = Omit<S3Settings, 'region'>;

export interface WorkerS3Config {
  /** Settings of every region without an override. Credentials resolved from the environment. */
  defaults: S3ConnectionSettings;
  /** Complete settings (defaults merged with the override) of the regions that have one. */
  regions: Readonly<Record<string, S3ConnectionSettings>>;
  /** Canned ACL of every object: `acl`, default `aws-exec-read` (also `public-read`, `ec2-bundle-read`). */
  acl: S3BundleAcl;
  /** 10 MiB parts pending upload at once per job: `partsInFlight`, 1–64, default 4. */
  partsInFlight: number;
  /**
   * Retries of each S3 request on top of the SDK's: `retry: { attempts, baseDelayMs, maxDelayMs }`,
   * default 5 tries, 250 ms, 20 s (full-jitter exponential backoff; see @bundlefarm/s3 checkRetryOptions).
   */
  retry: RetryOptions;
  /** Region of the client that reads `s3://` images (and the staging area): `imageRegion`, default `us-east-1`. */
  imageRegion: string;
}

export const S3_DEFAULTS = {
  acl: 'aws-exec-read' as S3BundleAcl,
  partsInFlight: 4,
  imageRegion: 'us-east-1',
} as const;

/** AWS region names and the plain names S3-compatible stores use. */
const s3RegionSchema = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'must be a region name, e.g. us-east-1');

const s3ConnectionShape = {
  endpoint: z.string().optional(),
  forcePathStyle: z.boolean().optional(),
  ...credentialEnvShape,
  maxAttempts: whole(1, 20).optional(),
  connectionTimeoutMs: whole(1, 600_000).optional(),
  requestTimeoutMs: whole(1, 3_600_000).optional(),
  socketTimeoutMs: whole(1, 3_600_000).optional(),
  maxSockets: whole(1, 1024).optional(),
};
const s3ConnectionSchema = z.object(s3ConnectionShape).strict();
type S3ConnectionInput = z.output<typeof s3ConnectionSchema>;

export const s3ConfigSchema = z
  .object({
    ...s3ConnectionShape,
    regions: z.record(s3RegionSchema, s3ConnectionSchema).optional(),
    acl: z.enum(BUNDLE_ACLS as [S3BundleAcl, ...S3BundleAcl[]]).optional(),
    partsInFlight: whole(1, 64).optional(),
    retry: z.object({ attempts: whole(1, 20).optional(), baseDelayMs: whole(0, 600_000).optional(), maxDelayMs: whole(0, 3_600_000).optional() }).strict().optional(),
    imageRegion: s3RegionSchema.optional(),
  })
  .strict();

export type S3ConfigInput = z.output<typeof s3ConfigSchema>;

/** Resolves the section (credentials from `env`); problems go to `problems` with their JSON path. */
export function resolveS3Config(s3: S3ConfigInput, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): WorkerS3Config {
  const { regions = {}, acl, partsInFlight, retry, imageRegion, ...defaults } = s3;
  const connection = (input: S3ConnectionInput, path: string, region: string): S3ConnectionSettings => {
    const { accessKeyIdEnv, secretAccessKeyEnv, sessionTokenEnv, ...rest } = input;
    const settings: S3ConnectionSettings = stripUndefined(rest);
    const credentials = credentialsFromEnv({ accessKeyIdEnv, secretAccessKeyEnv, sessionTokenEnv }, env, path, problems, ' (the SDK credential chain is used then)');
    if (credentials !== undefined) settings.credentials = credentials;
    try {
      checkS3Settings({ ...settings, region });
    } catch (err) {
      // InvalidOptionError messages name the setting, never a credential's value
      problems.push({ path, message: describeError(err) });
    }
    return settings;
  };
  const resolvedImageRegion = imageRegion ?? S3_DEFAULTS.imageRegion;
  const resolvedDefaults = connection(defaults, 's3', resolvedImageRegion);
  const resolvedRegions: Record<string, S3ConnectionSettings> = {};
  for (const [region, override] of Object.entries(regions)) {
    resolvedRegions[region] = connection(withOverride<S3ConnectionInput>(defaults, override), `s3.regions.${region}`, region);
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
    acl: acl ?? S3_DEFAULTS.acl,
    partsInFlight: partsInFlight ?? S3_DEFAULTS.partsInFlight,
    retry: resolvedRetry,
    imageRegion: resolvedImageRegion,
  };
}

/** S3 settings of `region`: its override if it has one, else the defaults. */
export function s3SettingsFor(config: WorkerS3Config, region: string): S3Settings {
  return { ...(config.regions[region] ?? config.defaults), region };
}
