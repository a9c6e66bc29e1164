// @bundlefarm/errors: every error bundlefarm reports is a BundlefarmError with a stable code, listed
// in ERROR_REGISTRY (docs/errors.md is generated from it).

// The base class and what every error carries (code, transient, details; serialized into job results).
export { BundlefarmError, isBundlefarmError, type BundlefarmErrorOptions, type SerializedError } from './bundlefarm-error.js';
// Bad input: images, names, regions, options, paths.
export { MAX_IMAGE_BYTES, ImageTooLargeError, ImageEmptyError, InvalidAccountError, InvalidArchitectureError, InvalidNameError, UnknownRegionError, InvalidOptionError, UnsafePathError } from './input-errors.js';
// Keys and certificates.
export { InvalidKeyError, InvalidCertificateError, CertificateKeyMismatchError, WeakKeyError, WrongKeyError, KeyNotConfiguredError } from './key-errors.js';
// Bundles read back: manifests, parts, archives.
export { ManifestMalformedError, SignatureInvalidError, PartMissingError, PartTamperedError, ImageDigestMismatchError, ImageSizeMismatchError, ArchiveInvalidError, BundleExistsError } from './bundle-errors.js';
// Files and cancellation.
export { FileUnreadableError, FileUnwritableError, DestinationExistsError, CancelledError } from './io-errors.js';
// Moving bundles (upload, download, delete-bundle, migrate).
export { BundleRegionMismatchError, NotConfirmedError } from './transfer-errors.js';
// EC2 image registration.
export { AmiNameTakenError, AmiNameInvalidError, Ec2ManifestInvalidError, AmiNotFoundError, Ec2AccessDeniedError, Ec2UnavailableError, Ec2RequestFailedError, type Ec2ErrorOptions } from './ec2-errors.js';
// The registry of codes (retryable, HTTP status, meaning) and the docs table rendered from it.
export { ERROR_REGISTRY, errorEntry, httpStatusOf, type ErrorCode, type ErrorEntry } from './error-registry.js';
export { renderErrorTable } from './error-table.js';
