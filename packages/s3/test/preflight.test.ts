import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelledError } from '@bundlefarm/errors';
import {
  PREFLIGHT_OBJECT_PREFIX,
  S3AccessDeniedError,
  S3AclNotSupportedError,
  S3BucketNotFoundError,
  S3RegionMismatchError,
  S3UnavailableError,
  normalizeBucketLocation,
  preflightTarget,
} from '@bundlefarm/s3';
import { s3Requests } from '@bundlefarm/testkit/fault-proxy.js';
import { freshBucket, listKeys, s3Server, testClient, testProxy } from './s3-fixture.js';

const location = (constraint: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${constraint}</LocationConstraint>`;

describe('preflightTarget', () => {
  it('passes for a usable bucket, writes the probe with the ACL, and leaves nothing', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint });
    const direct = await testClient();
    const bucket = await freshBucket();
    const result = await preflightTarget(client, { region: 'us-east-1', bucket, prefix: 'images' });
    assert.deepEqual(result, { bucket, bucketRegion: 'us-east-1' });
    const put = proxy.requests.find(s3Requests.putObject)!;
    assert.match(put.path, new RegExp(`^/${bucket}/images/\\${PREFLIGHT_OBJECT_PREFIX}[0-9a-f]{16}$`));
    assert.equal(put.headers['x-amz-acl'], 'aws-exec-read');
    assert.equal(put.headers['content-md5'], put.bodyMd5);
    assert.deepEqual(
      proxy.requests.map((r) => r.method),
      ['HEAD', 'GET', 'PUT', 'DELETE'],
    );
    assert.deepEqual(await listKeys(direct, bucket), []);
  });

  it('missing bucket → permanent S3BucketNotFoundError', async () => {
    const client = await testClient();
    const err = await preflightTarget(client, { region: 'us-east-1', bucket: 'no-such-bucket-anywhere' }).catch((e: unknown) => e);
    assert.ok(err instanceof S3BucketNotFoundError, String(err));
    assert.equal(err.transient, false);
    assert.match(err.message, /no-such-bucket-anywhere/);
  });

  it('bucket in another region → permanent S3RegionMismatchError naming both regions', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint });
    const bucket = await freshBucket();
    proxy.addFault({ action: { type: 'respond', status: 200, body: location('eu-central-1') }, match: s3Requests.bucketLocation });
    const err = await preflightTarget(client, { region: 'us-east-1', bucket }).catch((e: unknown) => e);
    assert.ok(err instanceof S3RegionMismatchError, String(err));
    assert.equal(err.transient, false);
    assert.match(err.message, /eu-central-1/);
    assert.match(err.message, /us-east-1/);
    assert.equal(proxy.requests.filter(s3Requests.putObject).length, 0, 'no probe written to a wrong-region bucket');
  });

  it('a 301 from the bucket’s real region (AWS answers HeadBucket so) → S3RegionMismatchError', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint });
    const bucket = await freshBucket();
    proxy.addFault({ action: { type: 'respond', status: 301, headers: { 'x-amz-bucket-region': 'ap-southeast-2' } }, match: (r) => r.method === 'HEAD' });
    const err = await preflightTarget(client, { region: 'us-east-1', bucket }).catch((e: unknown) => e);
    assert.ok(err instanceof S3RegionMismatchError, String(err));
    assert.deepEqual({ expected: err.details.expected, actual: err.details.actual }, { expected: 'us-east-1', actual: 'ap-southeast-2' });
  });

  it('a bucket of another region, reached at the configured region’s endpoint (S3: 301 PermanentRedirect) → S3RegionMismatchError, nothing written', async () => {
    const s3 = await s3Server();
    const bucket = await freshBucket('b', { region: 'eu-central-1' });
    const client = await testClient();
    const err = await preflightTarget(client, { region: 'us-east-1', bucket }).catch((e: unknown) => e);
    assert.ok(err instanceof S3RegionMismatchError, String(err));
    assert.deepEqual({ expected: err.details.expected, actual: err.details.actual }, { expected: 'us-east-1', actual: 'eu-central-1' });
    assert.deepEqual(
      s3.requests.filter((r) => r.bucket === bucket).map((r) => [r.operation, r.status]),
      [['HeadBucket', 301]],
    );
  });

  it('a client signing for the wrong region at the bucket’s endpoint (S3: 400 naming the region) → S3RegionMismatchError', async () => {
    const bucket = await freshBucket('b', { region: 'eu-central-1' });
    const client = await testClient({ endpoint: (await s3Server()).endpointFor('eu-central-1'), region: 'us-east-1' });
    const err = await preflightTarget(client, { region: 'us-east-1', bucket }).catch((e: unknown) => e);
    assert.ok(err instanceof S3RegionMismatchError, String(err));
    assert.equal(err.details.actual, 'eu-central-1');
  });

  it('a bucket with ACLs disabled (BucketOwnerEnforced, S3’s default since 2023) → S3AclNotSupportedError; a wrong secret → S3AccessDeniedError', async () => {
    const enforced = await freshBucket('b', { objectOwnership: 'BucketOwnerEnforced' });
    const acl = await preflightTarget(await testClient(), { region: 'us-east-1', bucket: enforced }).catch((e: unknown) => e);
    assert.ok(acl instanceof S3AclNotSupportedError, String(acl));
    assert.equal(acl.transient, false);
    const bucket = await freshBucket();
    const wrong = await testClient({ credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'not-the-secret' } });
    const denied = await preflightTarget(wrong, { region: 'us-east-1', bucket }).catch((e: unknown) => e);
    assert.ok(denied instanceof S3AccessDeniedError, String(denied));
    assert.equal(denied.transient, false);
    assert.deepEqual(await listKeys(await testClient(), bucket), []);
  });

  it('legacy location constraints: EU is eu-west-1, empty is us-east-1', async () => {
    assert.equal(normalizeBucketLocation('EU'), 'eu-west-1');
    assert.equal(normalizeBucketLocation(''), 'us-east-1');
    assert.equal(normalizeBucketLocation(null), 'us-east-1');
    assert.equal(normalizeBucketLocation(undefined), 'us-east-1');
    assert.equal(normalizeBucketLocation('ap-south-1'), 'ap-south-1');
    const bucket = await freshBucket('b', { region: 'eu-west-1' });
    const proxy = await testProxy({ region: 'eu-west-1' });
    const client = await testClient({ endpoint: proxy.endpoint, region: 'eu-west-1' });
    proxy.addFault({ action: { type: 'respond', status: 200, body: location('EU') }, match: s3Requests.bucketLocation });
    assert.equal((await preflightTarget(client, { region: 'eu-west-1', bucket })).bucketRegion, 'eu-west-1');
  });

  it('a store without GetBucketLocation: region unknown, the rest still checked', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint });
    const bucket = await freshBucket();
    proxy.addFault({ action: { type: 'status', status: 501, code: 'NotImplemented' }, match: s3Requests.bucketLocation });
    assert.deepEqual(await preflightTarget(client, { region: 'us-east-1', bucket }), { bucket, bucketRegion: undefined });
  });

  it('403 on the probe → permanent S3AccessDeniedError naming bucket and operation', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint });
    const bucket = await freshBucket();
    proxy.addFault({ action: { type: 'status', status: 403, code: 'AccessDenied' }, match: s3Requests.putObject });
    const err = await preflightTarget(client, { region: 'us-east-1', bucket }).catch((e: unknown) => e);
    assert.ok(err instanceof S3AccessDeniedError, String(err));
    assert.equal(err.transient, false);
    assert.match(err.message, new RegExp(`PutObject with ACL aws-exec-read on S3 bucket ${bucket}`));
  });

  it('a bucket with ACLs disabled → S3AclNotSupportedError explaining the fix', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint });
    const bucket = await freshBucket();
    proxy.addFault({ action: { type: 'status', status: 400, code: 'AccessControlListNotSupported' }, match: s3Requests.putObject });
    const err = await preflightTarget(client, { region: 'us-east-1', bucket }).catch((e: unknown) => e);
    assert.ok(err instanceof S3AclNotSupportedError, String(err));
    assert.match(err.message, /enable ACLs/);
  });

  it('5xx, and a server that is not there → transient S3UnavailableError', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint });
    const bucket = await freshBucket();
    proxy.addFault({ action: { type: 'status', status: 503 } });
    const err = await preflightTarget(client, { region: 'us-east-1', bucket }).catch((e: unknown) => e);
    assert.ok(err instanceof S3UnavailableError, String(err));
    assert.equal(err.transient, true);

    const nowhere = await testClient({ endpoint: 'http://127.0.0.1:9' });
    const refused = await preflightTarget(nowhere, { region: 'us-east-1', bucket }).catch((e: unknown) => e);
    assert.ok(refused instanceof S3UnavailableError, String(refused));
    assert.match(refused.message, /ECONNREFUSED/);
  });

  it('a probe stored although its PUT failed (the answer was lost on the way back) is removed all the same', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint });
    const direct = await testClient();
    const bucket = await freshBucket();
    proxy.addFault({ action: { type: 'lose-response' }, match: s3Requests.putObject, times: 1 });
    const err = await preflightTarget(client, { region: 'us-east-1', bucket }).catch((e: unknown) => e);
    assert.ok(err instanceof S3UnavailableError, String(err));
    // the message says where: bucket and region
    assert.match(err.message, new RegExp(`on bucket ${bucket} in us-east-1 failed`));
    assert.equal(proxy.counters.lostResponses, 1, 'the probe reached the server');
    assert.deepEqual(await listKeys(direct, bucket), []);
  });

  it('a request timeout is transient too', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint, requestTimeoutMs: 200 });
    const bucket = await freshBucket();
    proxy.addFault({ action: { type: 'delay', ms: 2_000 } });
    const err = await preflightTarget(client, { region: 'us-east-1', bucket }).catch((e: unknown) => e);
    assert.ok(err instanceof S3UnavailableError, String(err));
    assert.match(err.message, /TimeoutError|ETIMEDOUT/);
  });

  it('can be cancelled; a deadline signal (AbortSignal.timeout) is a transient error, not a cancellation', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint });
    const bucket = await freshBucket();
    proxy.addFault({ action: { type: 'delay', ms: 2_000 } });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const cancelled = await preflightTarget(client, { region: 'us-east-1', bucket }, { signal: controller.signal }).catch((e: unknown) => e);
    assert.ok(cancelled instanceof CancelledError, String(cancelled));
    const late = await preflightTarget(client, { region: 'us-east-1', bucket }, { signal: AbortSignal.timeout(50) }).catch((e: unknown) => e);
    assert.ok(late instanceof S3UnavailableError, String(late));
    assert.equal(late.transient, true);
  });
});
