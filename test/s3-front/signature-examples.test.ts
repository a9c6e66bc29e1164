import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  credentialScopeOf,
  decodeAwsChunked,
  parseRawQuery,
  S3FrontError,
  signWithScope,
  sigV2Signature,
  sigV2StringToSign,
  verifySigV2,
  verifySigV4,
  type SigV4Input,
} from '@bundlefarm/s3-local';

/*
 * The front's signature checks against the worked examples in AWS's S3 documentation ("Examples:
 * signature calculations", the chunked-upload and trailer examples, query-string authentication, and
 * the SigV2 examples of "Signing and authenticating REST requests"): values computed by AWS, not by
 * the code under test, so they show the canonical forms the front builds around the SDK's signer are
 * S3's. The documentation's key pair and time: AKIAIOSFODNN7EXAMPLE, 2013-05-24T00:00:00Z.
 */
const DOC_KEYS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const DOC_TIME = new Date('2013-05-24T00:00:00Z');
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const scope = 'AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request';
const lookup = (id: string) => (id === DOC_KEYS.accessKeyId ? DOC_KEYS : undefined);

function request(method: string, url: string, headers: Record<string, string>): SigV4Input {
  const [rawPath, rawQuery = ''] = url.split('?') as [string, string?];
  const query = parseRawQuery(rawQuery);
  return { method, rawPath, query, headers: { host: 'examplebucket.s3.amazonaws.com', ...headers } };
}

function authorization(signedHeaders: string, signature: string): string {
  return `AWS4-HMAC-SHA256 Credential=${scope},SignedHeaders=${signedHeaders},Signature=${signature}`;
}

async function refusal(promise: Promise<unknown>): Promise<S3FrontError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof S3FrontError, `expected a refusal, got ${String(err)}`);
  return err;
}

describe('SigV4 in the Authorization header (AWS documentation examples)', () => {
  const getObject = (signature: string): SigV4Input =>
    request('GET', '/test.txt', {
      range: 'bytes=0-9',
      'x-amz-content-sha256': EMPTY,
      'x-amz-date': '20130524T000000Z',
      authorization: authorization('host;range;x-amz-content-sha256;x-amz-date', signature),
    });

  it('GET Object', async () => {
    const auth = await verifySigV4({ request: getObject('f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'), now: DOC_TIME, lookup, regions: ['us-east-1'] });
    assert.equal(auth.kind, 'header');
    assert.equal(auth.payloadHash, EMPTY);
  });

  it('PUT Object: a key with `$`, and a signed Date header beside X-Amz-Date', async () => {
    const body = 'Welcome to Amazon S3.';
    const hash = createHash('sha256').update(body).digest('hex');
    assert.equal(hash, '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
    await verifySigV4({
      request: request('PUT', '/test%24file.text', {
        date: 'Fri, 24 May 2013 00:00:00 GMT',
        'x-amz-date': '20130524T000000Z',
        'x-amz-storage-class': 'REDUCED_REDUNDANCY',
        'x-amz-content-sha256': hash,
        authorization: authorization('date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class', '98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd'),
      }),
      now: DOC_TIME,
      lookup,
      regions: ['us-east-1'],
    });
  });

  it('GET Bucket lifecycle and a listing with a query', async () => {
    const headers = { 'x-amz-content-sha256': EMPTY, 'x-amz-date': '20130524T000000Z' };
    for (const [url, signature] of [
      ['/?lifecycle', 'fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'],
      ['/?max-keys=2&prefix=J', '34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'],
    ] as const) {
      await verifySigV4({
        request: request('GET', url, { ...headers, authorization: authorization('host;x-amz-content-sha256;x-amz-date', signature) }),
        now: DOC_TIME,
        lookup,
        regions: ['us-east-1'],
      });
    }
  });

  it('a wrong secret, a changed byte, a stale clock and another region are each refused as S3 refuses them', async () => {
    const good = getObject('f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
    const wrongSecret = await refusal(verifySigV4({ request: good, now: DOC_TIME, lookup: () => ({ ...DOC_KEYS, secretAccessKey: 'x' }), regions: [] }));
    assert.deepEqual([wrongSecret.status, wrongSecret.code], [403, 'SignatureDoesNotMatch']);
    assert.match(wrongSecret.fields.CanonicalRequest!, /^GET\n\/test\.txt\n\nhost:examplebucket\.s3\.amazonaws\.com\nrange:bytes=0-9\n/);
    const changed = await refusal(verifySigV4({ request: { ...good, headers: { ...good.headers, range: 'bytes=0-10' } }, now: DOC_TIME, lookup, regions: [] }));
    assert.equal(changed.code, 'SignatureDoesNotMatch');
    const skewed = await refusal(verifySigV4({ request: good, now: new Date(DOC_TIME.getTime() + 15 * 60_000 + 1000), lookup, regions: [] }));
    assert.deepEqual([skewed.status, skewed.code], [403, 'RequestTimeTooSkewed']);
    await verifySigV4({ request: good, now: new Date(DOC_TIME.getTime() + 15 * 60_000), lookup, regions: [] });
    const region = await refusal(verifySigV4({ request: good, now: DOC_TIME, lookup, regions: ['eu-west-1'] }));
    assert.deepEqual([region.status, region.code, region.fields.Region], [400, 'AuthorizationHeaderMalformed', 'eu-west-1']);
    assert.match(region.message, /the region 'us-east-1' is wrong; expecting 'eu-west-1'/);
    const unknown = await refusal(verifySigV4({ request: good, now: DOC_TIME, lookup: () => undefined, regions: [] }));
    assert.deepEqual([unknown.status, unknown.code], [403, 'InvalidAccessKeyId']);
  });
});

describe('SigV4 presigned URL (AWS documentation example)', () => {
  const presigned = request(
    'GET',
    '/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    {},
  );

  it('is valid for X-Amz-Expires seconds after X-Amz-Date, then refused with AccessDenied "Request has expired"', async () => {
    const auth = await verifySigV4({ request: presigned, now: new Date(DOC_TIME.getTime() + 86_400_000), lookup, regions: ['us-east-1'] });
    assert.equal(auth.kind, 'query');
    assert.equal(auth.payloadHash, 'UNSIGNED-PAYLOAD');
    const expired = await refusal(verifySigV4({ request: presigned, now: new Date(DOC_TIME.getTime() + 86_401_000), lookup, regions: ['us-east-1'] }));
    assert.deepEqual([expired.status, expired.code, expired.message], [403, 'AccessDenied', 'Request has expired']);
    assert.equal(expired.fields['X-Amz-Expires'], '86400');
  });

  it('a URL for another region is an AuthorizationQueryParametersError naming the bucket’s', async () => {
    const err = await refusal(verifySigV4({ request: presigned, now: DOC_TIME, lookup, regions: ['eu-west-1'] }));
    assert.deepEqual([err.status, err.code, err.fields.Region], [400, 'AuthorizationQueryParametersError', 'eu-west-1']);
  });
});

describe('aws-chunked uploads (AWS documentation examples)', () => {
  const data = Buffer.alloc(65 * 1024, 'a');
  function chunkedBody(signatures: readonly string[], trailer = ''): Buffer {
    return Buffer.concat([
      Buffer.from(`10000;chunk-signature=${signatures[0]}\r\n`),
      data.subarray(0, 65536),
      Buffer.from(`\r\n400;chunk-signature=${signatures[1]}\r\n`),
      data.subarray(65536),
      Buffer.from(`\r\n0;chunk-signature=${signatures[2]}\r\n${trailer}\r\n`),
    ]);
  }
  async function seeded(payload: string, signedHeaders: string, seed: string, length: number, extra: Record<string, string> = {}) {
    return verifySigV4({
      request: {
        method: 'PUT',
        rawPath: '/examplebucket/chunkObject.txt',
        query: [],
        headers: {
          host: 's3.amazonaws.com',
          'x-amz-date': '20130524T000000Z',
          'x-amz-storage-class': 'REDUCED_REDUNDANCY',
          'x-amz-content-sha256': payload,
          'content-encoding': 'aws-chunked',
          'x-amz-decoded-content-length': '66560',
          'content-length': String(length),
          ...extra,
          authorization: authorization(signedHeaders, seed),
        },
      },
      now: DOC_TIME,
      lookup,
      regions: ['us-east-1'],
    });
  }
  const chunkSignatures = [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ];

  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD: the seed and every chunk signature verify; the data comes out whole', async () => {
    const body = chunkedBody(chunkSignatures);
    assert.equal(body.length, 66824, 'the documented Content-Length');
    const auth = await seeded(
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class',
      '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
      body.length,
    );
    const signing = { seedSignature: auth.signature, longDate: auth.longDate, scope: credentialScopeOf(auth), sign: (s: string) => signWithScope(auth, s) };
    const decoded = await decodeAwsChunked(body, { mode: 'signed', decodedLength: 66560, trailerNames: [], signing });
    assert.ok(decoded.data.equals(data));
    assert.equal(decoded.chunks, 2);
    // each chunk's signature chains from the one before: a wrong one anywhere is refused
    for (let i = 0; i < 3; i++) {
      const bad = [...chunkSignatures];
      bad[i] = '1'.repeat(64);
      const err = await refusal(decodeAwsChunked(chunkedBody(bad), { mode: 'signed', decodedLength: 66560, trailerNames: [], signing }));
      assert.deepEqual([err.status, err.code], [403, 'SignatureDoesNotMatch'], `chunk ${i + 1}`);
    }
    const flipped = chunkedBody(chunkSignatures);
    flipped[30_000]! ^= 1;
    assert.equal((await refusal(decodeAwsChunked(flipped, { mode: 'signed', decodedLength: 66560, trailerNames: [], signing }))).code, 'SignatureDoesNotMatch');
    const short = await refusal(decodeAwsChunked(body, { mode: 'signed', decodedLength: 66561, trailerNames: [], signing }));
    assert.deepEqual([short.status, short.code], [400, 'IncompleteBody']);
  });

  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: the trailer signature verifies and the checksum comes out', async () => {
    const trailer = 'x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n';
    const signatures = [
      'b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2',
      '1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7',
      '2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992',
    ];
    const body = chunkedBody(signatures, trailer);
    const auth = await seeded(
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      'content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer',
      '106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e',
      body.length,
      { 'x-amz-trailer': 'x-amz-checksum-crc32c' },
    );
    const signing = { seedSignature: auth.signature, longDate: auth.longDate, scope: credentialScopeOf(auth), sign: (s: string) => signWithScope(auth, s) };
    const decoded = await decodeAwsChunked(body, { mode: 'signed-trailer', decodedLength: 66560, trailerNames: ['x-amz-checksum-crc32c'], signing });
    assert.ok(decoded.data.equals(data));
    assert.equal(decoded.trailers.get('x-amz-checksum-crc32c'), 'sOO8/Q==');
    const forged = chunkedBody(signatures, trailer.replace('sOO8/Q==', 'AAAAAA=='));
    assert.equal((await refusal(decodeAwsChunked(forged, { mode: 'signed-trailer', decodedLength: 66560, trailerNames: ['x-amz-checksum-crc32c'], signing }))).code, 'SignatureDoesNotMatch');
  });
});

describe('SigV2 (AWS documentation examples; no SDK signs SigV2, so these pin the string to sign)', () => {
  const examples = [
    { method: 'GET', path: '/awsexamplebucket1/photos/puppy.jpg', date: 'Tue, 27 Mar 2007 19:36:42 +0000', type: undefined, signature: 'qgk2+6Sv9/oM7G3qLEjTH1a1l1g=' },
    { method: 'PUT', path: '/awsexamplebucket1/photos/puppy.jpg', date: 'Tue, 27 Mar 2007 21:15:45 +0000', type: 'image/jpeg', signature: 'iqRzw+ileNPu1fhspnRs8nOjjIA=' },
  ];

  it('builds the documented string to sign and signature', () => {
    for (const e of examples) {
      const headers: Record<string, string> = { date: e.date, ...(e.type ? { 'content-type': e.type } : {}) };
      const stringToSign = sigV2StringToSign({ method: e.method, rawPath: e.path, query: [], headers, headerValues: {} }, e.date);
      assert.equal(stringToSign, `${e.method}\n\n${e.type ?? ''}\n${e.date}\n${e.path}`);
      assert.equal(sigV2Signature(DOC_KEYS.secretAccessKey, stringToSign), e.signature);
    }
  });

  it('amz headers and sub-resources are signed; x-amz-date empties the Date line', () => {
    const headerValues = { 'x-amz-acl': ['aws-exec-read'], 'x-amz-date': ['Tue, 27 Mar 2007 19:36:42 +0000'], 'x-amz-meta-reviewed-by': ['a@b.c', 'd@e.f'] };
    const headers = { 'content-md5': 'XrY7u+Ae7tCTyyK7j1rNww==', date: 'ignored', 'x-amz-acl': 'aws-exec-read', 'x-amz-date': 'Tue, 27 Mar 2007 19:36:42 +0000' };
    const s = sigV2StringToSign({ method: 'PUT', rawPath: '/b/k%2Fpart.0', query: [['acl', ''], ['x-id', 'PutObject'], ['uploadId', 'U']], headers, headerValues }, '');
    assert.equal(s, 'PUT\nXrY7u+Ae7tCTyyK7j1rNww==\n\n\nx-amz-acl:aws-exec-read\nx-amz-date:Tue, 27 Mar 2007 19:36:42 +0000\nx-amz-meta-reviewed-by:a@b.c,d@e.f\n/b/k%2Fpart.0?acl&uploadId=U');
  });

  it('verifies the documented GET; refuses a wrong secret, an unknown key and a stale date', () => {
    const e = examples[0]!;
    const input = { method: 'GET', rawPath: e.path, query: [], headers: { date: e.date, authorization: `AWS AKIAIOSFODNN7EXAMPLE:${e.signature}` }, headerValues: {} };
    const now = new Date(Date.parse(e.date));
    assert.equal(verifySigV2({ request: input, now, lookup }).accessKeyId, 'AKIAIOSFODNN7EXAMPLE');
    const fail = (f: () => unknown): S3FrontError => {
      try {
        f();
      } catch (err) {
        assert.ok(err instanceof S3FrontError);
        return err;
      }
      assert.fail('not refused');
    };
    assert.equal(fail(() => verifySigV2({ request: input, now, lookup: () => ({ ...DOC_KEYS, secretAccessKey: 'x' }) })).code, 'SignatureDoesNotMatch');
    assert.equal(fail(() => verifySigV2({ request: input, now, lookup: () => undefined })).code, 'InvalidAccessKeyId');
    assert.equal(fail(() => verifySigV2({ request: input, now: new Date(now.getTime() + 16 * 60_000), lookup })).code, 'RequestTimeTooSkewed');
  });
});
