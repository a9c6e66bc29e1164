/**
 * How to reach EC2 in one region (or an EC2-compatible endpoint, such as the tests' stand-in), checked
 * with zod by `checkEc2Settings` before a client is built. Error messages name the setting, never a
 * credential's value.
 */
import { z } from 'zod';
import { InvalidOptionError } from '@bundlefarm/errors';

export interface Ec2Settings {
  /** Region the images are registered in, e.g. `eu-west-1` (required). */
  region: string;
  /** Endpoint URL (`http(s)://host[:port]`). Default: AWS's EC2 endpoint of the region. */
  endpoint?: string;
  /** Static credentials. Default: the SDK's chain (environment, profile, SSO, instance or task role). */
  credentials?: Ec2StaticCredentials;
  /** Attempts per request made by the SDK, 1–20 (default 3): it retries throttling, 5xx and dropped connections. */
  maxAttempts?: number;
  /** Milliseconds to establish a connection (default 5 000). */
  connectionTimeoutMs?: number;
  /** Milliseconds from sending a request until its answer (default 60 000). */
  requestTimeoutMs?: number;
}

export interface Ec2StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const EC2_SETTINGS_DEFAULTS = {
  maxAttempts: 3,
  connectionTimeoutMs: 5_000,
  requestTimeoutMs: 60_000,
} as const;

export type ResolvedEc2Settings = Required<Omit<Ec2Settings, 'endpoint' | 'credentials'>> & Pick<Ec2Settings, 'endpoint' | 'credentials'>;

const trimmed = (field: string) => z.string().min(1, `${field} is empty`).refine((s) => s.trim() === s, `${field} has surrounding spaces`);

const endpointSchema = z.string().superRefine((endpoint, ctx) => {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'is not a URL (expected http(s)://host[:port])' });
    return;
  }
  // never echo an endpoint that carries a password
  if (url.username !== '' || url.password !== '') ctx.addIssue({ code: 'custom', message: 'must not contain credentials; use the credentials setting' });
  else if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `${JSON.stringify(endpoint)} is not an http(s) URL` });
  else if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(endpoint)} must be just scheme, host and port (no path or query)` });
  }
});

const whole = (min: number, max: number) => z.number().int(`must be a whole number from ${min} to ${max}`).min(min, `must be a whole number from ${min} to ${max}`).max(max, `must be a whole number from ${min} to ${max}`);

export const ec2SettingsSchema = z
  .object({
    region: z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/, 'is not an AWS region name (e.g. us-east-1)'),
    endpoint: endpointSchema.optional(),
    credentials: z
      .object({ accessKeyId: trimmed('accessKeyId'), secretAccessKey: trimmed('secretAccessKey'), sessionToken: trimmed('sessionToken').optional() })
      .strict()
      .optional(),
    maxAttempts: whole(1, 20).default(EC2_SETTINGS_DEFAULTS.maxAttempts),
    connectionTimeoutMs: whole(1, 600_000).default(EC2_SETTINGS_DEFAULTS.connectionTimeoutMs),
    requestTimeoutMs: whole(1, 3_600_000).default(EC2_SETTINGS_DEFAULTS.requestTimeoutMs),
  })
  .strict();

/** Validates settings and fills in the defaults. Throws InvalidOptionError naming the first bad setting. */
export function checkEc2Settings(settings: Ec2Settings): ResolvedEc2Settings {
  const r = ec2SettingsSchema.safeParse(settings);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  // the path names the setting; zod's messages here never include the received value
  throw new InvalidOptionError(`EC2 ${issue.path.map(String).join('.') || 'settings'}`, issue.message);
}
