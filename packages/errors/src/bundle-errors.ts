import { BundlefarmError, type BundlefarmErrorOptions } from './bundlefarm-error.js';

/** Errors about a bundle's content: manifest, parts, tar stream, digests. All permanent. */

export class ManifestMalformedError extends BundlefarmError {
  static readonly code = 'BF_MANIFEST_MALFORMED';
  constructor(reason: string, options: BundlefarmErrorOptions = {}) {
    super(ManifestMalformedError.code, `manifest is malformed: ${reason}`, false, {
      ...options,
      details: { ...options.details, reason, ...(options.details ?? {}) },
    });
  }
}

export class SignatureInvalidError extends BundlefarmError {
  static readonly code = 'BF_SIGNATURE_INVALID';
  constructor(cert: string, options: BundlefarmErrorOptions = {}) {
    super(
      SignatureInvalidError.code,
      `manifest signature does not verify with certificate ${cert}: the manifest was changed or signed by another key`,
      false,
      { ...options, details: { ...options.details, cert } },
    );
  }
}

export class PartMissingError extends BundlefarmError {
  static readonly code = 'BF_PART_MISSING';
  /** `where`: the directory or s3:// prefix the part was looked for in. */
  constructor(index: number, filename: string, where?: string, options: BundlefarmErrorOptions = {}) {
    super(PartMissingError.code, `part ${index} (${filename}) is missing${where !== undefined ? ` from ${where}` : ''}`, false, {
      ...options,
      details: { ...options.details, index, filename, ...(where !== undefined ? { where } : {}) },
    });
  }
}

export class PartTamperedError extends BundlefarmError {
  static readonly code = 'BF_PART_TAMPERED';
  constructor(index: number, filename: string, expected: string, actual: string, options: BundlefarmErrorOptions = {}) {
    super(
      PartTamperedError.code,
      `part ${index} (${filename}) is corrupt or tampered: SHA-1 ${actual}, manifest says ${expected}`,
      false,
      { ...options, details: { ...options.details, index, filename, expected, actual } },
    );
  }
}

export class ImageDigestMismatchError extends BundlefarmError {
  static readonly code = 'BF_IMAGE_DIGEST_MISMATCH';
  constructor(expected: string, actual: string, options: BundlefarmErrorOptions = {}) {
    super(
      ImageDigestMismatchError.code,
      `image digest mismatch: the tar stream's SHA-1 is ${actual}, the manifest says ${expected}`,
      false,
      { ...options, details: { ...options.details, expected, actual } },
    );
  }
}

export class ImageSizeMismatchError extends BundlefarmError {
  static readonly code = 'BF_IMAGE_SIZE_MISMATCH';
  constructor(expected: number, actual: number, options: BundlefarmErrorOptions = {}) {
    super(
      ImageSizeMismatchError.code,
      `image size mismatch: the bundle holds ${actual} bytes, the manifest says ${expected}`,
      false,
      { ...options, details: { ...options.details, expected, actual } },
    );
  }
}

/** The decrypted, decompressed content is not one safe regular tar member (or not gzip at all). */
export class ArchiveInvalidError extends BundlefarmError {
  static readonly code = 'BF_ARCHIVE_INVALID';
  constructor(reason: string, options: BundlefarmErrorOptions = {}) {
    super(ArchiveInvalidError.code, `bundle content is invalid: ${reason}`, false, {
      ...options,
      details: { ...options.details, reason },
    });
  }
}

/**
 * A published bundle is already at the target (its manifest exists) and the caller did not ask to replace
 * it (`replace: true` in a job spec, `--replace` on the CLI). Permanent: the same request fails the same way.
 * `location` names the object, e.g. `s3://bucket/os/v1/os-v1.manifest.xml`.
 */
export class BundleExistsError extends BundlefarmError {
  static readonly code = 'BF_BUNDLE_EXISTS';
  constructor(location: string, options: BundlefarmErrorOptions = {}) {
    super(
      BundleExistsError.code,
      `a bundle is already published at ${location}; refusing to replace it (ask for it with replace: true / --replace)`,
      false,
      { ...options, details: { ...options.details, location } },
    );
  }
}
