/*
 * The env file of a local service (`DATA_DIR/local.env`, mode 0600): its secrets — API token, Bull
 * Board admin password, job MAC key, the local S3's key pair — generated on the first start and kept
 * across runs (a token given to a script stays valid), and where this run listens. A shell loads it
 * with `set -a; . DATA_DIR/local.env; set +a`; `bundlefarm enqueue` then finds BUNDLEFARM_API_URL and
 * BUNDLEFARM_API_TOKEN, and `bundlefarm demo --service` finds the running service.
 *
 * Values are written in single quotes, which a shell takes literally: a value holding a quote or a
 * line break (a data directory named so) is refused rather than written.
 */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateToken } from '@bundlefarm/queue';
import { LocalServiceError } from './local-service-error.js';

export const LOCAL_ENV_FILE = 'local.env';

export interface LocalSecrets {
  apiToken: string;
  adminUser: string;
  adminPassword: string;
  jobMacKey: string;
  s3AccessKeyId: string;
  s3SecretAccessKey: string;
}

/** What the file says besides the secrets. */
export interface LocalServiceAddresses {
  apiUrl: string;
  /** Region → S3 endpoint. */
  s3Endpoints: Readonly<Record<string, string>>;
  buckets: ReadonlyArray<{ name: string; region: string }>;
  dataDir: string;
  imageRoot: string;
  identity: string;
  identityKey: string;
  identityCert: string;
}

export type LocalEnv = LocalSecrets & LocalServiceAddresses;

const UNSAFE_VALUE = /['\n\r\0]/;

const KEYS = {
  apiUrl: 'BUNDLEFARM_API_URL',
  apiToken: 'BUNDLEFARM_API_TOKEN',
  adminUser: 'BUNDLEFARM_ADMIN_USER',
  adminPassword: 'BUNDLEFARM_ADMIN_PASSWORD',
  jobMacKey: 'BUNDLEFARM_JOB_MAC_KEY',
  s3AccessKeyId: 'BUNDLEFARM_LOCAL_S3_ACCESS_KEY_ID',
  s3SecretAccessKey: 'BUNDLEFARM_LOCAL_S3_SECRET_ACCESS_KEY',
  s3Endpoints: 'BUNDLEFARM_LOCAL_S3_ENDPOINTS',
  buckets: 'BUNDLEFARM_LOCAL_BUCKETS',
  dataDir: 'BUNDLEFARM_LOCAL_DATA_DIR',
  imageRoot: 'BUNDLEFARM_LOCAL_IMAGE_ROOT',
  identity: 'BUNDLEFARM_LOCAL_IDENTITY',
  identityKey: 'BUNDLEFARM_LOCAL_IDENTITY_KEY',
  identityCert: 'BUNDLEFARM_LOCAL_IDENTITY_CERT',
} as const satisfies Record<keyof LocalEnv, string>;

/** The variables of an env file (KEY=VALUE lines; comments and anything else ignored). */
export async function readEnvFile(path: string): Promise<Record<string, string> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw err;
  }
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(?:'([^']*)'|([^'"\s$`\\]*))$/.exec(line.trim());
    if (m) vars[m[1]!] = m[2] ?? m[3]!;
  }
  return vars;
}

/** The secrets kept in `dataDir`'s env file, or new ones (`generated`: true when any had to be made). */
export async function loadOrMakeSecrets(dataDir: string): Promise<{ secrets: LocalSecrets; generated: boolean }> {
  const vars = (await readEnvFile(join(dataDir, LOCAL_ENV_FILE))) ?? {};
  const keep = (key: string, min: number): string | undefined => {
    const v = vars[key];
    return v !== undefined && v.length >= min ? v : undefined;
  };
  const kept = {
    apiToken: keep(KEYS.apiToken, 32),
    adminUser: keep(KEYS.adminUser, 1),
    adminPassword: keep(KEYS.adminPassword, 16),
    jobMacKey: keep(KEYS.jobMacKey, 32),
    s3AccessKeyId: keep(KEYS.s3AccessKeyId, 16),
    s3SecretAccessKey: keep(KEYS.s3SecretAccessKey, 32),
  };
  const secrets: LocalSecrets = {
    apiToken: kept.apiToken ?? generateToken(),
    adminUser: kept.adminUser ?? 'admin',
    adminPassword: kept.adminPassword ?? randomBytes(18).toString('base64url'),
    jobMacKey: kept.jobMacKey ?? randomBytes(32).toString('hex'),
    s3AccessKeyId: kept.s3AccessKeyId ?? `AKIALOCAL${randomBytes(6).toString('hex').toUpperCase()}`,
    s3SecretAccessKey: kept.s3SecretAccessKey ?? randomBytes(30).toString('base64url'),
  };
  return { secrets, generated: Object.values(kept).some((v) => v === undefined) };
}

/** Writes the env file (0600; replaced whole, never left half-written). */
export async function writeLocalEnv(dataDir: string, env: LocalEnv): Promise<string> {
  const path = join(dataDir, LOCAL_ENV_FILE);
  const value = (key: keyof LocalEnv): string => {
    const v = env[key];
    if (key === 's3Endpoints') return Object.entries(v as Record<string, string>).map(([r, e]) => `${r}=${e}`).join(',');
    if (key === 'buckets') return (v as LocalEnv['buckets']).map((b) => `${b.name}:${b.region}`).join(',');
    return v as string;
  };
  const lines = [
    '# bundlefarm serve --local: this local service\'s secrets (made on its first start, kept across runs)',
    '# and where it listens now. Keep it private (mode 0600). Load it into a shell:',
    `#   set -a; . '${path}'; set +a`,
    ...(Object.keys(KEYS) as Array<keyof LocalEnv>).map((key) => {
      const v = value(key);
      if (UNSAFE_VALUE.test(v)) throw new LocalServiceError(`${KEYS[key]} holds a quote or a line break, which the env file cannot keep: use a data directory without them`);
      return `${KEYS[key]}='${v}'`;
    }),
    '',
  ];
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, lines.join('\n'), { mode: 0o600 });
  await chmod(temp, 0o600);
  await rename(temp, path);
  return path;
}

/** The local service described by `dataDir`'s env file, when there is one with everything in it. */
export async function readLocalEnv(dataDir: string): Promise<LocalEnv | undefined> {
  const vars = await readEnvFile(join(dataDir, LOCAL_ENV_FILE));
  if (!vars) return undefined;
  const get = (key: keyof LocalEnv): string | undefined => vars[KEYS[key]];
  const missing = (Object.keys(KEYS) as Array<keyof LocalEnv>).filter((k) => get(k) === undefined || get(k) === '');
  if (missing.length > 0) return undefined;
  return {
    apiUrl: get('apiUrl')!,
    apiToken: get('apiToken')!,
    adminUser: get('adminUser')!,
    adminPassword: get('adminPassword')!,
    jobMacKey: get('jobMacKey')!,
    s3AccessKeyId: get('s3AccessKeyId')!,
    s3SecretAccessKey: get('s3SecretAccessKey')!,
    s3Endpoints: Object.fromEntries(
      get('s3Endpoints')!
        .split(',')
        .map((pair) => {
          const i = pair.indexOf('=');
          return [pair.slice(0, i), pair.slice(i + 1)];
        }),
    ),
    buckets: get('buckets')!
      .split(',')
      .map((pair) => {
        const [name, region] = pair.split(':');
        return { name: name!, region: region! };
      }),
    dataDir: get('dataDir')!,
    imageRoot: get('imageRoot')!,
    identity: get('identity')!,
    identityKey: get('identityKey')!,
    identityCert: get('identityCert')!,
  };
}
