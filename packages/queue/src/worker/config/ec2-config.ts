/**
 * The `ec2` section of the worker configuration file: how the worker reaches EC2 to register published
 * bundles as AMIs (job specs' `register`). Everything is optional:
 *
 * ```json
 * "ec2": {
 *   "endpoint": "https://ec2.example.internal",            // default: AWS's endpoint of each region
 *   "accessKeyIdEnv": "EC2_KEY_ID", "secretAccessKeyEnv": "EC2_SECRET", "sessionTokenEnv": "EC2_TOKEN",
 *   "maxAttempts": 3,                                      // SDK attempts per request, 1–20
 *   "regions": { "us-gov-west-1": { "endpoint": "…", "accessKeyIdEnv": "…", "secretAccessKeyEnv": "…" } }
 * }
 * ```
 *
 * Credentials: the variables named here; when the section names none, the `s3` section's static
 * credentials (the account that uploaded a bundle registers it); when neither does, the SDK's default
 * chain (environment, profile, instance or task role). A region's override inherits every setting it
 * does not name. Like the rest of the file, it holds names of variables, never secrets.
 */
import { z } from 'zod';
import { checkEc2Settings, type Ec2Settings, type Ec2StaticCredentials } from '@bundlefarm/ec2';
import { isBundlefarmError } from '@bundlefarm/errors';
import type { ConfigProblem } from '../worker-errors.js';
import { stripUndefined, whole } from './config-primitives.js';
import { credentialEnvShape, credentialsFromEnv, namesNoCredentials, withOverride } from './static-credentials.js';

const ec2ConnectionShape = {
  endpoint: z.string().optional(),
  ...credentialEnvShape,
  maxAttempts: whole(1, 20).optional(),
  connectionTimeoutMs: whole(1, 600_000).optional(),
  requestTimeoutMs: whole(1, 3_600_000).optional(),
};
const ec2ConnectionSchema = z.object(ec2ConnectionShape).strict();
type Ec2ConnectionInput = z.output<typeof ec2ConnectionSchema>;

export const ec2ConfigSchema = z
  .object({
    ...ec2ConnectionShape,
    regions: z.record(z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/, 'must be an AWS region name, e.g. us-east-1'), ec2ConnectionSchema).optional(),
  })
  .strict();

export type Ec2ConfigInput = z.output<typeof ec2ConfigSchema>;

/** EC2 connection settings without the region. */
export type Ec2ConnectionSettings = Omit<Ec2Settings, 'region'>;

export interface WorkerEc2Config {
  /** Settings of every region without an override (default: AWS endpoints; credentials as in the overview). */
  defaults: Ec2ConnectionSettings;
  /** Complete settings (defaults merged with the override) of the regions that have one. */
  regions: Readonly<Record<string, Ec2ConnectionSettings>>;
}

/** Resolves the section (credentials from `env`); problems go to `problems` with their JSON path. */
export function resolveEc2Config(input: Ec2ConfigInput, s3Credentials: Ec2StaticCredentials | undefined, env: NodeJS.ProcessEnv, problems: ConfigProblem[]): WorkerEc2Config {
  const { regions = {}, ...defaults } = input;
  const connection = (c: Ec2ConnectionInput, path: string, region: string): Ec2ConnectionSettings => {
    const { accessKeyIdEnv, secretAccessKeyEnv, sessionTokenEnv, ...rest } = c;
    const settings: Ec2ConnectionSettings = stripUndefined(rest);
    const names = { accessKeyIdEnv, secretAccessKeyEnv, sessionTokenEnv };
    const credentials = namesNoCredentials(names) ? s3Credentials : credentialsFromEnv(names, env, path, problems);
    if (credentials !== undefined) settings.credentials = { ...credentials };
    try {
      checkEc2Settings({ ...settings, region });
    } catch (err) {
      // messages name the setting, never a credential's value
      problems.push({ path, message: isBundlefarmError(err) ? `${err.code}: ${err.message}` : String(err) });
    }
    return settings;
  };
  const resolvedDefaults = connection(defaults, 'ec2', 'us-east-1');
  const resolvedRegions: Record<string, Ec2ConnectionSettings> = {};
  for (const [region, override] of Object.entries(regions)) {
    resolvedRegions[region] = connection(withOverride<Ec2ConnectionInput>(defaults, override), `ec2.regions.${region}`, region);
  }
  return { defaults: resolvedDefaults, regions: resolvedRegions };
}

/** EC2 settings of `region`: its override if it has one, else the defaults. */
export function ec2SettingsFor(config: WorkerEc2Config, region: string): Ec2Settings {
  return { ...(config.regions[region] ?? config.defaults), region };
}
