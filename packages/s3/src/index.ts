// @bundlefarm/s3: every S3 call bundlefarm makes — bundles published to and read from S3, images read
// from it, staged uploads, preflight checks, the CLI's upload/download/copy/delete-bundle — with
// retries and S3's errors mapped to bundlefarm's.

// Settings, the client, retries, and what S3 calls fail with.
export { checkS3Settings, S3_SETTINGS_DEFAULTS, type S3Settings, type ResolvedS3Settings } from './s3-settings.js';
export { createS3Client } from './s3-client.js';
export { checkRetryOptions, RETRY_DEFAULTS, type RetryOptions, type RetryPolicy, type RetryEvent } from './retry.js';
export { S3BucketNotFoundError, S3ObjectNotFoundError, S3AccessDeniedError, S3AclNotSupportedError, S3RegionMismatchError, S3UnavailableError, S3RequestFailedError, S3ObjectTooLargeError, S3ObjectChangedError, S3AllRegionsFailedError, S3NoSuchKeyError } from './s3-errors.js';
// Locations: s3:// URLs, bucket names, key prefixes and keys, a bucket's region.
export { parseS3Url, formatS3Url, checkKeyPrefix, checkObjectKey, type S3Location } from './s3-url.js';
export { parseBucketArgument, type BucketAndPrefix } from './bucket-argument.js';
export { bucketRegion } from './bucket-region.js';
// The worker's side: preflight of a target, parts written to S3, images and bundles read from it, objects it owns.
export { preflightTarget, PREFLIGHT_OBJECT_PREFIX, type PreflightTarget, type PreflightOptions, type PreflightResult } from './preflight.js';
export { S3PartSink, S3_PART_SINK_DEFAULTS, type S3PartSinkOptions } from './s3-part-sink.js';
export { S3PartSource, type S3PartSourceOptions } from './s3-part-source.js';
export { S3ImageSource, type S3ImageSourceOptions } from './s3-image-source.js';
export { objectSize } from './object-size.js';
export { checkBundleAcl, BUNDLE_ACLS, type S3BundleAcl } from './bundle-acl.js';
export { publishedManifest, objectOwnership, refuseForeign, type BundleTarget, type PublishedOptions, type ObjectOwnership, type PublishedManifest, type WithdrawnBundle } from './published-bundle.js';
export { removeLeftovers, type LeftoverTarget, type LeftoverOptions, type LeftoverOutcome } from './bundle-leftovers.js';
// Staged uploads: images put into the staging area through presigned URLs before a job names them.
export { presignStagedPut, createStagedMultipart, presignStagedPart, listStagedParts, completeStagedMultipart, headStagedObject, deleteStagedObject, type StagedObject, type UploadedPart, type StagedOptions } from './staged-upload.js';
// The CLI's bundle transfers: upload, download, copy, delete-bundle, and the region check before them.
export { uploadBundle, type UploadBundleOptions, type UploadBundleResult } from './bundle-upload.js';
export { downloadBundle, type DownloadBundleOptions, type DownloadBundleResult } from './bundle-download.js';
export { copyBundle, type CopyBundleOptions, type CopyBundleResult } from './bundle-copy.js';
export { deleteBundle, type DeleteBundleOptions, type DeleteBundleResult } from './bundle-delete.js';
export { checkBundleRegion, type BundleRegionFacts } from './bundle-region-check.js';

// For tests: error mapping, backoff, name limits and metadata names, checked on their own.
export { toS3Error, isRetryableS3Error, type S3ErrorContext } from './s3-error-mapping.js';
export { backoffDelay, withRetry } from './retry.js';
export { checkBucketName, MAX_PREFIX_BYTES } from './s3-url.js';
export { normalizeBucketLocation } from './bucket-region.js';
export { OWNER_METADATA } from './published-bundle.js';
export { type S3Target } from './s3-part-sink.js';
