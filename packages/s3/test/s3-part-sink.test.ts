import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { GetObjectAclCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { PartSink } from '@bundlefarm/engine';
import { CancelledError, InvalidOptionError, isBundlefarmError } from '@bundlefarm/errors';
import {
  OWNER_METADATA,
  S3AllRegionsFailedError,
  S3BucketNotFoundError,
  S3PartSink,
  S3UnavailableError,
  type RetryEvent,
  type S3Target,
  type WithdrawnBundle,
} from '@bundlefarm/s3';
import { partSinkContract } from '../../../test/contracts/part-sink.contract.js';
import { s3Requests, type RequestInfo } from '@bundlefarm/testkit/fault-proxy.js';
import { SMALL } from '@bundlefarm/testkit/fixtures.js';
import { ALL_USERS, EC2_ACCOUNT } from '@bundlefarm/s3-local';
import { createFreshBucket } from '@bundlefarm/testkit/s3-objects.js';
import { freshBucket, getObject, listKeys, quickRetry, s3Server, testClient, testProxy, testServer } from './s3-fixture.js';

const sha1 = (b: Buffer): string => createHash('sha1').update(b).digest('hex');
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('base64');

const where = new WeakMap<PartSink, { bucket: string; prefix: string }>();

partSinkContract('S3PartSink (one target, the S3 front)', {
  async create() {
    const client = await testClient();
    const bucket = await freshBucket('contract');
    const sink = new S3PartSink({ targets: [{ region: 'us-east-1', client, bucket, prefix: 'bundles/x' }], retry: quickRetry });
    where.set(sink, { bucket, prefix: 'bundles/x/' });
    return sink;
  },
  async list(sink) {
    const { bucket, prefix } = where.get(sink)!;
    return listKeys(await testClient(), bucket, prefix);
  },
  async read(sink, name) {
    const { bucket, prefix } = where.get(sink)!;
    return getObject(await testClient(), bucket, prefix + name);
  },
});

/** Puts `parts` through the sink as the engine does (at most maxInFlight pending). */
async function putAll(sink: S3PartSink, parts: Buffer[]): Promise<void> {
  const pending: Array<Promise<void>> = [];
  for (const [index, data] of parts.entries()) {
    pending.push(sink.putPart({ index, data, sha1: sha1(data) }));
    if (pending.length >= sink.maxInFlight) await pending.shift();
  }
  await Promise.all(pending);
}

async function twoRegions(options: { proxyEndpoint?: string } = {}) {
  const direct = await testClient();
  const viaProxy = options.proxyEndpoint ? await testClient({ endpoint: options.proxyEndpoint }) : direct;
  const east = await freshBucket('east');
  const west = await freshBucket('west');
  const targets: S3Target[] = [
    { region: 'us-east-1', client: direct, bucket: east, prefix: 'img/' },
    { region: 'eu-west-1', client: viaProxy, bucket: west, prefix: 'img/' },
  ];
  return { direct, east, west, targets };
}

describe('S3PartSink', () => {
  it('names parts from maxPartCount up front (S3 cannot rename)', async () => {
    const client = await testClient();
    const bucket = await freshBucket();
    const sink = new S3PartSink({ targets: [{ region: 'us-east-1', client, bucket, prefix: '' }] });
    await sink.begin({ name: 'disk.img', maxPartCount: 150 });
    await putAll(sink, [randomBytes(10), randomBytes(10)]);
    assert.deepEqual(await sink.commitParts(2), ['disk.img.part.000', 'disk.img.part.001']);
    assert.deepEqual(await listKeys(client, bucket), ['disk.img.part.000', 'disk.img.part.001']);
  });

  it('multi-region: every part lands in every bucket, each manifest only in its region', async () => {
    const { direct, east, west, targets } = await twoRegions();
    const sink = new S3PartSink({ targets, retry: quickRetry });
    await sink.begin({ name: 'm', maxPartCount: 5 });
    const parts = Array.from({ length: 5 }, (_, i) => randomBytes(200_000 + i));
    await putAll(sink, parts);
    const names = await sink.commitParts(5);
    await sink.putManifestFor('us-east-1', 'm.manifest.xml', '<east/>');
    await sink.putManifestFor('eu-west-1', 'm.manifest.xml', '<west/>');
    for (const bucket of [east, west]) {
      assert.deepEqual(await listKeys(direct, bucket, 'img/'), [...names, 'm.manifest.xml'].sort());
      for (const [i, name] of names.entries()) assert.ok((await getObject(direct, bucket, `img/${name}`)).equals(parts[i]!), `${bucket} ${name}`);
    }
    assert.equal((await getObject(direct, east, 'img/m.manifest.xml')).toString(), '<east/>');
    assert.equal((await getObject(direct, west, 'img/m.manifest.xml')).toString(), '<west/>');
    assert.deepEqual(sink.healthyRegions(), ['us-east-1', 'eu-west-1']);
    assert.equal(sink.failedRegions().size, 0);
    await assert.rejects(sink.putManifest('m.manifest.xml', '<x/>'), InvalidOptionError, 'putManifest is for one target only');
  });

  it('a region whose bucket is missing fails alone; the other completes', async () => {
    const { direct, east, targets } = await twoRegions();
    targets[1] = { ...targets[1]!, bucket: 'no-such-bucket-here' };
    const failures: string[] = [];
    const sink = new S3PartSink({ targets, retry: quickRetry, onRegionFailed: (region) => failures.push(region) });
    await sink.begin({ name: 'half', maxPartCount: 3 });
    await putAll(sink, [randomBytes(1000), randomBytes(1000), randomBytes(10)]);
    const names = await sink.commitParts(3);
    await sink.putManifestFor('us-east-1', 'half.manifest.xml', '<m/>');
    assert.deepEqual(sink.healthyRegions(), ['us-east-1']);
    const failed = sink.failedRegions();
    assert.deepEqual([...failed.keys()], ['eu-west-1']);
    assert.ok(failed.get('eu-west-1') instanceof S3BucketNotFoundError);
    assert.equal(failed.get('eu-west-1')!.transient, false);
    assert.deepEqual(failures, ['eu-west-1'], 'reported once');
    await assert.rejects(sink.putManifestFor('eu-west-1', 'half.manifest.xml', '<m/>'), S3BucketNotFoundError);
    assert.deepEqual(await listKeys(direct, east, 'img/'), [...names, 'half.manifest.xml'].sort());
  });

  it('a region that keeps failing is given up after its retries and its uploads are deleted', async () => {
    const proxy = await testProxy();
    const { direct, east, west, targets } = await twoRegions({ proxyEndpoint: proxy.endpoint });
    const sink = new S3PartSink({ targets, retry: quickRetry, maxInFlight: 2 });
    await sink.begin({ name: 'flaky', maxPartCount: 6 });
    const parts = Array.from({ length: 6 }, () => randomBytes(50_000));
    // west accepts the first two parts, then stays down
    let puts = 0;
    proxy.addFault({ action: { type: 'status', status: 503 }, match: (r) => s3Requests.putObject(r) && ++puts > 2 });
    await putAll(sink, parts);
    const names = await sink.commitParts(6);
    const failure = sink.failedRegions().get('eu-west-1');
    assert.ok(failure instanceof S3UnavailableError, String(failure));
    assert.equal(failure.transient, true);
    assert.deepEqual(await listKeys(direct, west), [], 'the two parts that reached the failed region were deleted');
    assert.deepEqual(await listKeys(direct, east, 'img/'), names);
    assert.deepEqual(sink.leftoverObjects(), []);
  });

  it('a region given up deletes only once its PUTs in flight ended: a PUT that reaches S3 late is not left behind', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint });
    const direct = await testClient();
    const bucket = await freshBucket();
    const sink = new S3PartSink({ targets: [{ region: 'us-east-1', client, bucket, prefix: '' }], retry: quickRetry, maxInFlight: 2 });
    await sink.begin({ name: 'late', maxPartCount: 2 });
    // part 1 fails for good at once; part 0's PUT takes effect at S3 only after that
    const put = (suffix: string) => (r: RequestInfo): boolean => s3Requests.putObject(r) && r.path.endsWith(suffix);
    // (403: refused for good with no retries, so part 1 fails long before part 0's 2 s hold ends even
    // on a loaded machine; a retried 503 raced the hold)
    proxy.addFault({ match: put('.part.0'), action: { type: 'hold-request', ms: 2000 } });
    proxy.addFault({ match: put('.part.1'), action: { type: 'status', status: 403, code: 'AccessDenied' } });
    const outcomes = await Promise.allSettled([0, 1].map((index) => sink.putPart({ index, data: randomBytes(1000), sha1: '00' })));
    assert.ok(outcomes.every((o) => o.status === 'rejected'), 'the only region failed');
    await sink.abort();
    // the held PUT has been answered by S3 (it stored the part) by the time its DELETE was sent
    const held = proxy.requests.find(put('.part.0'))!;
    assert.equal(held.outcome, 'held');
    assert.equal(held.status, 200);
    const heldAt = proxy.requests.indexOf(held);
    assert.ok(proxy.requests.slice(heldAt).some((r) => r.method === 'DELETE' && r.path === held.path));
    assert.deepEqual(await listKeys(direct, bucket), []);
    assert.deepEqual(sink.leftoverObjects(), []);
  });

  it('rejects only when every region failed, with every region’s error', async () => {
    const { targets } = await twoRegions();
    targets[0] = { ...targets[0]!, bucket: 'missing-east' };
    targets[1] = { ...targets[1]!, bucket: 'missing-west' };
    const sink = new S3PartSink({ targets, retry: quickRetry });
    await sink.begin({ name: 'none', maxPartCount: 2 });
    const err = await sink.putPart({ index: 0, data: randomBytes(10), sha1: '00' }).catch((e: unknown) => e);
    assert.ok(err instanceof S3AllRegionsFailedError, String(err));
    assert.deepEqual([...err.regions.keys()], ['us-east-1', 'eu-west-1']);
    assert.equal(err.transient, false);
    assert.match(err.message, /missing-east.*missing-west/);
  });

  it('abort removes parts and manifests in every region and is idempotent', async () => {
    const { direct, east, west, targets } = await twoRegions();
    const sink = new S3PartSink({ targets, retry: quickRetry });
    await sink.begin({ name: 'gone', maxPartCount: 3 });
    await putAll(sink, [randomBytes(100), randomBytes(100), randomBytes(100)]);
    await sink.commitParts(3);
    await sink.putManifestFor('us-east-1', 'gone.manifest.xml', '<m/>');
    assert.equal((await listKeys(direct, east)).length, 4);
    await sink.abort();
    await sink.abort();
    assert.deepEqual(await listKeys(direct, east), []);
    assert.deepEqual(await listKeys(direct, west), []);
    assert.deepEqual(sink.leftoverObjects(), []);
    await assert.rejects(sink.putManifestFor('eu-west-1', 'gone.manifest.xml', '<m/>'), CancelledError);
    await assert.rejects(sink.commitParts(3), CancelledError);
  });

  it('the manifest goes up only after commitParts', async () => {
    const client = await testClient();
    const sink = new S3PartSink({ targets: [{ region: 'us-east-1', client, bucket: await freshBucket(), prefix: '' }] });
    await sink.begin({ name: 'early', maxPartCount: 1 });
    await sink.putPart({ index: 0, data: randomBytes(10), sha1: '00' });
    await assert.rejects(sink.putManifest('early.manifest.xml', '<m/>'), /before commitParts/);
    await sink.abort();
  });

  it('sends x-amz-acl (aws-exec-read by default, or the one chosen) and a correct Content-MD5 on every PUT; stored bytes equal the parts', async () => {
    // ec2-bundle-read is Eucalyptus' name (S3 refuses it): sent to a store that takes it as aws-exec-read
    const walrus = await testServer({ cannedAclAliases: { 'ec2-bundle-read': 'aws-exec-read' } });
    const cases = [
      { acl: undefined, server: await s3Server(), grantee: EC2_ACCOUNT.canonicalId },
      { acl: 'public-read', server: await s3Server(), grantee: ALL_USERS },
      { acl: 'ec2-bundle-read', server: walrus, grantee: EC2_ACCOUNT.canonicalId },
    ] as const;
    for (const { acl, server, grantee } of cases) {
      const proxy = await testProxy({ server });
      const direct = await testClient({ server });
      const client = await testClient({ server, endpoint: proxy.endpoint });
      const bucket = await createFreshBucket(server, 'acl');
      const sink = new S3PartSink({ targets: [{ region: 'us-east-1', client, bucket, prefix: 'p' }], ...(acl ? { acl } : {}) });
      await sink.begin({ name: 'a', maxPartCount: 3 });
      const parts = [randomBytes(3 * 1024 * 1024), randomBytes(5000), randomBytes(1)];
      await putAll(sink, parts);
      const names = await sink.commitParts(3);
      await sink.putManifest('a.manifest.xml', '<manifest/>');
      const puts = proxy.requests.filter((r) => r.method === 'PUT');
      assert.equal(puts.length, 4);
      for (const put of puts) {
        assert.equal(put.headers['x-amz-acl'], acl ?? 'aws-exec-read', put.path);
        assert.equal(put.headers['content-md5'], put.bodyMd5, `${put.path}: Content-MD5 is the MD5 of the body sent`);
      }
      for (const [i, name] of names.entries()) {
        const put = puts.find((p) => p.path === `/${bucket}/p/${name}`)!;
        assert.equal(put.headers['content-md5'], md5(parts[i]!));
        assert.ok((await getObject(direct, bucket, `p/${name}`)).equals(parts[i]!), `${name} stored intact`);
      }
      // what S3 lists as the objects' ACL: the owner, and READ for EC2 (or everyone)
      for (const key of [...names.map((n) => `p/${n}`), 'p/a.manifest.xml']) {
        const policy = await direct.send(new GetObjectAclCommand({ Bucket: bucket, Key: key }));
        const grants = (policy.Grants ?? []).map((g) => [g.Grantee?.ID ?? g.Grantee?.URI, g.Permission]);
        assert.deepEqual(grants, [
          [policy.Owner?.ID, 'FULL_CONTROL'],
          [grantee, 'READ'],
        ]);
      }
    }
  });

  it('a wrong Content-MD5 is refused with BadDigest, and nothing is stored', async () => {
    const client = await testClient();
    const bucket = await freshBucket();
    const body = randomBytes(1000);
    const wrong = md5(Buffer.from('something else'));
    await assert.rejects(client.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: body, ContentMD5: wrong })), (err: Error) => {
      assert.equal(err.name, 'BadDigest');
      return true;
    });
    assert.deepEqual(await listKeys(client, bucket), []);
  });

  it('a part damaged in transit is refused by S3 (its signed SHA-256 and Content-MD5 no longer match) and sent again, intact', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint });
    const direct = await testClient();
    const bucket = await freshBucket();
    const s3 = await s3Server();
    const sink = new S3PartSink({ targets: [{ region: 'us-east-1', client, bucket, prefix: '' }], retry: quickRetry });
    proxy.addFault({ action: { type: 'corrupt-request' }, match: s3Requests.putObject, times: 2 });
    await sink.begin({ name: 'd', maxPartCount: 1 });
    const part = randomBytes(64 * 1024);
    await sink.putPart({ index: 0, data: part, sha1: sha1(part) });
    await sink.commitParts(1);
    assert.equal(proxy.counters.corrupted, 2);
    // S3 checks the signed payload hash before Content-MD5: a damaged body fails that first
    const puts = s3.requests.filter((r) => r.operation === 'PutObject' && r.bucket === bucket);
    assert.deepEqual(
      puts.map((r) => [r.status, r.errorCode]),
      [
        [400, 'XAmzContentSHA256Mismatch'],
        [400, 'XAmzContentSHA256Mismatch'],
        [200, undefined],
      ],
    );
    assert.ok((await getObject(direct, bucket, 'd.part.0')).equals(part));
  });

  it('retries 5xx, throttling and dropped connections with backoff and completes the bundle', async () => {
    const proxy = await testProxy({ seed: 7 });
    const client = await testClient({ endpoint: proxy.endpoint, maxAttempts: 2 });
    const direct = await testClient();
    const bucket = await freshBucket();
    const retries: Array<RetryEvent & { region: string }> = [];
    const sink = new S3PartSink({
      targets: [{ region: 'us-east-1', client, bucket, prefix: '' }],
      retry: { attempts: 6, baseDelayMs: 5, maxDelayMs: 50 },
      onRetry: (e) => retries.push(e),
    });
    proxy.addFault({ action: { type: 'status', status: 500 }, match: s3Requests.putObject, times: 3 });
    proxy.addFault({ action: { type: 'status', status: 503, code: 'SlowDown' }, match: s3Requests.putObject, times: 2 });
    proxy.addFault({ action: { type: 'drop-request', afterBytes: 4096 }, match: s3Requests.putObject, times: 2 });
    proxy.addFault({ action: { type: 'status', status: 503 }, match: s3Requests.putObject, share: 0.2 });
    await sink.begin({ name: 'r', maxPartCount: 8 });
    const parts = Array.from({ length: 8 }, () => randomBytes(100_000));
    await putAll(sink, parts);
    const names = await sink.commitParts(8);
    for (const [i, name] of names.entries()) assert.ok((await getObject(direct, bucket, name)).equals(parts[i]!));
    assert.ok(proxy.counters.injectedStatus >= 5 && proxy.counters.droppedRequests === 2, JSON.stringify(proxy.counters));
    assert.ok(retries.length > 0, 'our layer retried as well as the SDK');
    assert.ok(retries.every((e) => e.delayMs >= 0 && e.delayMs <= 50 && e.region === 'us-east-1'));
    assert.equal(sink.failedRegions().size, 0);
  });

  it('when S3 stays down: a clear transient error after the attempts, and nothing left behind', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint, maxAttempts: 2 });
    const direct = await testClient();
    const bucket = await freshBucket();
    const sink = new S3PartSink({ targets: [{ region: 'us-east-1', client, bucket, prefix: '' }], retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 } });
    await sink.begin({ name: 'down', maxPartCount: 3 });
    await sink.putPart({ index: 0, data: randomBytes(1000), sha1: '00' });
    proxy.resetRecords();
    proxy.addFault({ action: { type: 'status', status: 503 }, match: s3Requests.putObject });
    const err = await sink.putPart({ index: 1, data: randomBytes(1000), sha1: '00' }).catch((e: unknown) => e);
    assert.ok(err instanceof S3UnavailableError, String(err));
    assert.equal(err.transient, true);
    assert.equal(err.code, 'BF_S3_UNAVAILABLE');
    assert.match(err.message, new RegExp(`PutObject on bucket ${bucket}.*503`));
    assert.ok(!/S3RVER/.test(err.message) && !JSON.stringify(err.toJSON()).includes('S3RVER'), 'no credentials in the error');
    assert.equal(proxy.requests.filter(s3Requests.putObject).length, 3 * 2, '3 tries of ours × 2 SDK attempts');
    await sink.abort();
    assert.deepEqual(await listKeys(direct, bucket), [], 'the part that did land was deleted');
  });

  it('an AbortSignal cancels in-flight uploads; abort() then cleans up', async () => {
    const proxy = await testProxy();
    const client = await testClient({ endpoint: proxy.endpoint });
    const direct = await testClient();
    const bucket = await freshBucket();
    const controller = new AbortController();
    const sink = new S3PartSink({ targets: [{ region: 'us-east-1', client, bucket, prefix: '' }], signal: controller.signal });
    await sink.begin({ name: 'c', maxPartCount: 3 });
    await sink.putPart({ index: 0, data: randomBytes(1000), sha1: '00' });
    proxy.addFault({ action: { type: 'delay', ms: 5_000 }, match: s3Requests.putObject });
    const slow = sink.putPart({ index: 1, data: randomBytes(1000), sha1: '00' });
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    await assert.rejects(slow, CancelledError);
    assert.ok(Date.now() - started < 3_000, 'cancelled promptly');
    proxy.clearFaults();
    await sink.abort();
    assert.deepEqual(await listKeys(direct, bucket), []);
    await assert.rejects(sink.putPart({ index: 2, data: randomBytes(1), sha1: '00' }), CancelledError);
  });

  it('an abandonSignal stops the sink and leaves what it wrote: the keys are another writer’s now', async () => {
    const client = await testClient();
    const bucket = await freshBucket();
    const abandon = new AbortController();
    const sink = new S3PartSink({ targets: [{ region: 'us-east-1', client, bucket, prefix: '' }], abandonSignal: abandon.signal });
    await sink.begin({ name: 'a', maxPartCount: 2 });
    await sink.putPart({ index: 0, data: randomBytes(1000), sha1: '00' });
    abandon.abort();
    await assert.rejects(sink.putPart({ index: 1, data: randomBytes(1000), sha1: '00' }), CancelledError);
    await sink.abort();
    assert.deepEqual(await listKeys(client, bucket), ['a.part.0'], 'nothing deleted');
    assert.equal(sink.leftoverObjects().length, 1, 'and says so');
  });

  it('verifyWithHead checks every part’s size at commit', async () => {
    const client = await testClient();
    const bucket = await freshBucket();
    const sink = new S3PartSink({ targets: [{ region: 'us-east-1', client, bucket, prefix: '' }], verifyWithHead: true });
    await sink.begin({ name: 'h', maxPartCount: 2 });
    await putAll(sink, [randomBytes(10), randomBytes(20)]);
    // someone replaces a part behind our back
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'h.part.1', Body: randomBytes(5) }));
    const err = await sink.commitParts(2).catch((e: unknown) => e);
    assert.ok(isBundlefarmError(err), String(err));
    assert.match(err.message, /h\.part\.1 holds 5 bytes, 20 were uploaded/);
  });

  it('refuses bad targets and options up front', () => {
    const fake = { send: () => Promise.resolve({}) } as unknown as S3Target['client'];
    assert.throws(() => new S3PartSink({ targets: [] }), InvalidOptionError);
    assert.throws(() => new S3PartSink({ targets: [{ region: 'a', client: fake, bucket: 'Bad_Bucket', prefix: '' }] }), InvalidOptionError);
    assert.throws(() => new S3PartSink({ targets: [{ region: 'a', client: fake, bucket: 'good-bucket', prefix: '/abs' }] }), InvalidOptionError);
    assert.throws(
      () =>
        new S3PartSink({
          targets: [
            { region: 'a', client: fake, bucket: 'good-bucket', prefix: '' },
            { region: 'a', client: fake, bucket: 'other-bucket', prefix: '' },
          ],
        }),
      /appears twice/,
    );
    assert.throws(() => new S3PartSink({ targets: [{ region: 'a', client: fake, bucket: 'good-bucket', prefix: '' }], acl: 'private' as never }), InvalidOptionError);
    assert.throws(() => new S3PartSink({ targets: [{ region: 'a', client: fake, bucket: 'good-bucket', prefix: '' }], maxInFlight: 0 }), InvalidOptionError);
  });
});

describe('S3PartSink and a bundle already published at a target', () => {
  /** A bundle "published" at s3://bucket/img/ as disk: ec2-ami-tools' manifest (naming its one part) and that part, by `owner` (none: not bundlefarm). */
  async function publishedBy(owner?: string): Promise<{ client: Awaited<ReturnType<typeof testClient>>; bucket: string; proxy: Awaited<ReturnType<typeof testProxy>> }> {
    const client = await testClient();
    const bucket = await freshBucket('published');
    const metadata = owner !== undefined ? { Metadata: { [OWNER_METADATA]: owner } } : {};
    const manifest = await readFile(join(SMALL, 'small.img.manifest.xml'));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'img/disk.manifest.xml', Body: manifest, ...metadata }));
    for (const p of ['small.img.part.0']) await client.send(new PutObjectCommand({ Bucket: bucket, Key: `img/${p}`, Body: 'old part', ...metadata }));
    const proxy = await testProxy();
    return { client, bucket, proxy };
  }

  it("someone else's manifest fails the region with BF_BUNDLE_EXISTS, and nothing is written or deleted", async () => {
    const { bucket, proxy } = await publishedBy('another-job@1');
    const viaProxy = await testClient({ endpoint: proxy.endpoint });
    const sink = new S3PartSink({ targets: [{ region: 'us-east-1', client: viaProxy, bucket, prefix: 'img' }], owner: 'this-job@2', retry: quickRetry });
    await sink.begin({ name: 'disk', maxPartCount: 3 });
    await assert.rejects(sink.putPart({ index: 0, data: randomBytes(100), sha1: '00' }), (err) => {
      assert.ok(isBundlefarmError(err) && err.code === 'BF_BUNDLE_EXISTS', String(err));
      assert.match(err.message, new RegExp(`s3://${bucket}/img/disk\\.manifest\\.xml`));
      return true;
    });
    await sink.abort();
    assert.deepEqual(proxy.requests.filter((r) => r.method !== 'HEAD').map((r) => `${r.method} ${r.path}`), [], 'only a look');
    assert.deepEqual(await listKeys(await testClient(), bucket, 'img/'), ['disk.manifest.xml', 'small.img.part.0']);
  });

  it('with replace: withdrawn just before the first part, with the parts its manifest named; every object written carries the owner', async () => {
    const { client, bucket, proxy } = await publishedBy();
    const viaProxy = await testClient({ endpoint: proxy.endpoint });
    const withdrawn: Array<[string, WithdrawnBundle]> = [];
    const sink = new S3PartSink({
      targets: [{ region: 'us-east-1', client: viaProxy, bucket, prefix: 'img' }],
      owner: 'this-job@2',
      replace: true,
      onWithdrawn: (region, w) => void withdrawn.push([region, w]),
      retry: quickRetry,
    });
    await sink.begin({ name: 'disk', maxPartCount: 3 });
    assert.equal(proxy.requests.length, 0, 'nothing looked at or touched before the first part');
    await putAll(sink, [randomBytes(100), randomBytes(100)]);
    const seen = proxy.requests.map((r) => `${r.method} ${r.path}`);
    const del = seen.indexOf(`DELETE /${bucket}/img/disk.manifest.xml`);
    assert.ok(del >= 0 && seen.findIndex((x) => x.startsWith('PUT ')) > del, `withdrawn before the first PUT: ${seen.join(', ')}`);
    assert.deepEqual(withdrawn, [
      ['us-east-1', { manifest: `s3://${bucket}/img/disk.manifest.xml`, own: false, parts: [`s3://${bucket}/img/small.img.part.0`] }],
    ]);
    await sink.commitParts(2);
    await sink.putManifest('disk.manifest.xml', '<manifest/>');
    for (const key of ['img/disk.part.0', 'img/disk.part.1', 'img/disk.manifest.xml']) {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      assert.equal(head.Metadata?.[OWNER_METADATA], 'this-job@2', key);
    }
    assert.deepEqual(sink.writtenKeys('us-east-1').sort(), ['img/disk.manifest.xml', 'img/disk.part.0', 'img/disk.part.1']);
  });

  it("its own manifest (an earlier attempt's) is withdrawn without replace", async () => {
    const { bucket } = await publishedBy('this-job@2');
    const withdrawn: WithdrawnBundle[] = [];
    const sink = new S3PartSink({
      targets: [{ region: 'us-east-1', client: await testClient(), bucket, prefix: 'img' }],
      owner: 'this-job@2',
      onWithdrawn: (_region, w) => void withdrawn.push(w),
      retry: quickRetry,
    });
    await sink.begin({ name: 'disk', maxPartCount: 3 });
    await putAll(sink, [randomBytes(100)]);
    assert.deepEqual(withdrawn, [{ manifest: `s3://${bucket}/img/disk.manifest.xml`, own: true }]);
    await sink.abort();
  });
});
