/**
 * Checks a destination before any CPU is spent on an image: the bucket exists, lives in the region it
 * is configured for (an AMI can only be registered from a bucket of its own region), and accepts an
 * object with the bundle's ACL from these credentials — the three ways a bundle most often fails only
 * at upload time. Leaves nothing behind. Uses the SDK's own retries only: a transient failure here
 * (S3UnavailableError) is best retried later by the caller's job queue.
 */
import { bucketRegion as bucketRegionOf } from './bucket-region.js';
import { createHash, randomBytes } from 'node:crypto';
import { DeleteObjectCommand, HeadBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checkBundleAcl, sdkAcl, type S3BundleAcl } from './bundle-acl.js';
import { ownerMetadata } from './published-bundle.js';
import { abortedError, s3ErrorFacts, toS3Error, type S3ErrorContext } from './s3-error-mapping.js';
import { S3RegionMismatchError } from './s3-errors.js';
import { checkBucketName, checkKeyPrefix } from './s3-url.js';

export interface PreflightTarget {
  /** Region the bucket must be in (the client's region). */
  region: string;
  bucket: string;
  /** Key prefix the bundle goes under (default ''). */
  prefix?: string;
}

export interface PreflightOptions {
  /** ACL the probe object is written with, as the bundle will be (default aws-exec-read). */
  acl?: S3BundleAcl;
  signal?: AbortSignal;
  /** Who writes (a job's mark): stored with the probe as user metadata, as on every object a job writes. */
  owner?: string;
}

export interface PreflightResult {
  bucket: string;
  /** The bucket's region as the store reported it; undefined when the store cannot tell (some S3-compatibles). */
  bucketRegion: string | undefined;
}

/** Prefix of the probe object's name (followed by random hex), under the target's key prefix. */
export const PREFLIGHT_OBJECT_PREFIX = '.bundlefarm-preflight-';

/**
 * Resolves when the target is usable. Rejects with S3BucketNotFoundError, S3RegionMismatchError,
 * S3AccessDeniedError (naming the refused operation), S3AclNotSupportedError (permanent), or
 * S3UnavailableError (transient: 5xx, timeouts, connection failures).
 */
export async function preflightTarget(client: S3Client, target: PreflightTarget, options: PreflightOptions = {}): Promise<PreflightResult> {
  const bucket = checkBucketName(target.bucket);
  const prefix = checkKeyPrefix(target.prefix ?? '');
  const acl = checkBundleAcl(options.acl);
  const send = { abortSignal: options.signal };
  const ctx = (operation: string, key?: string): S3ErrorContext => ({ bucket, operation, region: target.region, acl, ...(key !== undefined ? { key } : {}) });

  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }), send);
  } catch (err) {
    throw toS3Error(err, ctx('HeadBucket'), options.signal);
  }

  const bucketRegion = await bucketRegionOf(client, bucket, options.signal, ctx('GetBucketLocation'));
  if (bucketRegion !== undefined && bucketRegion !== target.region) throw new S3RegionMismatchError(bucket, target.region, bucketRegion);

  const key = `${prefix}${PREFLIGHT_OBJECT_PREFIX}${randomBytes(8).toString('hex')}`;
  const body = Buffer.from('bundlefarm preflight probe; safe to delete\n');
  try {
    // Not cancellable: a PUT cut off by a cancel can still be stored after a DELETE sent at once (the
    // request is on its way; S3 or a proxy finishes it), and the probe would outlive the preflight.
    // The probe is 44 bytes: let it finish or fail, remove it, then report the cancellation.
    await client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: body,
        ACL: sdkAcl(acl),
        ContentMD5: createHash('md5').update(body).digest('base64'),
        ...(options.owner !== undefined ? { Metadata: ownerMetadata(options.owner) } : {}),
      }),
    );
  } catch (err) {
    // A PUT that failed without a definite refusal may still have been stored: timed out, its
    // connection dropped after S3 took the body, a 5xx. Remove the probe then (best
    // effort, not cancellable: the probe must not outlive a failed preflight any more than a passed one).
    // A 4xx answer (denied, no such bucket …) means nothing was written.
    const { status } = s3ErrorFacts(err);
    if (status === undefined || status >= 500) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => {});
    }
    throw toS3Error(err, ctx(`PutObject with ACL ${acl}`, key), options.signal);
  }
  try {
    // not cancellable: the probe must not outlive a cancelled preflight
    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  } catch (err) {
    // a sink that cannot delete cannot clean up a failed bundle either
    throw toS3Error(err, ctx('DeleteObject', key));
  }
  if (options.signal?.aborted) throw abortedError(ctx(`PutObject with ACL ${acl}`, key), options.signal.reason);
  return { bucket, bucketRegion };
}

