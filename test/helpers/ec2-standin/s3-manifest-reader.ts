/*
 * How the EC2 stand-in reads a manifest: as EC2 does, from the bucket's region, as EC2's own S3 account
 * (`za-team`, the grantee of `aws-exec-read`), through the S3 front — so a manifest uploaded without
 * that ACL, or in a bucket of another region, is refused as it would be by EC2.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { registerProcessCredentials, EC2_ACCOUNT, type S3Front } from '@bundlefarm/s3-local';
import type { ManifestLookup } from './ec2-standin.js';

export function s3ManifestReader(front: S3Front): (bucket: string, key: string, region: string) => Promise<ManifestLookup> {
  const credentials = { accessKeyId: `EC2READ${randomBytes(6).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(24).toString('base64url') };
  registerProcessCredentials({ ...credentials, account: EC2_ACCOUNT.name });
  return async (bucket, key, region) => {
    const bucketRegion = front.bucketRegion(bucket);
    if (bucketRegion === undefined) return { problem: `bucket ${bucket} does not exist` };
    if (bucketRegion !== region) return { problem: `bucket ${bucket} is in ${bucketRegion}; an image registered in ${region} needs its bundle in a bucket of ${region}` };
    const client = new S3Client({ region, endpoint: front.endpointFor(region), forcePathStyle: true, credentials, maxAttempts: 1 });
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { xml: await out.Body!.transformToString('utf8') };
    } catch (err) {
      return { problem: `${(err as { name?: string }).name ?? 'error'} reading s3://${bucket}/${key} as EC2` };
    } finally {
      client.destroy();
    }
  };
}
