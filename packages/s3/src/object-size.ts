import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checkRetryOptions, withRetry, type RetryOptions } from './retry.js';
import { toS3Error } from './s3-error-mapping.js';
import { checkBucketName, checkObjectKey, parseS3Url, type S3Location } from './s3-url.js';

/**
 * Size in bytes of the object at `location` (HeadObject), for checks at enqueue time — e.g. refusing
 * an image over 10 GiB before a job is queued. Rejects with S3ObjectNotFoundError, S3AccessDeniedError,
 * S3UnavailableError …
 */
export async function objectSize(
  client: S3Client,
  location: string | S3Location,
  options: { retry?: RetryOptions; signal?: AbortSignal } = {},
): Promise<number> {
  const loc = typeof location === 'string' ? parseS3Url(location) : location;
  const bucket = checkBucketName(loc.bucket);
  const key = checkObjectKey(loc.key);
  try {
    const head = await withRetry(
      { policy: checkRetryOptions(options.retry), operation: 'HeadObject', bucket, key, ...(options.signal ? { signal: options.signal } : {}) },
      () => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: options.signal }),
    );
    return head.ContentLength ?? 0;
  } catch (err) {
    throw toS3Error(err, { bucket, key, operation: 'HeadObject' });
  }
}
