/*
 * ec2-migrate-manifest: the same bundle made usable in another region. The AES key and IV are unwrapped
 * with the user's private key and wrapped again for the target partition's EC2 certificate, kernel and
 * ramdisk ids (which are per region) replaced when given, and the manifest signed again by the user.
 * Everything else — bundler, image facts, parts, the user's own wrapped key and IV — stays as it was, and
 * the result is serialized in REXML form like every manifest bundlefarm writes, so Amazon's tools accept it.
 *
 * The manifest must first verify with the user's certificate: migrating re-signs it, and a tampered
 * manifest must not come out of here with a valid signature.
 */
import { InvalidOptionError } from '@bundlefarm/errors';
import { assertCertificateMatchesKey, type CertificateMaterial } from './key-material.js';
import { unwrapWithKey, wrapForKey } from './key-wrap.js';
import type { BundleManifest } from './manifest.js';
import type { SignedManifest, UserIdentity } from './manifest-build.js';
import type { ParsedManifest } from './manifest-parse.js';
import { serializeManifest } from './manifest-serialize.js';
import { signManifestText, verifyManifestSignature } from './manifest-signature.js';

export interface MigrateManifestOptions {
  /** The user's key pair: the key unwraps the AES key/IV and signs; the certificate checks the old signature. */
  user: UserIdentity;
  /** EC2's certificate of the target partition (see ec2CertificateForRegion). */
  ec2Certificate: CertificateMaterial;
  /** New kernel id (aki-…); undefined keeps the manifest's. */
  kernelId?: string;
  /** New ramdisk id (ari-…); undefined keeps the manifest's. */
  ramdiskId?: string;
}

export function migrateManifest(parsed: ParsedManifest, options: MigrateManifestOptions): SignedManifest {
  const { user } = options;
  assertCertificateMatchesKey(user.certificate, user.privateKey);
  verifyManifestSignature(parsed, user.certificate.publicKey, user.certificate.source);
  const old = parsed.manifest;
  const key = unwrapWithKey(old.image.userEncryptedKey, user.privateKey, 'key');
  const iv = unwrapWithKey(old.image.userEncryptedIv, user.privateKey, 'IV');
  const ec2 = options.ec2Certificate.publicKey;
  const mc = old.machineConfiguration;
  if (!mc && (options.kernelId !== undefined || options.ramdiskId !== undefined)) {
    throw new InvalidOptionError('--kernel/--ramdisk', 'the manifest has no <machine_configuration> to hold a kernel or ramdisk id');
  }
  const manifest: BundleManifest = {
    version: old.version,
    bundler: { ...old.bundler },
    ...(mc
      ? {
          machineConfiguration: {
            ...mc,
            ...(options.kernelId !== undefined ? { kernelId: options.kernelId } : {}),
            ...(options.ramdiskId !== undefined ? { ramdiskId: options.ramdiskId } : {}),
          },
        }
      : {}),
    image: {
      ...old.image,
      ec2EncryptedKey: wrapForKey(key, ec2),
      ec2EncryptedIv: wrapForKey(iv, ec2),
      parts: old.image.parts.map((p) => ({ ...p })),
    },
  };
  manifest.signature = signManifestText(serializeManifest(manifest), user.privateKey.key);
  return { manifest, xml: serializeManifest(manifest) };
}
