/*
 * Where a bucket lives, from GetBucketLocation (asked from any region: S3 answers it at every endpoint
 * and for a signature of us-east-1). S3's legacy constraint names are translated: none/'' is us-east-1,
 * `EU` is eu-west-1. Stores that do not implement the call (some S3-compatibles) give undefined.
 */
import { GetBucketLocationCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3ErrorFacts, toS3Error, type S3ErrorContext } from './s3-error-mapping.js';

export async function bucketRegion(
  client: S3Client,
  bucket: string,
  signal?: AbortSignal,
  context: S3ErrorContext = { bucket, operation: 'GetBucketLocation' },
): Promise<string | undefined> {
  let constraint: string | null | undefined;
  try {
    ({ LocationConstraint: constraint } = await client.send(new GetBucketLocationCommand({ Bucket: bucket }), { abortSignal: signal }));
  } catch (err) {
    const { status, name } = s3ErrorFacts(err);
    if (status === 501 || status === 405 || name === 'NotImplemented' || name === 'MethodNotAllowed') return undefined;
    throw toS3Error(err, context, signal);
  }
  return normalizeBucketLocation(constraint);
}

export function normalizeBucketLocation(constraint: string | null | undefined): string {
  if (constraint === undefined || constraint === null || constraint === '') return 'us-east-1';
  if (constraint === 'EU') return 'eu-west-1';
  return constraint;
}
