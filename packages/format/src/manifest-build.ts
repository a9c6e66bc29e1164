import { createPublicKey } from 'node:crypto';
import { CertificateKeyMismatchError } from '@bundlefarm/errors';
import { wrapForKey, type BundleSecret } from './key-wrap.js';
import { assertSigningKeyStrength, type CertificateMaterial, type PrivateKeyMaterial } from './key-material.js';
import { MANIFEST_VERSION } from './limits.js';
import { BUNDLEFARM_BUNDLER, type BlockDeviceMapping, type BundleManifest, type BundlerInfo, type ManifestPart } from './manifest.js';
import { serializeManifest } from './manifest-serialize.js';
import { signManifestText } from './manifest-signature.js';

/** What the user asked for: the parts of the manifest that do not depend on the image bytes. */
export interface ManifestSpec {
  /** Bundle name (tar member name, part and manifest prefix). */
  name: string;
  /** 12-digit account number (already normalized). */
  accountId: string;
  architecture: string;
  kernelId?: string;
  ramdiskId?: string;
  blockDeviceMapping?: BlockDeviceMapping[];
  productCodes?: string[];
  /** `<bundler>` content; default bundlefarm's own. */
  bundler?: BundlerInfo;
}

/** What bundling the image produced. */
export interface BundleFacts {
  /** SHA-1 of the tar stream, lowercase hex. */
  digest: string;
  size: number;
  bundledSize: number;
  parts: ManifestPart[];
}

/** The user's signing identity: private key and the certificate of its public key. */
export interface UserIdentity {
  privateKey: PrivateKeyMaterial;
  certificate: CertificateMaterial;
}

export interface SignedManifest {
  manifest: BundleManifest;
  /** The exact bytes to publish as NAME.manifest.xml. */
  xml: string;
}

/**
 * Build and sign a manifest: key and IV RSA-wrapped for the user's certificate and for the EC2
 * certificate of the target partition, signature by the user's key over the REXML-form text.
 */
export function buildSignedManifest(
  spec: ManifestSpec,
  facts: BundleFacts,
  secret: BundleSecret,
  user: UserIdentity,
  ec2Certificate: CertificateMaterial,
): SignedManifest {
  const userSpki = user.certificate.publicKey.export({ type: 'spki', format: 'der' });
  const keySpki = createPublicKey(user.privateKey.key).export({ type: 'spki', format: 'der' });
  if (!userSpki.equals(keySpki)) throw new CertificateKeyMismatchError(user.certificate.source, user.privateKey.source);
  // no new signature with a weak key, whoever calls (the identity's loader refuses it earlier)
  assertSigningKeyStrength(user.privateKey);

  const manifest: BundleManifest = {
    version: MANIFEST_VERSION,
    bundler: spec.bundler ?? BUNDLEFARM_BUNDLER,
    machineConfiguration: {
      architecture: spec.architecture,
      ...(spec.blockDeviceMapping?.length ? { blockDeviceMapping: spec.blockDeviceMapping } : {}),
      ...(spec.kernelId ? { kernelId: spec.kernelId } : {}),
      ...(spec.ramdiskId ? { ramdiskId: spec.ramdiskId } : {}),
      ...(spec.productCodes?.length ? { productCodes: spec.productCodes } : {}),
    },
    image: {
      name: spec.name,
      user: spec.accountId,
      type: 'machine',
      digest: facts.digest,
      size: facts.size,
      bundledSize: facts.bundledSize,
      ec2EncryptedKey: wrapForKey(secret.key, ec2Certificate.publicKey),
      userEncryptedKey: wrapForKey(secret.key, user.certificate.publicKey),
      ec2EncryptedIv: wrapForKey(secret.iv, ec2Certificate.publicKey),
      userEncryptedIv: wrapForKey(secret.iv, user.certificate.publicKey),
      parts: facts.parts,
    },
  };
  const unsigned = serializeManifest(manifest);
  manifest.signature = signManifestText(unsigned, user.privateKey.key);
  return { manifest, xml: serializeManifest(manifest) };
}
