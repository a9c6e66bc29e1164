import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createEc2Client, registerImage } from '@bundlefarm/ec2';
import { AmiNameTakenError } from '@bundlefarm/errors';
import { assertOneLineError, bundlefarm } from '../helpers/cli.js';
import { craftBundle } from '../helpers/craft-bundle.js';
import { Ec2StandIn, s3ManifestReader } from '../helpers/ec2-standin/index.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../helpers/s3-server.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * `bundlefarm register` / `deregister` against the EC2 STAND-IN of the tests (test/helpers/ec2-standin:
 * not EC2 — a small loopback server answering RegisterImage, DescribeImages and DeregisterImage by
 * AWS's documented rules, since EC2 cannot be reached from here), with bundles uploaded to the S3 front
 * the way ec2-upload-bundle leaves them (aws-exec-read). The stand-in records the exact form parameters
 * the AWS SDK sent; the stand-in reads manifests as EC2 would (as EC2's account, from the bucket's region).
 */
let s3: S3TestServer;
let ec2: Ec2StandIn;
let client: S3Client;
const BUCKET = 'register-cli';
const ENV = {
  AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONFIG_FILE: '/nonexistent',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
  AWS_REGION: '',
  AWS_DEFAULT_REGION: '',
  AWS_PROFILE: '',
};

/** Uploads a small crafted bundle under `prefix`, as ec2-upload-bundle does (parts, then the manifest, aws-exec-read). */
async function upload(name: string, prefix: string, acl: 'aws-exec-read' | 'private' = 'aws-exec-read'): Promise<string> {
  const dir = await tempDir('bundlefarm-register-');
  const manifest = await craftBundle(dir, name, Buffer.from(`image ${name}\n`), 4096);
  const files = (await readdir(dir)).filter((f) => f.includes('.part.'));
  for (const f of [...files, `${name}.manifest.xml`]) {
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}${f}`, Body: await readFile(join(dir, f)), ACL: acl }));
  }
  assert.ok(manifest.endsWith(`${name}.manifest.xml`));
  return `${BUCKET}/${prefix}${name}.manifest.xml`;
}

function register(args: string[]) {
  return bundlefarm(['register', ...args, '--endpoint', ec2.endpoint, '--region', 'us-east-1'], { env: ENV });
}

before(async () => {
  s3 = await startS3Server();
  await s3.createBucket(BUCKET);
  client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } });
  ec2 = await Ec2StandIn.start({ region: 'us-east-1', readManifest: s3ManifestReader(s3.front) });
});
after(async () => {
  await ec2?.close();
  client?.destroy();
  await s3?.stop();
});

describe('bundlefarm register / deregister (EC2 stand-in)', () => {
  it('registers with exactly the parameters given, prints the AMI id; deregister removes it', async () => {
    const location = await upload('web-1', 'os/');
    const before = ec2.requests.length;
    const r = await register([
      location,
      '-n',
      'web (1.0) [x86_64]',
      '--description',
      'web server, build 1',
      '-a',
      'x86_64',
      '--kernel',
      'aki-88aa75e1',
      '--ramdisk',
      'ari-a51cf9cc',
      '-b',
      'ephemeral0=sdb',
      '-b',
      '/dev/sdc=ephemeral1',
      '--virtualization-type',
      'paravirtual',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const m = /^IMAGE\t(ami-[0-9a-f]{17})\n$/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const sent = ec2.requests.slice(before);
    assert.deepEqual(
      sent.map((q) => q.action),
      ['DescribeImages', 'RegisterImage'],
      'the name is looked up before registering',
    );
    const { Action, Version, ...describe } = sent[0]!.params;
    assert.equal(Action, 'DescribeImages');
    assert.equal(Version, '2016-11-15');
    assert.deepEqual(describe, { 'Owner.1': 'self', 'Filter.1.Name': 'name', 'Filter.1.Value.1': 'web (1.0) [x86_64]' });
    assert.deepEqual(sent[1]!.params, {
      Action: 'RegisterImage',
      Version: '2016-11-15',
      ImageLocation: 'register-cli/os/web-1.manifest.xml',
      Name: 'web (1.0) [x86_64]',
      Description: 'web server, build 1',
      Architecture: 'x86_64',
      KernelId: 'aki-88aa75e1',
      RamdiskId: 'ari-a51cf9cc',
      'BlockDeviceMapping.1.DeviceName': 'sdb',
      'BlockDeviceMapping.1.VirtualName': 'ephemeral0',
      'BlockDeviceMapping.2.DeviceName': '/dev/sdc',
      'BlockDeviceMapping.2.VirtualName': 'ephemeral1',
      VirtualizationType: 'paravirtual',
    });
    assert.equal(sent[1]!.accessKeyId, S3RVER_CREDENTIALS.accessKeyId, 'signed with the credentials of the default chain');
    const imageId = m[1]!;
    assert.deepEqual(
      ec2.liveImages().map((i) => [i.imageId, i.name, i.imageLocation]),
      [[imageId, 'web (1.0) [x86_64]', 'register-cli/os/web-1.manifest.xml']],
    );

    // the same command again: the image is found and reported, not registered twice
    const again = await register([location, '-n', 'web (1.0) [x86_64]', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(JSON.parse(again.stdout), { imageId, region: 'us-east-1', name: 'web (1.0) [x86_64]', imageLocation: 'register-cli/os/web-1.manifest.xml', adopted: true });
    assert.equal(ec2.calls('RegisterImage').length, 1);

    const d = await bundlefarm(['deregister', imageId, '--endpoint', ec2.endpoint, '--region', 'us-east-1'], { env: ENV });
    assert.equal(d.code, 0, d.stderr);
    assert.equal(d.stdout, `IMAGE\t${imageId}\n`);
    assert.deepEqual(ec2.calls('DeregisterImage').at(-1)!.params, { Action: 'DeregisterImage', Version: '2016-11-15', ImageId: imageId });
    assert.deepEqual(ec2.liveImages(), []);
    const gone = await bundlefarm(['deregister', imageId, '--endpoint', ec2.endpoint, '--region', 'us-east-1'], { env: ENV });
    assertOneLineError(gone, 'BF_AMI_NOT_FOUND', /InvalidAMIID\.NotFound/);
  });

  it('a name another image holds is BF_AMI_NAME_TAKEN (from the look-up, and from EC2 InvalidAMIName.Duplicate)', async () => {
    const first = await upload('db-1', 'a/');
    const second = await upload('db-2', 'b/');
    const r1 = await register([first, '-n', 'database']);
    assert.equal(r1.code, 0, r1.stderr);
    const holder = /ami-[0-9a-f]+/.exec(r1.stdout)![0];
    const registered = ec2.calls('RegisterImage').length;
    const r2 = await register([second, '-n', 'database']);
    assertOneLineError(r2, 'BF_AMI_NAME_TAKEN', new RegExp(`"database" is already in use by ${holder} \\(register-cli/a/db-1\\.manifest\\.xml\\)`));
    assert.equal(ec2.calls('RegisterImage').length, registered, 'no RegisterImage was sent for a name in use');

    // RegisterImage straight away (no look-up): EC2's own InvalidAMIName.Duplicate maps to the same typed error
    const ec2Client = createEc2Client({ region: 'us-east-1', endpoint: ec2.endpoint, credentials: { ...S3RVER_CREDENTIALS } });
    try {
      await assert.rejects(registerImage(ec2Client, { manifest: { bucket: BUCKET, key: 'b/db-2.manifest.xml' }, name: 'database' }, { region: 'us-east-1' }), (err: unknown) => {
        assert.ok(err instanceof AmiNameTakenError, String(err));
        assert.equal(err.transient, false);
        assert.equal(err.details.imageId, holder);
        return true;
      });
      assert.equal(ec2.calls('RegisterImage').at(-1)!.errorCode, 'InvalidAMIName.Duplicate');
    } finally {
      ec2Client.destroy();
    }
  });

  it('EC2 errors are typed one-line errors: InvalidManifest, bad names, auth, throttling (transient, after the SDK retried)', async () => {
    const privateOne = await upload('secret-1', 'p/', 'private');
    const r1 = await register([privateOne, '-n', 'secret-1']);
    assertOneLineError(r1, 'BF_EC2_MANIFEST_INVALID', /InvalidManifest|AccessDenied/);
    assert.equal(ec2.calls('RegisterImage').at(-1)!.errorCode, 'InvalidManifest', 'EC2 cannot read a manifest without aws-exec-read');

    const r2 = await register([`${BUCKET}/missing/none.manifest.xml`, '-n', 'none-here']);
    assertOneLineError(r2, 'BF_EC2_MANIFEST_INVALID');

    const location = await upload('names-1', 'n/');
    const sentBefore = ec2.requests.length;
    const r3 = await register([location, '-n', 'no*stars']);
    assertOneLineError(r3, 'BF_AMI_NAME_INVALID', /character "\*" is not allowed/);
    const r4 = await register([location, '-n', 'ab']);
    assertOneLineError(r4, 'BF_AMI_NAME_INVALID', /3 to 128 characters/);
    assert.equal(ec2.requests.length, sentBefore, 'names EC2 would refuse are refused before any request');

    const r5 = await bundlefarm(['register', location, '-n', 'names-1', '--endpoint', ec2.endpoint, '--region', 'us-east-1'], {
      env: { ...ENV, AWS_SECRET_ACCESS_KEY: 'not-the-secret' },
    });
    assertOneLineError(r5, 'BF_EC2_ACCESS_DENIED', /AuthFailure/);
    assert.ok(!r5.stderr.includes('not-the-secret'));

    ec2.failNext('DescribeImages', 'RequestLimitExceeded', 503, 10);
    const r6 = await register([location, '-n', 'names-1']);
    assertOneLineError(r6, 'BF_EC2_UNAVAILABLE', /RequestLimitExceeded/);
    assert.equal(ec2.calls('DescribeImages').filter((q) => q.errorCode === 'RequestLimitExceeded').length, 3, 'the SDK tried 3 times');

    const r7 = await register([location, '-n', 'names-1', '-b', 'swap=sdb']);
    assertOneLineError(r7, 'BF_BAD_OPTION', /ephemeral0 to ephemeral23/);
    const r8 = await register(['not-a-location', '-n', 'names-1']);
    assertOneLineError(r8, 'BF_BAD_OPTION', /BUCKET\/\[PREFIX\/\]NAME\.manifest\.xml/);
  });
});
