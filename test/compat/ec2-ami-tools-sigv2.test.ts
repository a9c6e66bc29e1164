import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GetObjectAclCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '@bundlefarm/s3';
import { getObject } from '../helpers/s3-objects.js';
import { S3RVER_CREDENTIALS, s3rverClientSettings, startS3Server } from '../helpers/s3-server.js';
import { run } from '../helpers/run.js';
import { tempDir } from '../helpers/temp-dir.js';

/*
 * ec2-ami-tools signed its S3 requests with Signature Version 2 (HMAC-SHA1 in Ruby's OpenSSL, keys
 * CGI-escaped into the path). The S3 front verifies SigV2 as S3 did, so bundles uploaded the old
 * way can be tested against it: here a Ruby client doing what ec2-upload-bundle did uploads a part
 * with aws-exec-read, downloads it, and is refused for a wrong secret and in a region that never took
 * SigV2.
 */
const CLIENT = fileURLToPath(new URL('./ec2-upload-sigv2.rb', import.meta.url));
const s3 = await startS3Server({ regions: ['eu-central-1'] });
const client = createS3Client(s3rverClientSettings(s3.endpoint));
after(async () => {
  client.destroy();
  await s3.stop();
});

interface RubyAnswer {
  status: number;
  body: string;
  string_to_sign: string;
}

async function ruby(verb: 'PUT' | 'GET', endpoint: string, bucket: string, key: string, file: string, secret: string = S3RVER_CREDENTIALS.secretAccessKey): Promise<RubyAnswer> {
  const r = await run('ruby', [CLIENT, verb, endpoint, bucket, key, file, 'aws-exec-read', S3RVER_CREDENTIALS.accessKeyId, secret]);
  assert.equal(r.code, 0, `ruby (apt-get install ruby): ${r.stderr}`);
  return JSON.parse(r.stdout) as RubyAnswer;
}

describe('SigV2 as ec2-ami-tools sent it, against the S3 front', () => {
  it('an upload with Content-MD5 and aws-exec-read is stored under the unescaped key, readable by EC2; a download gets it back', async () => {
    const dir = await tempDir();
    const bucket = `amis-${randomBytes(4).toString('hex')}`;
    await s3.createBucket(bucket);
    const part = join(dir, 'image.part.0');
    const data = randomBytes(300_000);
    await writeFile(part, data);
    const put = await ruby('PUT', s3.endpoint, bucket, 'release/image.part.0', part);
    assert.equal(put.status, 200, put.body);
    const record = s3.requests.filter((r) => r.bucket === bucket && r.operation === 'PutObject')[0]!;
    assert.deepEqual([record.auth, record.key, record.path], ['sigv2-header', 'release/image.part.0', `/${bucket}/release%2Fimage.part.0`]);
    assert.ok((await getObject(client, bucket, 'release/image.part.0')).equals(data));
    const acl = await client.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'release/image.part.0' }));
    assert.deepEqual(acl.Grants?.map((g) => [g.Grantee?.DisplayName, g.Permission]), [
      ['bundlefarm-test', 'FULL_CONTROL'],
      ['za-team', 'READ'],
    ]);
    const back = join(dir, 'back');
    const get = await ruby('GET', s3.endpoint, bucket, 'release/image.part.0', back);
    assert.equal(get.status, 200, get.body);
    assert.ok((await readFile(back)).equals(data));
  });

  it('a wrong secret → 403 SignatureDoesNotMatch, and S3’s string to sign is the one the tool signed', async () => {
    const dir = await tempDir();
    const bucket = `amis-${randomBytes(4).toString('hex')}`;
    await s3.createBucket(bucket);
    await writeFile(join(dir, 'p'), 'data');
    const put = await ruby('PUT', s3.endpoint, bucket, 'x/p', join(dir, 'p'), 'not-the-secret');
    assert.equal(put.status, 403);
    assert.match(put.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    const echoed = /<StringToSign>([^<]*)<\/StringToSign>/.exec(put.body)![1]!.replace(/&amp;/g, '&');
    assert.equal(echoed, put.string_to_sign);
  });

  it('a region launched after January 2014 takes SigV4 only → 400 InvalidRequest', async () => {
    const dir = await tempDir();
    const bucket = `amis-${randomBytes(4).toString('hex')}`;
    await s3.createBucket(bucket, { region: 'eu-central-1' });
    await writeFile(join(dir, 'p'), 'data');
    const put = await ruby('PUT', s3.endpointFor('eu-central-1'), bucket, 'p', join(dir, 'p'));
    assert.equal(put.status, 400);
    assert.match(put.body, /<Code>InvalidRequest<\/Code><Message>The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.<\/Message>/);
  });
});
