/*
 * What is already at a key, for resuming: HeadObject's size and ETag, or nothing. An object "matches"
 * bytes when it has their length and its ETag is their MD5 (S3's ETag of a single-PUT, non-KMS object;
 * multipart or KMS ETags never look like an MD5 of the whole, so such an object is simply sent again).
 */
import { createHash } from 'node:crypto';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { checkRetryOptions, withRetry, type RetryOptions } from './retry.js';
import { s3ErrorFacts, toS3Error } from './s3-error-mapping.js';

export type ObjectState = { exists: false } | { exists: true; size: number; etag: string | undefined };

export async function objectState(
  client: S3Client,
  bucket: string,
  key: string,
  options: { retry?: RetryOptions; signal?: AbortSignal; region?: string } = {},
): Promise<ObjectState> {
  const { signal } = options;
  try {
    const head = await withRetry({ policy: checkRetryOptions(options.retry), operation: 'HeadObject', bucket, key, ...(signal ? { signal } : {}) }, () =>
      client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
    );
    return { exists: true, size: head.ContentLength ?? 0, etag: head.ETag?.replace(/"/g, '').toLowerCase() };
  } catch (err) {
    const { status, name } = s3ErrorFacts(err);
    if (status === 404 && (name === 'NotFound' || name === 'NoSuchKey')) return { exists: false };
    throw toS3Error(err, { bucket, key, operation: 'HeadObject', ...(options.region !== undefined ? { region: options.region } : {}) }, signal);
  }
}

export function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** True when the object holds exactly `data` (same length, ETag = MD5). */
export function objectMatches(state: ObjectState, data: Buffer, md5 = md5Hex(data)): boolean {
  return state.exists && state.size === data.length && state.etag === md5;
}
