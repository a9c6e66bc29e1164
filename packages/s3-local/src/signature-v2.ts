/*
 * Signature Version 2 (HMAC-SHA1), as S3 documents it ("Signing and authenticating REST requests")
 * and as ec2-ami-tools sent it: `Authorization: AWS AKID:base64(HMAC-SHA1(secret, StringToSign))`,
 * or presigned with `AWSAccessKeyId`, `Expires` and `Signature` query parameters. The AWS SDK has no
 * SigV2 signer, so this is written from the documentation:
 *
 *   StringToSign = VERB \n Content-MD5 \n Content-Type \n Date \n CanonicalizedAmzHeaders CanonicalizedResource
 *
 * - Date is the `Date` header, or '' when `x-amz-date` is sent (which then signs as an amz header);
 *   for a presigned URL it is the `Expires` value.
 * - CanonicalizedAmzHeaders: every `x-amz-*` header, name lowercased, values trimmed and joined with
 *   ',', sorted by name, each as `name:value\n`.
 * - CanonicalizedResource: the path exactly as sent, still percent-encoded (ec2-ami-tools sends keys
 *   CGI-escaped, `/` as `%2F`, and signs them so), then `?` and the sub-resources the request names,
 *   sorted (`acl`, `location`, `uploadId=…`, `response-content-type=…` …), values not encoded.
 */
import { createHmac } from 'node:crypto';
import { sameSecret, type S3FrontCredentials } from './credentials.js';
import { S3FrontError, s3Errors } from './s3-error.js';
import { MAX_CLOCK_SKEW_MS } from './signature-v4.js';

/** Query parameters that are part of the signed resource (S3's documented list, and its later additions). */
const SUB_RESOURCES = new Set([
  'acl',
  'cors',
  'delete',
  'lifecycle',
  'location',
  'logging',
  'notification',
  'partNumber',
  'policy',
  'requestPayment',
  'restore',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'versionId',
  'versioning',
  'versions',
  'website',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
]);

export interface SigV2Input {
  method: string;
  rawPath: string;
  query: ReadonlyArray<readonly [string, string]>;
  /** Lowercase names; a repeated header's values joined with ','. */
  headers: Readonly<Record<string, string>>;
  /** Every value of each header, as sent (an amz header's values sign joined with ',' and no spaces). */
  headerValues: Readonly<Record<string, readonly string[]>>;
}

export interface SigV2Result {
  kind: 'header' | 'query';
  accessKeyId: string;
  credentials: S3FrontCredentials;
  /** Presigned URLs: when they stop working. */
  expiresAt?: Date;
}

export function sigV2Kind(headers: Readonly<Record<string, string>>, query: ReadonlyArray<readonly [string, string]>): 'header' | 'query' | undefined {
  if (headers.authorization?.startsWith('AWS ')) return 'header';
  if (query.some(([name]) => name === 'Signature') && query.some(([name]) => name === 'AWSAccessKeyId')) return 'query';
  return undefined;
}

/** The string S3 signs for SigV2; `date` is the Date header's value, or Expires for a presigned URL. */
export function sigV2StringToSign(request: SigV2Input, date: string): string {
  const h = request.headers;
  const values = request.headerValues;
  const amzHeaders = Object.keys(values)
    .filter((name) => name.startsWith('x-amz-'))
    .sort()
    .map((name) => `${name}:${values[name]!.map((v) => v.replace(/\s*\r?\n\s*/g, ' ').trim()).join(',')}\n`)
    .join('');
  const subResources = request.query
    .filter(([name]) => SUB_RESOURCES.has(name))
    .map(([name, value]) => (value === '' ? name : `${name}=${value}`))
    .sort();
  const resource = request.rawPath + (subResources.length > 0 ? `?${subResources.join('&')}` : '');
  return [request.method, h['content-md5'] ?? '', h['content-type'] ?? '', date].join('\n') + '\n' + amzHeaders + resource;
}

export function sigV2Signature(secretAccessKey: string, stringToSign: string): string {
  return createHmac('sha1', secretAccessKey).update(stringToSign, 'utf8').digest('base64');
}

export function verifySigV2(check: { request: SigV2Input; now: Date; lookup(accessKeyId: string): S3FrontCredentials | undefined }): SigV2Result {
  const { request, now } = check;
  const kind = sigV2Kind(request.headers, request.query);
  if (kind === undefined) throw new Error('verifySigV2: not a SigV2 request');
  let accessKeyId: string;
  let provided: string;
  let dateForSigning: string;
  let expiresAt: Date | undefined;
  if (kind === 'header') {
    const m = /^AWS ([^:\s]+):(\S+)$/.exec(request.headers.authorization!);
    if (!m) throw s3Errors.invalidArgument('Authorization header is invalid -- one and only one \' \' (space) required', 'Authorization', request.headers.authorization!);
    accessKeyId = m[1]!;
    provided = m[2]!;
    const stamp = request.headers['x-amz-date'] ?? request.headers.date;
    const time = stamp !== undefined ? Date.parse(stamp) : NaN;
    if (Number.isNaN(time)) throw s3Errors.accessDenied('AWS authentication requires a valid Date or x-amz-date header');
    if (Math.abs(now.getTime() - time) > MAX_CLOCK_SKEW_MS) {
      throw new S3FrontError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
        RequestTime: stamp!,
        ServerTime: now.toUTCString(),
        MaxAllowedSkewMilliseconds: String(MAX_CLOCK_SKEW_MS),
      });
    }
    dateForSigning = request.headers['x-amz-date'] !== undefined ? '' : (request.headers.date ?? '');
  } else {
    const q = new Map(request.query.map(([n, v]) => [n, v] as const));
    accessKeyId = q.get('AWSAccessKeyId')!;
    provided = q.get('Signature')!;
    const expires = q.get('Expires');
    if (expires === undefined || !/^\d+$/.test(expires)) throw s3Errors.accessDenied('Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
    expiresAt = new Date(Number(expires) * 1000);
    if (now.getTime() > expiresAt.getTime()) throw s3Errors.accessDenied('Request has expired', { Expires: expiresAt.toISOString(), ServerTime: now.toISOString() });
    dateForSigning = expires;
  }
  const credentials = check.lookup(accessKeyId);
  if (!credentials) {
    throw new S3FrontError(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKeyId });
  }
  if (credentials.sessionToken !== undefined && !sameSecret(credentials.sessionToken, request.headers['x-amz-security-token'] ?? '')) {
    throw new S3FrontError(400, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
  }
  const stringToSign = sigV2StringToSign(request, dateForSigning);
  if (!sameSecret(sigV2Signature(credentials.secretAccessKey, stringToSign), provided)) {
    throw new S3FrontError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
      AWSAccessKeyId: accessKeyId,
      StringToSign: stringToSign,
      SignatureProvided: provided,
      StringToSignBytes: Buffer.from(stringToSign)
        .toString('hex')
        .replace(/(..)(?!$)/g, '$1 '),
    });
  }
  return { kind, accessKeyId, credentials, ...(expiresAt ? { expiresAt } : {}) };
}
