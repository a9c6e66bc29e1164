import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '@bundlefarm/s3';
import type { S3FrontBucketOptions } from '@bundlefarm/s3-local';
import { s3rverClientSettings, type S3TestServer } from './s3-server.js';

/** What a bucket holds, as a test sees it through its own client. */

/** Every key in `bucket` under `prefix` (the whole key, prefix included), sorted; follows continuation. */
export async function listKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of out.Contents ?? []) keys.push(o.Key!);
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

export async function getObject(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

/** Creates a bucket named `label-<8 hex digits>` on the test server (in us-east-1 unless `options.region`). */
export async function createFreshBucket(s3: S3TestServer, label: string, options: S3FrontBucketOptions = {}): Promise<string> {
  const name = `${label}-${randomBytes(4).toString('hex')}`;
  await s3.createBucket(name, options);
  return name;
}

/**
 * The test's own S3 clients, one per region, each for that region's endpoint of `s3` and signing for
 * it (a bucket is reached only so, as at S3): `clientFor(region)`, `clientOf(bucket)` for the region
 * the bucket is in, `destroy()` when done.
 */
export function regionClients(s3: S3TestServer): { clientFor: (region: string) => S3Client; clientOf: (bucket: string) => S3Client; destroy: () => void } {
  const clients = new Map<string, S3Client>();
  const clientFor = (region: string): S3Client => {
    let c = clients.get(region);
    if (!c) {
      c = createS3Client(s3rverClientSettings(s3.endpointFor(region), region));
      clients.set(region, c);
    }
    return c;
  };
  return {
    clientFor,
    clientOf: (bucket) => clientFor(s3.front.bucketRegion(bucket) ?? 'us-east-1'),
    destroy: () => clients.forEach((c) => c.destroy()),
  };
}
