import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ImageTooLargeError, UnsafePathError } from '@bundlefarm/errors';
import {
  S3ImageSource,
  S3NoSuchKeyError,
  S3ObjectChangedError,
  S3ObjectNotFoundError,
  S3ObjectTooLargeError,
  S3PartSource,
  S3UnavailableError,
  objectSize,
} from '@bundlefarm/s3';
import { s3Requests } from '@bundlefarm/testkit/fault-proxy.js';
import { pseudoRandom } from '@bundlefarm/testkit/images.js';
import { freshBucket, quickRetry, testClient, testProxy } from './s3-fixture.js';

async function putObject(bucket: string, key: string, body: Buffer): Promise<void> {
  await (await testClient()).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

/** Reads a source front to back in the engine's way: increasing positions, blocks of `block` bytes. */
async function readAll(source: S3ImageSource, size: number, block: number): Promise<Buffer> {
  const out = Buffer.alloc(size);
  for (let at = 0; at < size; at += block) await source.read(at, out.subarray(at, Math.min(size, at + block)));
  return out;
}

describe('S3PartSource', () => {
  it('reads parts and the manifest under the prefix', async () => {
    const bucket = await freshBucket();
    const part = randomBytes(300_000);
    await putObject(bucket, 'b/x.part.0', part);
    await putObject(bucket, 'b/x.manifest.xml', Buffer.from('<manifest/>'));
    const source = new S3PartSource({ client: await testClient(), bucket, prefix: 'b' });
    assert.equal(source.location, `s3://${bucket}/b/`);
    assert.ok((await source.readPart('x.part.0', 1024 * 1024)).equals(part));
    assert.equal((await source.readManifest('x.manifest.xml')).toString(), '<manifest/>');
  });

  it('a missing part rejects with code NoSuchKey (the engine makes it PartMissingError)', async () => {
    const source = new S3PartSource({ client: await testClient(), bucket: await freshBucket(), prefix: '' });
    const err = await source.readPart('x.part.7', 100).catch((e: unknown) => e);
    assert.ok(err instanceof S3NoSuchKeyError, String(err));
    assert.equal(err.code, 'NoSuchKey');
    await assert.rejects(source.readManifest('x.manifest.xml'), S3ObjectNotFoundError);
  });

  it('refuses a part larger than maxBytes from its Content-Length, before reading the body', async () => {
    const proxy = await testProxy();
    const bucket = await freshBucket();
    const source = new S3PartSource({ client: await testClient({ endpoint: proxy.endpoint }), bucket, retry: quickRetry });
    // claims 1 GB and sends one byte: reading the body would fail on the short body, not on the size
    proxy.addFault({
      action: { type: 'respond', status: 200, headers: { 'content-type': 'application/octet-stream', 'content-length': String(1e9) }, body: 'x' },
      match: s3Requests.getObject,
    });
    const err = await source.readPart('huge.part.0', 10 * 1024 * 1024).catch((e: unknown) => e);
    assert.ok(err instanceof S3ObjectTooLargeError, String(err));
    assert.equal(proxy.counters.responded, 1, 'refused at once, not retried');
  });

  it('refuses names that would leave the prefix', async () => {
    const source = new S3PartSource({ client: await testClient(), bucket: await freshBucket(), prefix: 'b/' });
    await assert.rejects(source.readPart('../other/x.part.0', 100), UnsafePathError);
    await assert.rejects(source.readPart('a/b', 100), UnsafePathError);
  });

  it('retries a GET that broke and returns the whole part', async () => {
    const proxy = await testProxy();
    const bucket = await freshBucket();
    const part = randomBytes(2 * 1024 * 1024);
    await putObject(bucket, 'p.part.0', part);
    const source = new S3PartSource({ client: await testClient({ endpoint: proxy.endpoint }), bucket, retry: quickRetry });
    proxy.addFault({ action: { type: 'drop-response', afterBytes: 100_000 }, match: s3Requests.getObject, times: 1 });
    proxy.addFault({ action: { type: 'status', status: 500 }, match: s3Requests.getObject, times: 1 });
    assert.ok((await source.readPart('p.part.0', 10 * 1024 * 1024)).equals(part));
    assert.equal(proxy.counters.droppedResponses, 1);
    assert.equal(proxy.counters.injectedStatus, 1);
  });
});

describe('S3ImageSource', () => {
  it('reads a multi-MB object identically, with one GET', async () => {
    const proxy = await testProxy();
    const bucket = await freshBucket();
    const image = pseudoRandom(9 * 1024 * 1024 + 123, 3);
    await putObject(bucket, 'images/disk.img', image);
    const source = new S3ImageSource(await testClient({ endpoint: proxy.endpoint }), `s3://${bucket}/images/disk.img`);
    assert.equal(source.defaultName, 'disk.img');
    assert.equal(source.description, `s3://${bucket}/images/disk.img`);
    const info = await source.open();
    assert.equal(info.size, image.length);
    assert.ok(typeof info.mtime === 'number' && Math.abs(info.mtime - Date.now() / 1000) < 600);
    assert.ok((await readAll(source, image.length, 1024 * 1024 + 7)).equals(image));
    await source.close();
    assert.equal(proxy.requests.filter(s3Requests.getObject).length, 1);
  });

  it('survives dropped connections mid-stream: reconnects with a Range GET from where it was', async () => {
    const proxy = await testProxy();
    const bucket = await freshBucket();
    const image = pseudoRandom(6 * 1024 * 1024, 4);
    await putObject(bucket, 'disk.img', image);
    const retries: number[] = [];
    const source = new S3ImageSource(await testClient({ endpoint: proxy.endpoint }), { bucket, key: 'disk.img' }, {
      retry: quickRetry,
      onRetry: (e) => retries.push(e.attempt),
    });
    await source.open();
    proxy.addFault({ action: { type: 'drop-response', afterBytes: 1_500_000 }, match: s3Requests.getObject, times: 2 });
    proxy.addFault({ action: { type: 'status', status: 503 }, match: s3Requests.getObject, times: 1 });
    assert.ok((await readAll(source, image.length, 512 * 1024)).equals(image));
    await source.close();
    assert.equal(proxy.counters.droppedResponses, 2);
    const gets = proxy.requests.filter(s3Requests.getObject);
    assert.equal(gets[0]!.headers.range, undefined);
    const ranges = gets.slice(1).map((g) => g.headers.range);
    assert.equal(ranges.length, 3, JSON.stringify(ranges));
    for (const r of ranges) assert.match(String(r), /^bytes=[1-9]\d*-$/);
    // the first reconnect starts at a byte the first stream had delivered, never before it
    assert.ok(Number(/=(\d+)-/.exec(String(ranges[0]))![1]) <= 1_500_000);
    assert.ok(retries.length >= 3);
    assert.ok(gets.every((g) => typeof g.headers['if-match'] === 'string'), 'every GET pinned to the ETag seen at open');
  });

  it('gives up with a transient error when the stream keeps breaking without progress', async () => {
    const proxy = await testProxy();
    const bucket = await freshBucket();
    await putObject(bucket, 'disk.img', pseudoRandom(1024 * 1024));
    const source = new S3ImageSource(await testClient({ endpoint: proxy.endpoint }), { bucket, key: 'disk.img' }, { retry: quickRetry });
    await source.open();
    proxy.addFault({ action: { type: 'drop-response', afterBytes: 0 }, match: s3Requests.getObject });
    const err = await source.read(0, Buffer.alloc(1024)).catch((e: unknown) => e);
    assert.ok(err instanceof S3UnavailableError, String(err));
    assert.equal(err.transient, true);
    await source.close();
  });

  it('an object replaced mid-read fails with S3ObjectChangedError instead of mixing versions', async () => {
    const bucket = await freshBucket();
    await putObject(bucket, 'disk.img', pseudoRandom(2 * 1024 * 1024, 1));
    const source = new S3ImageSource(await testClient(), { bucket, key: 'disk.img' }, { retry: quickRetry });
    await source.open();
    await source.read(0, Buffer.alloc(1024));
    await putObject(bucket, 'disk.img', pseudoRandom(2 * 1024 * 1024, 2));
    // reading elsewhere than where the stream is forces a ranged reconnect, which sees another ETag
    // with If-Match of the ETag seen at open: S3 (here the S3 front) answers 412 PreconditionFailed
    await assert.rejects(source.read(1024 * 1024, Buffer.alloc(1024)), S3ObjectChangedError);
    await source.close();
  });

  it('refuses images over 10 GiB at open, from HeadObject', async () => {
    const proxy = await testProxy();
    const bucket = await freshBucket();
    const size = 10 * 1024 * 1024 * 1024 + 1;
    proxy.addFault({
      action: { type: 'respond', status: 200, headers: { 'content-length': String(size), etag: '"0123456789abcdef0123456789abcdef"' } },
      match: (r) => r.method === 'HEAD',
    });
    const source = new S3ImageSource(await testClient({ endpoint: proxy.endpoint }), { bucket, key: 'huge.img' });
    const err = await source.open().catch((e: unknown) => e);
    assert.ok(err instanceof ImageTooLargeError, String(err));
    assert.equal(proxy.requests.filter(s3Requests.getObject).length, 0);
  });

  it('a missing image → S3ObjectNotFoundError; a URL without a key is refused', async () => {
    const bucket = await freshBucket();
    const client = await testClient();
    await assert.rejects(new S3ImageSource(client, `s3://${bucket}/nope.img`).open(), S3ObjectNotFoundError);
    assert.throws(() => new S3ImageSource(client, `s3://${bucket}/`), /names a bucket, not an object|empty/);
    assert.throws(() => new S3ImageSource(client, `s3://${bucket}/dir/`), /ends with \//);
  });
});

describe('objectSize', () => {
  it('gives the size, or S3ObjectNotFoundError', async () => {
    const bucket = await freshBucket();
    await putObject(bucket, 'a/b.img', randomBytes(12345));
    const client = await testClient();
    assert.equal(await objectSize(client, `s3://${bucket}/a/b.img`), 12345);
    assert.equal(await objectSize(client, { bucket, key: 'a/b.img' }), 12345);
    await assert.rejects(objectSize(client, `s3://${bucket}/a/missing.img`), S3ObjectNotFoundError);
  });

  it('a deadline passed (AbortSignal.timeout) is a transient S3UnavailableError', async () => {
    const proxy = await testProxy();
    const bucket = await freshBucket();
    await putObject(bucket, 'x.img', randomBytes(10));
    proxy.addFault({ action: { type: 'delay', ms: 2_000 } });
    const client = await testClient({ endpoint: proxy.endpoint });
    const err = await objectSize(client, `s3://${bucket}/x.img`, { signal: AbortSignal.timeout(50), retry: { attempts: 1 } }).catch((e: unknown) => e);
    assert.ok(err instanceof S3UnavailableError, String(err));
    assert.equal(err.transient, true);
  });
});
