import {
  assertCertificateMatchesKey,
  buildSignedManifest,
  manifestName,
  type CertificateMaterial,
  type ManifestSpec,
  type SignedManifest,
  type UserIdentity,
} from '@bundlefarm/format';
import { bundleImage, type BundleImageOptions, type BundleResult } from './bundle-image.js';
import type { PartSink } from './part-sink.js';

/**
 * A whole bundle in one sink: parts, then the signed manifest, published only after every part is in
 * place. On any failure everything written is removed (`sink.abort()`).
 */
export interface CreateBundleOptions extends BundleImageOptions {
  /** Manifest fields other than the name (account, architecture, kernel, ramdisk, mappings, codes). */
  spec: Omit<ManifestSpec, 'name'>;
  user: UserIdentity;
  /** EC2 certificate of the target partition. */
  ec2Certificate: CertificateMaterial;
}

export interface CreatedBundle {
  result: BundleResult;
  manifest: SignedManifest;
  /** File name of the manifest in the sink (NAME.manifest.xml). */
  manifestFile: string;
}

export async function createBundle(options: CreateBundleOptions, sink: PartSink): Promise<CreatedBundle> {
  // Refuse a mismatched identity before spending any CPU on the image.
  assertCertificateMatchesKey(options.user.certificate, options.user.privateKey);
  const result = await bundleImage(options, sink);
  try {
    const manifest = buildSignedManifest({ ...options.spec, name: result.name }, result.facts, result.secret, options.user, options.ec2Certificate);
    const manifestFile = manifestName(result.name);
    await sink.putManifest(manifestFile, manifest.xml);
    return { result, manifest, manifestFile };
  } catch (err) {
    await sink.abort().catch(() => {});
    throw err;
  }
}

