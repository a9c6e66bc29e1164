import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GetBucketLocationCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Front } from '@bundlefarm/s3-local';
import { tempDir } from '../helpers/temp-dir.js';

/*
 * `bundlefarm serve --local` keeps its S3 in a data directory and starts the front again on it: the
 * buckets it names are adopted with their region, and what was stored before is still there. Without
 * `existing: 'adopt'` a bucket the store already has is an error, never silently shared.
 */
describe('the S3 front: started again on the same directory', () => {
  it("adopts a kept bucket with existing: 'adopt' (objects kept, region as given), refuses it otherwise", async () => {
    const directory = await tempDir('bundlefarm-s3-restart-');
    const credentials = { accessKeyId: 'LOCALKEY1', secretAccessKey: 'local-secret-1' };
    const clientOf = (front: S3Front): S3Client =>
      new S3Client({ region: 'us-gov-west-1', endpoint: front.endpointFor('us-gov-west-1'), forcePathStyle: true, credentials, maxAttempts: 1 });

    const first = await S3Front.start({ directory, credentials: [credentials], processCredentials: false });
    await first.createBucket('amis-gov', { region: 'us-gov-west-1' });
    const c1 = clientOf(first);
    await c1.send(new PutObjectCommand({ Bucket: 'amis-gov', Key: 'a/kept.txt', Body: 'kept' }));
    c1.destroy();
    await first.close();

    const second = await S3Front.start({ directory, credentials: [credentials], processCredentials: false });
    try {
      await assert.rejects(second.createBucket('amis-gov', { region: 'us-gov-west-1' }), /refused bucket amis-gov: 409/);
      await second.createBucket('amis-gov', { region: 'us-gov-west-1', existing: 'adopt' });
      const c2 = clientOf(second);
      const location = await c2.send(new GetBucketLocationCommand({ Bucket: 'amis-gov' }));
      assert.equal(location.LocationConstraint, 'us-gov-west-1');
      const got = await c2.send(new GetObjectCommand({ Bucket: 'amis-gov', Key: 'a/kept.txt' }));
      assert.equal(await got.Body?.transformToString(), 'kept');
      c2.destroy();
    } finally {
      await second.close();
    }
  });
});
