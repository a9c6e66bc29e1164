/**
 * Errors of S3 and S3-compatible stores. Messages name buckets, keys, regions and operations, never
 * credentials (and never the request's headers, where signatures live). `transient` follows S3's own
 * retry guidance: 5xx, throttling, timeouts and dropped connections may pass; a missing bucket, a
 * refused permission or a bucket in another region will not.
 */
import { BundlefarmError, type BundlefarmErrorOptions } from '@bundlefarm/errors';

/**
 * Options of the errors about a request to a bucket: the region the bucket is used for, when the caller
 * knows it, goes into the message (a job failing in one of several regions, or a one-region job whose
 * error is all its status shows, must say where) and into `details`.
 */
export interface S3ErrorOptions extends BundlefarmErrorOptions {
  region?: string;
}

/** `bucket NAME` or `bucket NAME in REGION`. */
function bucketIn(bucket: string, region: string | undefined): string {
  return region === undefined ? `bucket ${bucket}` : `bucket ${bucket} in ${region}`;
}

/** The bucket does not exist (S3 `NoSuchBucket`, or 404 on a bucket-level request). */
export class S3BucketNotFoundError extends BundlefarmError {
  static readonly code = 'BF_S3_BUCKET_NOT_FOUND';
  constructor(bucket: string, options: BundlefarmErrorOptions = {}) {
    super(S3BucketNotFoundError.code, `S3 bucket ${bucket} does not exist`, false, {
      ...options,
      details: { ...options.details, bucket },
    });
  }
}

/** An object that must exist does not (an image to bundle, an object whose size is asked). */
export class S3ObjectNotFoundError extends BundlefarmError {
  static readonly code = 'BF_S3_OBJECT_NOT_FOUND';
  constructor(bucket: string, key: string, options: BundlefarmErrorOptions = {}) {
    super(S3ObjectNotFoundError.code, `S3 object s3://${bucket}/${key} does not exist`, false, {
      ...options,
      details: { ...options.details, bucket, key },
    });
  }
}

/** 403: the credentials may not do `operation` on the bucket (or are invalid, or the clock is off). */
export class S3AccessDeniedError extends BundlefarmError {
  static readonly code = 'BF_S3_ACCESS_DENIED';
  constructor(bucket: string, operation: string, s3Code?: string, options: S3ErrorOptions = {}) {
    const { region, ...rest } = options;
    super(
      S3AccessDeniedError.code,
      `access denied: ${operation} on S3 ${bucketIn(bucket, region)} was refused${s3Code ? ` (${s3Code})` : ''}; check the credentials and the bucket policy`,
      false,
      { ...rest, details: { ...rest.details, bucket, region, operation, s3Code } },
    );
  }
}

/**
 * The bucket refuses object ACLs (Object Ownership "bucket owner enforced", the default for buckets
 * created since April 2023). EC2 reads bundle parts only through the `aws-exec-read` grant, so such a
 * bucket cannot hold instance-store bundles until ACLs are enabled on it.
 */
export class S3AclNotSupportedError extends BundlefarmError {
  static readonly code = 'BF_S3_ACL_NOT_SUPPORTED';
  constructor(bucket: string, acl: string, options: BundlefarmErrorOptions = {}) {
    super(
      S3AclNotSupportedError.code,
      `S3 bucket ${bucket} does not accept the ${acl} object ACL (ACLs are disabled by its Object Ownership setting); ` +
        'EC2 cannot read bundle parts without it: enable ACLs on the bucket ("bucket owner preferred")',
      false,
      { ...options, details: { ...options.details, bucket, acl } },
    );
  }
}

/** The bucket lives in another region than the one it is configured for. */
export class S3RegionMismatchError extends BundlefarmError {
  static readonly code = 'BF_S3_REGION_MISMATCH';
  constructor(bucket: string, expected: string, actual: string, options: BundlefarmErrorOptions = {}) {
    super(
      S3RegionMismatchError.code,
      `S3 bucket ${bucket} is in ${actual}, not in ${expected} as configured; an AMI registered in ${expected} must be bundled into a bucket of ${expected}`,
      false,
      { ...options, details: { ...options.details, bucket, expected, actual } },
    );
  }
}

/** 5xx, throttling, timeouts, refused or dropped connections: S3 may be back soon. */
export class S3UnavailableError extends BundlefarmError {
  static readonly code = 'BF_S3_UNAVAILABLE';
  constructor(bucket: string, operation: string, reason: string, options: S3ErrorOptions = {}) {
    const { region, ...rest } = options;
    super(S3UnavailableError.code, `S3 is unavailable: ${operation} on ${bucketIn(bucket, region)} failed: ${reason}`, true, {
      ...rest,
      details: { ...rest.details, bucket, region, operation, reason },
    });
  }
}

/** Any other refusal (4xx such as InvalidRequest, BadDigest after every retry, 501 ...). */
export class S3RequestFailedError extends BundlefarmError {
  static readonly code = 'BF_S3_REQUEST_FAILED';
  constructor(bucket: string, operation: string, reason: string, transient: boolean, options: S3ErrorOptions = {}) {
    const { region, ...rest } = options;
    super(S3RequestFailedError.code, `${operation} on S3 ${bucketIn(bucket, region)} failed: ${reason}`, transient, {
      ...rest,
      details: { ...rest.details, bucket, region, operation, reason },
    });
  }
}

/** An object is larger than the caller accepts (a "part" of 1 GiB, a huge manifest). */
export class S3ObjectTooLargeError extends BundlefarmError {
  static readonly code = 'BF_S3_OBJECT_TOO_LARGE';
  constructor(bucket: string, key: string, size: number, limit: number, options: BundlefarmErrorOptions = {}) {
    super(S3ObjectTooLargeError.code, `S3 object s3://${bucket}/${key} is ${size} bytes, more than the ${limit} allowed`, false, {
      ...options,
      details: { ...options.details, bucket, key, size, limit },
    });
  }
}

/** The object changed while it was being read (its ETag moved between two ranged GETs). */
export class S3ObjectChangedError extends BundlefarmError {
  static readonly code = 'BF_S3_OBJECT_CHANGED';
  constructor(bucket: string, key: string, options: BundlefarmErrorOptions = {}) {
    super(S3ObjectChangedError.code, `S3 object s3://${bucket}/${key} changed while it was being read`, false, {
      ...options,
      details: { ...options.details, bucket, key },
    });
  }
}

/**
 * Every region of a multi-region upload failed. Transient when at least one region failed for a
 * transient reason (trying the whole bundle again may then succeed). `regions` keeps each region's error.
 */
export class S3AllRegionsFailedError extends BundlefarmError {
  static readonly code = 'BF_S3_ALL_REGIONS_FAILED';
  readonly regions: ReadonlyMap<string, BundlefarmError>;
  constructor(regions: ReadonlyMap<string, BundlefarmError>, options: BundlefarmErrorOptions = {}) {
    const summary = [...regions].map(([region, err]) => `${region}: ${err.message}`).join('; ');
    super(S3AllRegionsFailedError.code, `the upload failed in every region (${summary})`, [...regions.values()].some((e) => e.transient), {
      ...options,
      details: { ...options.details, regions: [...regions.keys()].join(','), codes: [...regions.values()].map((e) => e.code).join(',') },
    });
    this.regions = regions;
  }
}

/**
 * What `S3PartSource.readPart` rejects with when a part does not exist. Deliberately not a
 * BundlefarmError: the PartSource contract asks for `code === 'NoSuchKey'`, which the engine turns
 * into its own PartMissingError (BF_PART_MISSING) naming the part index.
 */
export class S3NoSuchKeyError extends Error {
  readonly code = 'NoSuchKey' as const;
  constructor(
    readonly bucket: string,
    readonly key: string,
    options: { cause?: unknown } = {},
  ) {
    super(`S3 object s3://${bucket}/${key} does not exist`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'S3NoSuchKeyError';
  }
}
