/**
 * Errors of moving a bundle between disk and S3 (upload, download, delete, migrate): about where a bundle
 * may go and what the user agreed to. Permanent.
 */
import { BundlefarmError, type BundlefarmErrorOptions } from './bundlefarm-error.js';

/**
 * A bundle does not fit the bucket's region: the bucket is in another region than `--region` says, or the
 * manifest's EC2 key is wrapped for another partition's certificate. `hint` says what to run instead
 * (`bundlefarm migrate-manifest …`), so the user is not left with an opaque error from EC2 later.
 */
export class BundleRegionMismatchError extends BundlefarmError {
  static readonly code = 'BF_BUNDLE_REGION_MISMATCH';
  constructor(bucket: string, bucketRegion: string, reason: string, hint: string, options: BundlefarmErrorOptions = {}) {
    super(BundleRegionMismatchError.code, `S3 bucket ${bucket} is in ${bucketRegion}: ${reason}; ${hint}`, false, {
      ...options,
      details: { ...options.details, bucket, bucketRegion, reason, hint },
    });
  }
}

/** A destructive command was not confirmed (answered no, or no terminal to ask on and no `-y`). */
export class NotConfirmedError extends BundlefarmError {
  static readonly code = 'BF_NOT_CONFIRMED';
  constructor(action: string, reason: string, options: BundlefarmErrorOptions = {}) {
    super(NotConfirmedError.code, `${action} was not confirmed: ${reason}`, false, {
      ...options,
      details: { ...options.details, action, reason },
    });
  }
}
