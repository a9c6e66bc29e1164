import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { startFaultProxy, s3Requests } from '../helpers/fault-proxy.js';
import { getObject, listKeys } from '../helpers/s3-objects.js';
import { registerS3Credentials } from '../helpers/s3-server.js';
import { bucketIn, client, frontServer, KEYS, rawSend, sdkRefusal, send } from './front-fixture.js';

/*
 * The S3 front authenticates as S3 does: what the SDK sends passes; a wrong secret, an unknown key, a
 * body changed after signing, a stale clock, an expired URL, a header slipped in unsigned, an unsigned
 * request get S3's own status, code and error body. Bodies are checked (signed SHA-256, Content-MD5,
 * checksums, chunk signatures) before anything is stored.
 */
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('base64');

describe('the S3 front: what the SDK sends passes', () => {
  it('put, head, ranged get, list, delete and delete-objects, each recorded in order', async () => {
    const s3 = await frontServer();
    const c = await client();
    const bucket = await bucketIn('us-east-1');
    s3.requests.clear();
    const data = randomBytes(100_000);
    await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/a b+c!(1).bin', Body: data, ContentMD5: md5(data) }));
    await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/other', Body: 'x' }));
    assert.equal((await c.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dir/a b+c!(1).bin' }))).ContentLength, data.length);
    const part = await c.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/a b+c!(1).bin', Range: 'bytes=10-19' }));
    assert.ok(Buffer.from(await part.Body!.transformToByteArray()).equals(data.subarray(10, 20)));
    assert.deepEqual((await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dir/' }))).Contents?.map((o) => o.Key), ['dir/a b+c!(1).bin', 'dir/other']);
    await c.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'dir/other' }));
    await c.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'dir/a b+c!(1).bin' }] } }));
    assert.deepEqual(await listKeys(c, bucket), []);

    const mine = s3.requests.filter((r) => r.bucket === bucket);
    assert.deepEqual(
      mine.map((r) => [r.operation, r.status, r.auth]),
      [
        ['PutObject', 200, 'sigv4-header'],
        ['PutObject', 200, 'sigv4-header'],
        ['HeadObject', 200, 'sigv4-header'],
        ['GetObject', 206, 'sigv4-header'],
        ['ListObjectsV2', 200, 'sigv4-header'],
        ['DeleteObject', 204, 'sigv4-header'],
        ['DeleteObjects', 200, 'sigv4-header'],
        ['ListObjectsV2', 200, 'sigv4-header'],
      ],
    );
    assert.deepEqual(s3.requests.deletedKeys(bucket), ['dir/other', 'dir/a b+c!(1).bin']);
    assert.ok(mine.every((r, i) => i === 0 || (r.id > mine[i - 1]!.id && r.answeredOrder > mine[i - 1]!.answeredOrder)));
    assert.equal(mine[0]!.headers['content-md5'], md5(data));
    assert.equal(mine[0]!.bodyMd5, md5(data));
    assert.equal(mine[0]!.accessKeyId, KEYS.accessKeyId);
    assert.ok(!('authorization' in mine[0]!.headers), 'signatures are not kept in the records');
  });

  it('a presigned PUT and GET (the SDK presigner) pass with a plain HTTP client', async () => {
    const c = await client();
    const bucket = await bucketIn('us-east-1');
    const data = randomBytes(5000);
    const putUrl = await getSignedUrl(c, new PutObjectCommand({ Bucket: bucket, Key: 'up/loaded.bin' }), { expiresIn: 300 });
    assert.match(putUrl, /X-Amz-Signature=/);
    const put = await fetch(putUrl, { method: 'PUT', body: data });
    assert.equal(put.status, 200, await put.text());
    const getUrl = await getSignedUrl(c, new GetObjectCommand({ Bucket: bucket, Key: 'up/loaded.bin' }), { expiresIn: 300 });
    const get = await fetch(getUrl);
    assert.equal(get.status, 200);
    assert.ok(Buffer.from(await get.arrayBuffer()).equals(data));
    const s3 = await frontServer();
    assert.deepEqual(
      s3.requests.filter((r) => r.bucket === bucket).map((r) => [r.operation, r.auth, r.status]),
      [
        ['PutObject', 'sigv4-query', 200],
        ['GetObject', 'sigv4-query', 200],
      ],
    );
  });

  it('a chunked upload signed chunk by chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, the SDK signer) is stored decoded; a damaged chunk is refused', async () => {
    const s3 = await frontServer();
    const bucket = await bucketIn('us-east-1');
    const data = randomBytes(3 * 65536 + 1234);
    const url = new URL(`${s3.endpoint}/${bucket}/chunked.bin`);
    const signingDate = new Date();
    const signer = new SignatureV4({ credentials: KEYS, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
    const chunkSizes = [65536, 65536, 65536, 1234, 0];
    const encodedLength = chunkSizes.reduce((n, size) => n + size.toString(16).length + ';chunk-signature='.length + 64 + 2 + size + 2, 0);
    const headers = {
      host: url.host,
      'content-encoding': 'aws-chunked',
      'content-length': String(encodedLength),
      'x-amz-decoded-content-length': String(data.length),
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    };
    const seeded = await signer.sign({ method: 'PUT', protocol: 'http:', hostname: url.hostname, path: url.pathname, query: {}, headers }, { signingDate });
    let previous = /Signature=([0-9a-f]{64})/.exec(seeded.headers.authorization!)![1]!;
    const longDate = seeded.headers['x-amz-date']!;
    const pieces: Buffer[] = [];
    let offset = 0;
    for (const size of chunkSizes) {
      const chunk = data.subarray(offset, offset + size);
      offset += size;
      const stringToSign = [
        'AWS4-HMAC-SHA256-PAYLOAD',
        longDate,
        `${longDate.slice(0, 8)}/us-east-1/s3/aws4_request`,
        previous,
        createHash('sha256').digest('hex'),
        createHash('sha256').update(chunk).digest('hex'),
      ].join('\n');
      previous = await signer.sign(stringToSign, { signingDate });
      pieces.push(Buffer.from(`${size.toString(16)};chunk-signature=${previous}\r\n`), chunk, Buffer.from('\r\n'));
    }
    const body = Buffer.concat(pieces);
    assert.equal(body.length, encodedLength);
    const damaged = Buffer.from(body);
    damaged[100_000]! ^= 1;
    const refused = await rawSend('PUT', url, seeded.headers, damaged);
    assert.deepEqual([refused.status, refused.error?.Code], [403, 'SignatureDoesNotMatch']);
    assert.deepEqual(await listKeys(await client(), bucket), [], 'nothing stored');
    const stored = await rawSend('PUT', url, seeded.headers, body);
    assert.equal(stored.status, 200, stored.body.toString());
    assert.ok((await getObject(await client(), bucket, 'chunked.bin')).equals(data));
    assert.equal(s3.requests.filter((r) => r.bucket === bucket && r.operation === 'PutObject').at(-1)!.bodyBytes, data.length);
  });

  it('the SDK’s streamed upload (STREAMING-UNSIGNED-PAYLOAD-TRAILER, CRC32 trailer) is stored decoded; a damaged byte fails its checksum', async () => {
    const s3 = await frontServer();
    const bucket = await bucketIn('us-east-1');
    const proxy = await startFaultProxy({ target: s3.endpoint });
    try {
      // the SDK's defaults: a checksum for every upload, streamed bodies sent aws-chunked with it as a trailer
      const streaming = await client('us-east-1', { requestChecksumCalculation: 'WHEN_SUPPORTED', endpoint: proxy.endpoint });
      const data = randomBytes(200_000);
      const body = (): Readable => Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]);
      await streaming.send(new PutObjectCommand({ Bucket: bucket, Key: 'streamed', Body: body(), ContentLength: data.length }));
      const put = proxy.requests.find(s3Requests.putObject)!;
      assert.equal(put.headers['x-amz-content-sha256'], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
      assert.equal(put.headers['x-amz-trailer'], 'x-amz-checksum-crc32');
      assert.ok((await getObject(await client(), bucket, 'streamed')).equals(data), 'stored without the chunk framing');
      proxy.addFault({ action: { type: 'corrupt-request' }, match: s3Requests.putObject, times: 1 });
      const refusal = await sdkRefusal(streaming.send(new PutObjectCommand({ Bucket: bucket, Key: 'damaged', Body: body(), ContentLength: data.length })));
      assert.deepEqual([refusal.status, refusal.code], [400, 'BadDigest']);
      assert.match(String(refusal.error.message), /The CRC32 you specified did not match the calculated checksum/);
      assert.deepEqual(await listKeys(await client(), bucket), ['streamed']);
    } finally {
      await proxy.close();
    }
  });
});

describe('the S3 front: refusals with S3’s status, code and body', () => {
  it('a wrong secret → 403 SignatureDoesNotMatch (with the string to sign); an unknown key → 403 InvalidAccessKeyId', async () => {
    const s3 = await frontServer();
    const bucket = await bucketIn('us-east-1');
    const wrong = await client('us-east-1', { credentials: { accessKeyId: KEYS.accessKeyId, secretAccessKey: 'not-the-secret' } });
    const secret = await sdkRefusal(wrong.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' })));
    assert.deepEqual([secret.status, secret.code], [403, 'SignatureDoesNotMatch']);
    assert.match(String(secret.error.StringToSign), /^AWS4-HMAC-SHA256\n\d{8}T\d{6}Z\n\d{8}\/us-east-1\/s3\/aws4_request\n[0-9a-f]{64}$/);
    const unknown = await client('us-east-1', { credentials: { accessKeyId: 'AKIANOBODYHASTHISKEY', secretAccessKey: 'x' } });
    const key = await sdkRefusal(unknown.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' })));
    assert.deepEqual([key.status, key.code, key.error.AWSAccessKeyId], [403, 'InvalidAccessKeyId', 'AKIANOBODYHASTHISKEY']);
    assert.deepEqual(await listKeys(await client(), bucket), []);
    assert.deepEqual(
      s3.requests.filter((r) => r.bucket === bucket && r.operation === 'PutObject').map((r) => [r.status, r.errorCode]),
      [
        [403, 'SignatureDoesNotMatch'],
        [403, 'InvalidAccessKeyId'],
      ],
    );
  });

  it('a body changed after signing → 400 XAmzContentSHA256Mismatch; a wrong Content-MD5 → 400 BadDigest; a malformed one → 400 InvalidDigest; a wrong checksum → 400 BadDigest', async () => {
    const s3 = await frontServer();
    const bucket = await bucketIn('us-east-1');
    const url = `${s3.endpoint}/${bucket}/k`;
    const body = randomBytes(2048);
    const tampered = await send({ method: 'PUT', url, body, tamper: (r) => void (r.body = Buffer.concat([r.body.subarray(0, 100), Buffer.from('X'), r.body.subarray(101)])) });
    assert.deepEqual([tampered.status, tampered.error?.Code], [400, 'XAmzContentSHA256Mismatch']);
    assert.equal(tampered.error?.ClientComputedContentSHA256, createHash('sha256').update(body).digest('hex'));
    // an unsigned payload is still held to its Content-MD5
    const unsigned = { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
    const badMd5 = await send({ method: 'PUT', url, body, headers: { ...unsigned, 'content-md5': md5(Buffer.from('other')) } });
    assert.deepEqual([badMd5.status, badMd5.error?.Code], [400, 'BadDigest']);
    const invalid = await send({ method: 'PUT', url, body, headers: { ...unsigned, 'content-md5': 'not-md5' } });
    assert.deepEqual([invalid.status, invalid.error?.Code], [400, 'InvalidDigest']);
    const crc = await send({ method: 'PUT', url, body, headers: { ...unsigned, 'x-amz-checksum-crc32': 'AAAAAA==' } });
    assert.deepEqual([crc.status, crc.error?.Code, crc.error?.Message], [400, 'BadDigest', 'The CRC32 you specified did not match the calculated checksum.']);
    const sha = await send({ method: 'PUT', url, body, headers: { ...unsigned, 'x-amz-checksum-sha256': createHash('sha256').update(body).digest('base64') } });
    assert.equal(sha.status, 200, 'a right checksum passes');
    assert.deepEqual(await listKeys(await client(), bucket), ['k']);
  });

  it('a request dated more than 15 minutes off → 403 RequestTimeTooSkewed', async () => {
    const s3 = await frontServer();
    const bucket = await bucketIn('us-east-1');
    for (const minutes of [-16, 16]) {
      const answer = await send({ method: 'GET', url: `${s3.endpoint}/${bucket}?list-type=2`, signingDate: new Date(Date.now() + minutes * 60_000) });
      assert.deepEqual([answer.status, answer.error?.Code, answer.error?.MaxAllowedSkewMilliseconds], [403, 'RequestTimeTooSkewed', '900000']);
    }
    const close = await send({ method: 'GET', url: `${s3.endpoint}/${bucket}?list-type=2`, signingDate: new Date(Date.now() - 10 * 60_000) });
    assert.equal(close.status, 200);
  });

  it('an x-amz- header added after signing → 403 AccessDenied naming it (an ACL cannot be slipped in on the way)', async () => {
    const s3 = await frontServer();
    const bucket = await bucketIn('us-east-1');
    const answer = await send({ method: 'PUT', url: `${s3.endpoint}/${bucket}/k`, body: 'x', tamper: (r) => void (r.headers['x-amz-acl'] = 'public-read') });
    assert.deepEqual([answer.status, answer.error?.Code, answer.error?.HeadersNotSigned], [403, 'AccessDenied', 'x-amz-acl']);
    // other headers need not be signed
    const ok = await send({ method: 'PUT', url: `${s3.endpoint}/${bucket}/k`, body: 'x', tamper: (r) => void (r.headers['user-agent'] = 'changed') });
    assert.equal(ok.status, 200);
  });

  it('an expired presigned URL → 403 AccessDenied "Request has expired"; a lifetime over 7 days → 400 AuthorizationQueryParametersError', async () => {
    const bucket = await bucketIn('us-east-1');
    const c = await client('us-east-1');
    await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const url = await getSignedUrl(c, new GetObjectCommand({ Bucket: bucket, Key: 'k' }), { expiresIn: 60, signingDate: new Date(Date.now() - 120_000) });
    const expired = await fetch(url);
    assert.equal(expired.status, 403);
    const text = await expired.text();
    assert.match(text, /<Code>AccessDenied<\/Code><Message>Request has expired<\/Message><X-Amz-Expires>60<\/X-Amz-Expires>/);
    const tooLong = await fetch(await getSignedUrl(c, new GetObjectCommand({ Bucket: bucket, Key: 'k' }), { expiresIn: 600 }).then((u) => u.replace('X-Amz-Expires=600', 'X-Amz-Expires=604801')));
    assert.equal(tooLong.status, 400);
    assert.match(await tooLong.text(), /<Code>AuthorizationQueryParametersError<\/Code>/);
  });

  it('an unsigned request → 403 AccessDenied, unless the bucket is public (reads only)', async () => {
    const s3 = await frontServer();
    const c = await client();
    const privateBucket = await bucketIn('us-east-1');
    const publicBucket = await bucketIn('us-east-1', { public: true });
    for (const bucket of [privateBucket, publicBucket]) await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'hello' }));
    const denied = await send({ method: 'GET', url: `${s3.endpoint}/${privateBucket}/k`, sign: false });
    assert.deepEqual([denied.status, denied.error?.Code], [403, 'AccessDenied']);
    const write = await send({ method: 'PUT', url: `${s3.endpoint}/${privateBucket}/new`, body: 'x', sign: false });
    assert.deepEqual([write.status, write.error?.Code], [403, 'AccessDenied']);
    const read = await send({ method: 'GET', url: `${s3.endpoint}/${publicBucket}/k`, sign: false });
    assert.deepEqual([read.status, read.body.toString()], [200, 'hello']);
    const publicWrite = await send({ method: 'PUT', url: `${s3.endpoint}/${publicBucket}/new`, body: 'x', sign: false });
    assert.deepEqual([publicWrite.status, publicWrite.error?.Code], [403, 'AccessDenied']);
    const list = await send({ method: 'GET', url: `${s3.endpoint}/`, sign: false });
    assert.deepEqual([list.status, list.error?.Code], [403, 'AccessDenied']);
    assert.equal(s3.requests.filter((r) => r.bucket === publicBucket && r.operation === 'GetObject')[0]!.auth, 'anonymous');
  });

  it('keys registered for the process are accepted; their account is recorded', async () => {
    const s3 = await frontServer();
    const bucket = await bucketIn('us-east-1');
    const own = registerS3Credentials();
    const c = await client('us-east-1', { credentials: own });
    await c.send(new PutObjectCommand({ Bucket: bucket, Key: 'k', Body: 'x' }));
    const put = s3.requests.filter((r) => r.bucket === bucket).at(-1)!;
    assert.deepEqual([put.accessKeyId, put.account, put.status], [own.accessKeyId, 'bundlefarm-test', 200]);
  });
});
