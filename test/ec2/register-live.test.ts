import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { bundlefarm } from '../helpers/cli.js';
import { craftBundle } from '../helpers/craft-bundle.js';
import { announceSkip } from '../helpers/requirements.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * OPT-IN, against real AWS: runs only when AWS credentials (AWS_ACCESS_KEY_ID or AWS_PROFILE) and
 * BUNDLEFARM_LIVE_BUCKET (a bucket with ACLs enabled, in BUNDLEFARM_LIVE_REGION, default us-east-1) are
 * in the environment; skipped with the reason printed otherwise. It uploads a tiny bundle (encrypted for
 * the region's real EC2 certificate) under a fresh prefix with aws-exec-read, registers it with
 * `bundlefarm register`, checks the AMI id, deregisters it and deletes what it uploaded. Costs nothing
 * lasting; needs ec2:RegisterImage, ec2:DescribeImages, ec2:DeregisterImage, s3:PutObject(Acl), s3:DeleteObject.
 */
const bucket = process.env.BUNDLEFARM_LIVE_BUCKET;
const region = process.env.BUNDLEFARM_LIVE_REGION || 'us-east-1';
const hasCredentials = Boolean(process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE);
const skip = bucket && hasCredentials ? false : 'live EC2 test: set AWS credentials (AWS_ACCESS_KEY_ID or AWS_PROFILE) and BUNDLEFARM_LIVE_BUCKET to run it';
if (skip) announceSkip(skip);

describe('bundlefarm register against real EC2 (opt-in)', { skip }, () => {
  const uploaded: string[] = [];
  const s3 = new S3Client({ region });
  after(async () => {
    for (const key of uploaded) await s3.send(new DeleteObjectCommand({ Bucket: bucket!, Key: key })).catch(() => {});
    s3.destroy();
  });

  it('registers an uploaded bundle, prints its AMI id, deregisters it', { timeout: 180_000 }, async () => {
    const name = `bundlefarm-live-${randomBytes(4).toString('hex')}`;
    const dir = await tempDir('bundlefarm-live-');
    await craftBundle(dir, name, Buffer.alloc(1 << 20), 1 << 20);
    const prefix = `bundlefarm-live/${name}/`;
    for (const f of [...(await readdir(dir)).filter((x) => x.includes('.part.')), `${name}.manifest.xml`]) {
      await s3.send(new PutObjectCommand({ Bucket: bucket!, Key: prefix + f, Body: await readFile(join(dir, f)), ACL: 'aws-exec-read' }));
      uploaded.push(prefix + f);
    }
    const r = await bundlefarm(['register', `${bucket!}/${prefix}${name}.manifest.xml`, '-n', name, '--region', region, '-a', 'x86_64', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { imageId: string; adopted: boolean };
    assert.match(out.imageId, /^ami-[0-9a-f]{8,17}$/);
    assert.equal(out.adopted, false);
    const d = await bundlefarm(['deregister', out.imageId, '--region', region]);
    assert.equal(d.code, 0, d.stderr);
  });
});
