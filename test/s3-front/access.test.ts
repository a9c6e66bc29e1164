import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ALL_USERS, EC2_ACCOUNT } from '@bundlefarm/s3-local';
import { registerS3Credentials } from '../helpers/s3-server.js';
import { bucketIn, client, frontServer, sdkRefusal, send } from './front-fixture.js';

/*
 * Who may read what: a bucket belongs to an account; its objects carry the canned ACL they were
 * written with, listed back by GetObjectAcl as S3 lists it; `aws-exec-read` lets EC2 (the `za-team`
 * canonical user) read a bundle and nobody else; a bucket with ACLs disabled refuses ACL headers.
 * And the conditional requests S3 honours (If-Match / If-None-Match), on reads and writes.
 */
async function grantsOf(bucket: string, key: string): Promise<Array<[string | undefined, string | undefined]>> {
  const policy = await (await client()).send(new GetObjectAclCommand({ Bucket: bucket, Key: key }));
  return (policy.Grants ?? []).map((g) => [g.Grantee?.DisplayName ?? g.Grantee?.URI, g.Permission]);
}

describe('the S3 front: ACLs and accounts', () => {
  it('aws-exec-read: owner FULL_CONTROL and EC2 (za-team) READ; EC2 can read the object, another account and anonymous callers cannot', async () => {
    const s3 = await frontServer();
    const owner = await client();
    const bucket = await bucketIn('us-east-1');
    await owner.send(new PutObjectCommand({ Bucket: bucket, Key: 'b.part.0', Body: 'part', ACL: 'aws-exec-read' }));
    await owner.send(new PutObjectCommand({ Bucket: bucket, Key: 'private', Body: 'secret' }));
    const policy = await owner.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'b.part.0' }));
    assert.equal(policy.Owner?.DisplayName, 'bundlefarm-test');
    assert.deepEqual(
      policy.Grants?.map((g) => [g.Grantee?.Type, g.Grantee?.ID, g.Grantee?.DisplayName, g.Permission]),
      [
        ['CanonicalUser', policy.Owner?.ID, 'bundlefarm-test', 'FULL_CONTROL'],
        ['CanonicalUser', EC2_ACCOUNT.canonicalId, 'za-team', 'READ'],
      ],
    );
    assert.deepEqual(await grantsOf(bucket, 'private'), [['bundlefarm-test', 'FULL_CONTROL']]);
    assert.equal(s3.front.objectAcl(bucket, 'b.part.0')?.acl, 'aws-exec-read');

    const ec2 = await client('us-east-1', { credentials: registerS3Credentials({ account: 'za-team' }) });
    const read = await ec2.send(new GetObjectCommand({ Bucket: bucket, Key: 'b.part.0' }));
    assert.equal(await read.Body!.transformToString(), 'part');
    assert.deepEqual((await sdkRefusal(ec2.send(new GetObjectCommand({ Bucket: bucket, Key: 'private' })))).code, 'AccessDenied');
    assert.deepEqual((await sdkRefusal(ec2.send(new PutObjectCommand({ Bucket: bucket, Key: 'x', Body: 'x' })))).status, 403);
    const stranger = await client('us-east-1', { credentials: registerS3Credentials({ account: 'someone-else' }) });
    assert.equal((await sdkRefusal(stranger.send(new GetObjectCommand({ Bucket: bucket, Key: 'b.part.0' })))).code, 'AccessDenied');
    const anonymous = await send({ method: 'GET', url: `${s3.endpoint}/${bucket}/b.part.0`, sign: false });
    assert.deepEqual([anonymous.status, anonymous.error?.Code], [403, 'AccessDenied']);
  });

  it('public-read lets anyone read; PutObjectAcl changes the grants; an ACL S3 does not know → 400 InvalidArgument', async () => {
    const s3 = await frontServer();
    const owner = await client();
    const bucket = await bucketIn('us-east-1');
    await owner.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'hello', ACL: 'public-read' }));
    assert.deepEqual(await grantsOf(bucket, 'k'), [
      ['bundlefarm-test', 'FULL_CONTROL'],
      [ALL_USERS, 'READ'],
    ]);
    assert.equal((await send({ method: 'GET', url: `${s3.endpoint}/${bucket}/k`, sign: false })).status, 200);
    await owner.send(new PutObjectAclCommand({ Bucket: bucket, Key: 'k', ACL: 'private' }));
    assert.equal((await send({ method: 'GET', url: `${s3.endpoint}/${bucket}/k`, sign: false })).status, 403);
    const unknown = await send({ method: 'PUT', url: `${s3.endpoint}/${bucket}/k2`, body: 'x', headers: { 'x-amz-acl': 'ec2-bundle-read' } });
    assert.deepEqual([unknown.status, unknown.error?.Code, unknown.error?.ArgumentName, unknown.error?.ArgumentValue], [400, 'InvalidArgument', 'x-amz-acl', 'ec2-bundle-read']);
    const missing = await sdkRefusal(owner.send(new GetObjectAclCommand({ Bucket: bucket, Key: 'nothing-here' })));
    assert.deepEqual([missing.status, missing.code], [404, 'NoSuchKey']);
  });

  it('a bucket with ACLs disabled (BucketOwnerEnforced) refuses ACL headers with AccessControlListNotSupported, takes bucket-owner-full-control', async () => {
    const owner = await client();
    const bucket = await bucketIn('us-east-1', { objectOwnership: 'BucketOwnerEnforced' });
    const refused = await sdkRefusal(owner.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ACL: 'aws-exec-read' })));
    assert.deepEqual([refused.status, refused.code], [400, 'AccessControlListNotSupported']);
    await owner.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x', ACL: 'bucket-owner-full-control' }));
    await owner.send(new PutObjectCommand({ Bucket: bucket, Key: 'plain', Body: 'x' }));
  });

  it('a multipart upload gets the ACL it was started with', async () => {
    const owner = await client();
    const bucket = await bucketIn('us-east-1');
    const { UploadId } = await owner.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big', ACL: 'aws-exec-read' }));
    const part = await owner.send(new UploadPartCommand({ Bucket: bucket, Key: 'big', UploadId, PartNumber: 1, Body: randomBytes(1000) }));
    await owner.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'big', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    assert.deepEqual(await grantsOf(bucket, 'big'), [
      ['bundlefarm-test', 'FULL_CONTROL'],
      ['za-team', 'READ'],
    ]);
  });
});

describe('the S3 front: conditional requests', () => {
  it('GET with If-Match of another ETag → 412; If-None-Match of its own → 304', async () => {
    const owner = await client();
    const bucket = await bucketIn('us-east-1');
    const put = await owner.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'v1' }));
    const ok = await owner.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', IfMatch: put.ETag }));
    assert.equal(await ok.Body!.transformToString(), 'v1');
    const changed = await sdkRefusal(owner.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', IfMatch: '"0123456789abcdef0123456789abcdef"' })));
    assert.deepEqual([changed.status, changed.code], [412, 'PreconditionFailed']);
    const same = await sdkRefusal(owner.send(new GetObjectCommand({ Bucket: bucket, Key: 'k', IfNoneMatch: put.ETag })));
    assert.equal(same.status, 304);
  });

  it('PUT If-None-Match: * creates only what does not exist: of two racing writers exactly one wins', async () => {
    const s3 = await frontServer();
    const owner = await client();
    const bucket = await bucketIn('us-east-1');
    const outcomes = await Promise.allSettled(
      ['a', 'b', 'c'].map((body) => owner.send(new PutObjectCommand({ Bucket: bucket, Key: 'once', Body: body, IfNoneMatch: '*' }))),
    );
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
    const refusals = s3.requests.filter((r) => r.bucket === bucket && r.status === 412);
    assert.deepEqual(
      refusals.map((r) => r.errorCode),
      ['PreconditionFailed', 'PreconditionFailed'],
    );
    const stale = await sdkRefusal(owner.send(new PutObjectCommand({ Bucket: bucket, Key: 'once', Body: 'x', IfMatch: '"0123456789abcdef0123456789abcdef"' })));
    assert.equal(stale.status, 412);
    const absent = await sdkRefusal(owner.send(new PutObjectCommand({ Bucket: bucket, Key: 'never', Body: 'x', IfMatch: '"0123456789abcdef0123456789abcdef"' })));
    assert.deepEqual([absent.status, absent.code], [404, 'NoSuchKey']);
  });
});

describe('the S3 front: the request log', () => {
  it('waitFor resolves on a request still to come; answeredOrder orders what took effect', async () => {
    const s3 = await frontServer();
    const owner = await client();
    const bucket = await bucketIn('us-east-1');
    const seen = s3.requests.waitFor((r) => r.bucket === bucket && r.operation === 'PutObject' && r.key === 'second');
    await owner.send(new PutObjectCommand({ Bucket: bucket, Key: 'first', Body: 'x' }));
    await owner.send(new PutObjectCommand({ Bucket: bucket, Key: 'second', Body: 'x' }));
    const second = await seen;
    const first = s3.requests.filter((r) => r.bucket === bucket && r.key === 'first')[0]!;
    assert.ok(first.answeredOrder < second.answeredOrder && first.answeredOrder > 0);
    assert.ok(first.answeredSeq < second.receivedSeq, 'the first was answered before the second arrived');
    assert.ok(second.receivedSeq < second.answeredSeq);
    await assert.rejects(s3.requests.waitFor(() => false, 50), /no matching S3 request within 50 ms/);
  });
});
