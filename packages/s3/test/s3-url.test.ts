import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { InvalidOptionError } from '@bundlefarm/errors';
import {
  MAX_PREFIX_BYTES,
  RETRY_DEFAULTS,
  S3AccessDeniedError,
  S3_SETTINGS_DEFAULTS,
  backoffDelay,
  checkBucketName,
  checkKeyPrefix,
  checkObjectKey,
  checkRetryOptions,
  checkS3Settings,
  createS3Client,
  isRetryableS3Error,
  parseS3Url,
  toS3Error,
} from '@bundlefarm/s3';

describe('parseS3Url', () => {
  it('splits bucket and key', () => {
    assert.deepEqual(parseS3Url('s3://my-bucket/images/disk.img'), { bucket: 'my-bucket', key: 'images/disk.img' });
    assert.deepEqual(parseS3Url('S3://my.bucket.example/a'), { bucket: 'my.bucket.example', key: 'a' });
    assert.deepEqual(parseS3Url('s3://bkt'), { bucket: 'bkt', key: '' });
    assert.deepEqual(parseS3Url('s3://bkt/'), { bucket: 'bkt', key: '' });
    assert.deepEqual(parseS3Url('s3://bkt/dir/sub/'), { bucket: 'bkt', key: 'dir/sub/' });
  });

  for (const [url, why] of [
    ['/tmp/disk.img', /not an s3:\/\/bucket\/key URL/],
    ['https://bkt.s3.amazonaws.com/x', /not an s3:/],
    ['s3:///tmp/disk.img', /names no bucket/],
    ['s3://My-Bucket/x', /uppercase/],
    ['s3://my_bucket/x', /underscore/],
    ['s3://bkt//x', /starts with \//],
    ['s3://bkt/a//x', /empty segment/],
    ['s3://bkt/a/../b', /\.\. segment/],
    ['s3://bkt/./b', /\. segment/],
    ['s3://bkt/a\nb', /control characters/],
    [`s3://bkt/${'k'.repeat(1025)}`, /longer than 1024 bytes/],
  ] as const) {
    it(`refuses ${JSON.stringify(url).slice(0, 40)}`, () => {
      assert.throws(() => parseS3Url(url), (err: Error) => err instanceof InvalidOptionError && why.test(err.message));
    });
  }
});

describe('checkBucketName', () => {
  it('accepts valid names', () => {
    for (const name of ['abc', 'my-bucket', 'my.bucket.1', '1bucket', 'a'.repeat(63), 'bucket-123.example.org']) {
      assert.equal(checkBucketName(name), name);
    }
  });

  for (const [name, why] of [
    ['ab', /3 to 63/],
    ['a'.repeat(64), /3 to 63/],
    ['', /empty/],
    ['Bucket', /uppercase/],
    ['my_bucket', /underscore/],
    ['-bucket', /start and end/],
    ['bucket-', /start and end/],
    ['bucket.', /start and end/],
    ['my..bucket', /adjacent dots/],
    ['my.-bucket', /dot next to a hyphen/],
    ['my-.bucket', /dot next to a hyphen/],
    ['192.168.1.1', /IP address/],
    ['my bucket', /lowercase letters, digits/],
    ['bucket/prefix', /looks like a path/],
    ['/data/images', /looks like a path/],
    ['xn--bucket', /reserved prefix/],
    ['sthree-bucket', /reserved prefix/],
    ['bucket-s3alias', /reserved suffix/],
    ['bucket--ol-s3', /reserved suffix/],
    ['bucket--x-s3', /reserved suffix/],
  ] as const) {
    it(`refuses ${JSON.stringify(name).slice(0, 30)}`, () => {
      assert.throws(() => checkBucketName(name), (err: Error) => err instanceof InvalidOptionError && why.test(err.message));
    });
  }

  it('property: whatever it accepts follows the rules', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abz09.-_A/'.split('')), maxLength: 70 }), (name) => {
        let ok = true;
        try {
          checkBucketName(name);
        } catch (err) {
          assert.ok(err instanceof InvalidOptionError);
          ok = false;
        }
        const valid =
          /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
          !name.includes('..') &&
          !name.includes('.-') &&
          !name.includes('-.') &&
          !/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name) && // an IP address form; `0900.0.9.0` is a name
          !name.startsWith('xn--') &&
          !name.endsWith('--x-s3');
        assert.equal(ok, valid, name);
      }),
    );
  });
});

describe('checkKeyPrefix and checkObjectKey', () => {
  it('normalizes prefixes to end with one /', () => {
    assert.equal(checkKeyPrefix(''), '');
    assert.equal(checkKeyPrefix('images'), 'images/');
    assert.equal(checkKeyPrefix('images/2024/'), 'images/2024/');
    assert.equal(checkKeyPrefix('a.b/c-d_e'), 'a.b/c-d_e/');
  });

  for (const [prefix, why] of [
    ['/images', /starts with \//],
    ['images//x', /empty segment/],
    ['images/../x', /\.\. segment/],
    ['..', /\.\. segment/],
    ['./x', /\. segment/],
    ['a\u0000b', /control/],
    ['a'.repeat(MAX_PREFIX_BYTES), /longer than 900 bytes/],
    ['é'.repeat(451), /longer than 900 bytes/],
    ['os/\u202egpj.exe', /invisible format characters/],
    ['os/a\u200bb', /invisible format characters/],
  ] as const) {
    it(`refuses prefix ${JSON.stringify(prefix).slice(0, 30)}`, () => {
      assert.throws(() => checkKeyPrefix(prefix), (err: Error) => err instanceof InvalidOptionError && why.test(err.message));
    });
  }

  it('takes a prefix of exactly the limit with its slash', () => {
    assert.equal(checkKeyPrefix('a'.repeat(MAX_PREFIX_BYTES - 1)).length, MAX_PREFIX_BYTES);
  });

  it('object keys must name an object', () => {
    assert.equal(checkObjectKey('a/b.img'), 'a/b.img');
    assert.throws(() => checkObjectKey(''), InvalidOptionError);
    assert.throws(() => checkObjectKey('dir/'), InvalidOptionError);
    assert.throws(() => checkObjectKey('/abs'), InvalidOptionError);
  });
});

describe('S3 settings', () => {
  it('fills in the documented defaults', () => {
    assert.deepEqual(checkS3Settings({ region: 'eu-west-1' }), { region: 'eu-west-1', endpoint: undefined, credentials: undefined, ...S3_SETTINGS_DEFAULTS });
  });

  it('refuses bad settings without echoing credentials', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const bad: Array<Parameters<typeof checkS3Settings>[0]> = [
      { region: '' },
      { region: 'EU West' },
      { region: 'us-east-1', endpoint: 'not a url' },
      { region: 'us-east-1', endpoint: 'ftp://host' },
      { region: 'us-east-1', endpoint: 'http://host:9000/some/path' },
      { region: 'us-east-1', endpoint: `http://AKIA:${secret}@host` },
      { region: 'us-east-1', credentials: { accessKeyId: 'AKIA', secretAccessKey: '' } },
      { region: 'us-east-1', credentials: { accessKeyId: '', secretAccessKey: secret } },
      { region: 'us-east-1', credentials: { accessKeyId: 'AKIA', secretAccessKey: ` ${secret}` } },
      { region: 'us-east-1', maxAttempts: 0 },
      { region: 'us-east-1', maxAttempts: 1.5 },
      { region: 'us-east-1', requestTimeoutMs: -1 },
      { region: 'us-east-1', connectionTimeoutMs: Number.NaN },
      { region: 'us-east-1', forcePathStyle: 'yes' as unknown as boolean },
    ];
    for (const settings of bad) {
      assert.throws(
        () => createS3Client(settings),
        (err: Error) => err instanceof InvalidOptionError && !err.message.includes(secret) && !JSON.stringify((err).toJSON()).includes(secret),
        JSON.stringify(settings.endpoint ?? settings.region),
      );
    }
  });

  it('creates a client with the checksum settings S3-compatibles need', async () => {
    const client = createS3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    try {
      assert.equal(await resolve(client.config.requestChecksumCalculation), 'WHEN_REQUIRED');
      assert.equal(await resolve(client.config.responseChecksumValidation), 'WHEN_REQUIRED');
      assert.equal(await client.config.region(), 'us-east-1');
      assert.equal(client.config.forcePathStyle, true);
      assert.equal(await client.config.maxAttempts(), 3);
    } finally {
      client.destroy();
    }
  });
});

async function resolve<T>(v: T | (() => Promise<T>)): Promise<T> {
  return typeof v === 'function' ? (v as () => Promise<T>)() : v;
}

describe('retry policy', () => {
  it('full jitter: delays stay under the exponential ceiling, capped', () => {
    const policy = checkRetryOptions({ baseDelayMs: 100, maxDelayMs: 1000 });
    assert.equal(backoffDelay(1, policy, () => 0.999), 99);
    assert.equal(backoffDelay(3, policy, () => 0.999), 399);
    assert.equal(backoffDelay(10, policy, () => 0.999), 999);
    assert.equal(backoffDelay(5, policy, () => 0), 0);
    assert.deepEqual(checkRetryOptions(), RETRY_DEFAULTS);
    assert.throws(() => checkRetryOptions({ attempts: 0 }), InvalidOptionError);
    assert.throws(() => checkRetryOptions({ baseDelayMs: 500, maxDelayMs: 100 }), InvalidOptionError);
  });

  it('classifies errors by status, S3 code and errno', () => {
    const withStatus = (status: number, name = 'X') => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
    assert.equal(isRetryableS3Error(withStatus(500)), true);
    assert.equal(isRetryableS3Error(withStatus(503, 'SlowDown')), true);
    assert.equal(isRetryableS3Error(withStatus(429)), true);
    assert.equal(isRetryableS3Error(withStatus(400, 'RequestTimeout')), true);
    assert.equal(isRetryableS3Error(withStatus(400, 'BadDigest')), true);
    assert.equal(isRetryableS3Error(withStatus(400, 'XAmzContentSHA256Mismatch')), true);
    assert.equal(isRetryableS3Error(withStatus(400, 'InvalidDigest')), false);
    assert.equal(isRetryableS3Error(withStatus(501, 'NotImplemented')), false);
    assert.equal(isRetryableS3Error(withStatus(404, 'NoSuchBucket')), false);
    assert.equal(isRetryableS3Error(withStatus(403, 'AccessDenied')), false);
    assert.equal(isRetryableS3Error(withStatus(400, 'InvalidArgument')), false);
    assert.equal(isRetryableS3Error(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })), true);
    assert.equal(isRetryableS3Error(Object.assign(new Error('t'), { name: 'TimeoutError' })), true);
    assert.equal(isRetryableS3Error(new Error('socket hang up')), true);
    assert.equal(isRetryableS3Error(Object.assign(new Error('cancelled'), { name: 'AbortError' })), false);
    assert.equal(isRetryableS3Error(new TypeError('bug')), false);
  });

  it('maps errors to typed ones, dropping the signing details S3 echoes back', () => {
    const sdkError = Object.assign(new Error('The request signature we calculated does not match the signature you provided.'), {
      name: 'SignatureDoesNotMatch',
      Code: 'SignatureDoesNotMatch',
      $metadata: { httpStatusCode: 403 },
      AWSAccessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      StringToSign: 'AWS4-HMAC-SHA256\n20240101T000000Z',
      SignatureProvided: 'abcdef',
    });
    const err = toS3Error(sdkError, { bucket: 'bkt', operation: 'PutObject' });
    assert.ok(err instanceof S3AccessDeniedError);
    assert.equal(err.transient, false);
    const everything = inspect(err, { depth: 5 });
    assert.match(everything, /SignatureDoesNotMatch/);
    assert.doesNotMatch(everything, /AKIAIOSFODNN7EXAMPLE|StringToSign|abcdef/);
  });
});
