import { ManifestMalformedError } from '@bundlefarm/errors';
import { verifyManifestSignature, type CertificateMaterial, type ParsedManifest } from '@bundlefarm/format';
import type { PartSource } from './part-source.js';
import { readVerifiedParts } from './read-parts.js';

/**
 * Check a bundle without its private key: the signature (when a certificate is given), then every part
 * exists and matches its SHA-1, and the parts add up to `bundled_size`. Throws on the first problem
 * (SignatureInvalidError, PartMissingError, PartTamperedError, ManifestMalformedError).
 */
export interface VerifyOptions {
  manifest: ParsedManifest;
  source: PartSource;
  certificate?: CertificateMaterial;
  signal?: AbortSignal;
  onPart?: (index: number, total: number) => void;
}

export interface VerifyReport {
  signatureChecked: boolean;
  parts: number;
  bundledSize: number;
}

export async function verifyBundle(options: VerifyOptions): Promise<VerifyReport> {
  const { manifest } = options.manifest;
  if (options.certificate) {
    // over the text of the very elements `manifest` was read from (see @bundlefarm/format's README)
    verifyManifestSignature(options.manifest, options.certificate.publicKey, options.certificate.source);
  }
  let total = 0;
  const parts = manifest.image.parts;
  for await (const { part, data } of readVerifiedParts(parts, options.source, options.signal)) {
    total += data.length;
    options.onPart?.(part.index, parts.length);
  }
  if (total !== manifest.image.bundledSize) {
    throw new ManifestMalformedError(`the parts hold ${total} bytes but <bundled_size> says ${manifest.image.bundledSize}`);
  }
  return { signatureChecked: options.certificate !== undefined, parts: parts.length, bundledSize: total };
}
