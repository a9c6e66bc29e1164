/**
 * The key material of the worker configuration file: the signing identities jobs may name, and the EC2
 * certificates bundles are encrypted for. Keys are loaded and matched against their certificates at
 * start-up, so a misconfigured worker fails before it takes a job; they stay in this process's memory.
 *
 * ```json
 * "identities": { "release": { "key": "keys/release-key.pem", "cert": "keys/release-cert.pem", "passphraseEnv": "RELEASE_KEY_PASSPHRASE" } },
 * "ec2Certificates": { "aws": "/etc/bundlefarm/cert-ec2-2026.pem" }
 * ```
 */
import { z } from 'zod';
import {
  assertCertificateMatchesKey,
  readCertificateFile,
  readPrivateKeyFile,
  type CertificateMaterial,
  type Partition,
  type UserIdentity,
} from '@bundlefarm/format';
import type { ConfigProblem } from '../worker-errors.js';
import { describeError, envNameSchema, loadInOrder, pathSchema, type Outcome } from './config-primitives.js';

export interface SigningConfig {
  /**
   * `identities` (required, at least one): the signing identities jobs may name (`spec.identity`), by
   * name, each loaded from `{ key, cert, passphraseEnv? }` — a PEM private key, its X.509 certificate,
   * and the name of the environment variable holding the key's passphrase when it is encrypted — and
   * the key matched to the certificate. Never serialize or log.
   */
  identities: ReadonlyMap<string, UserIdentity>;
  /**
   * `ec2Certificates` (default: none, the certificates shipped in @bundlefarm/format): `{ "aws" |
   * "aws-us-gov" | "aws-cn": "/path/cert.pem" }` — the EC2 certificate a partition's bundles are
   * encrypted for, for a certificate rotation (or tests that hold the matching private key).
   */
  ec2Certificates: Readonly<Partial<Record<Partition, CertificateMaterial>>>;
}

export const identitiesSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'identity names are 1–64 letters, digits, ".", "_" or "-"'),
    z.object({ key: pathSchema, cert: pathSchema, passphraseEnv: envNameSchema.optional() }).strict(),
  )
  .refine((ids) => Object.keys(ids).length > 0, 'configure at least one identity');

export const ec2CertificatesSchema = z.object({ aws: pathSchema.optional(), 'aws-us-gov': pathSchema.optional(), 'aws-cn': pathSchema.optional() }).strict();

/** Loads every identity at once; problems in the file's order. `at` resolves a path of the file. */
export function loadIdentities(
  identities: z.output<typeof identitiesSchema>,
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

/** Loads the EC2 certificate overrides at once; problems in the file's order. */
export async function loadEc2Certificates(
  paths: z.output<typeof ec2CertificatesSchema>,
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
