/**
 * Static credentials named in the worker configuration, for the `s3` and `ec2` sections alike: a
 * section (or a region's override) names the *environment variables* holding an access key id, a
 * secret and optionally a session token, and they are read from the environment here — the file never
 * holds a secret. Both names or neither; a session token only with them. A region's override inherits
 * every setting it does not name, the credential names as a pair.
 */
import type { ConfigProblem } from '../worker-errors.js';
import { envNameSchema } from './config-primitives.js';

/** The credential fields of a section or override (zod shape). */
export const credentialEnvShape = {
  accessKeyIdEnv: envNameSchema.optional(),
  secretAccessKeyEnv: envNameSchema.optional(),
  sessionTokenEnv: envNameSchema.optional(),
};

/** Names of the environment variables holding a section's credentials. */
export interface CredentialEnvNames {
  accessKeyIdEnv?: string | undefined;
  secretAccessKeyEnv?: string | undefined;
  sessionTokenEnv?: string | undefined;
}

export interface StaticCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * The credentials `names` point to, read from `env`: undefined when the section names none (the caller
 * falls back, e.g. to the SDK's chain) or when they cannot be read — then `problems` say why, at `path`.
 * `neither` completes the message for a half-named pair (what naming neither means for this section).
 */
export function credentialsFromEnv(
  names: CredentialEnvNames,
  env: NodeJS.ProcessEnv,
  path: string,
  problems: ConfigProblem[],
  neither = '',
): StaticCredentials | undefined {
  const { accessKeyIdEnv, secretAccessKeyEnv, sessionTokenEnv } = names;
  if ((accessKeyIdEnv === undefined) !== (secretAccessKeyEnv === undefined)) {
    problems.push({ path, message: `give both accessKeyIdEnv and secretAccessKeyEnv, or neither${neither}` });
    return undefined;
  }
  if (accessKeyIdEnv === undefined || secretAccessKeyEnv === undefined) {
    if (sessionTokenEnv !== undefined) problems.push({ path: `${path}.sessionTokenEnv`, message: 'needs accessKeyIdEnv and secretAccessKeyEnv as well' });
    return undefined;
  }
  const value = (name: string, field: string): string | undefined => {
    const v = env[name];
    if (!v) problems.push({ path: `${path}.${field}`, message: `environment variable ${name} is not set` });
    return v || undefined;
  };
  const accessKeyId = value(accessKeyIdEnv, 'accessKeyIdEnv');
  const secretAccessKey = value(secretAccessKeyEnv, 'secretAccessKeyEnv');
  const sessionToken = sessionTokenEnv !== undefined ? value(sessionTokenEnv, 'sessionTokenEnv') : undefined;
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined;
}

/** Whether a section names no credential variable at all. */
export function namesNoCredentials(names: CredentialEnvNames): boolean {
  return names.accessKeyIdEnv === undefined && names.secretAccessKeyEnv === undefined && names.sessionTokenEnv === undefined;
}

/**
 * A region's settings: `defaults` with what `override` names; the credential names go as a pair (an
 * override naming its own key id and secret does not inherit the defaults' session token).
 */
export function withOverride<T extends CredentialEnvNames>(defaults: T, override: T): T {
  const inheritsCredentials = override.accessKeyIdEnv === undefined && override.secretAccessKeyEnv === undefined;
  const named = Object.fromEntries(Object.entries(override).filter(([, v]) => v !== undefined)) as T;
  return {
    ...defaults,
    ...named,
    ...(inheritsCredentials ? {} : { accessKeyIdEnv: override.accessKeyIdEnv, secretAccessKeyEnv: override.secretAccessKeyEnv, sessionTokenEnv: override.sessionTokenEnv }),
  };
}
