/*
 * Signature Version 4 as S3 checks it, in the Authorization header and in presigned query strings.
 *
 * The expected signature is computed by the AWS SDK's own signer (@smithy/signature-v4, the copy the
 * S3 client uses): its canonical headers, canonical query, canonical request, string to sign and
 * signing key. What this module adds is what S3 does around it, in S3's order: read the credential
 * scope, refuse a scope for the wrong region (naming the bucket's), a stale or future date, an expired
 * URL, an unknown key, a missing or bad `x-amz-content-sha256`, `x-amz-*` headers sent but not signed;
 * then compare signatures. The signed request is given to the signer exactly as received — the
 * headers the client listed as signed, the decoded query, S3's canonical URI of the path — so any
 * byte the client changed after signing (or signed with the wrong secret) fails as at S3.
 */
import { Sha256 } from '@smithy/core/checksum';
import { ALGORITHM_IDENTIFIER, MAX_PRESIGNED_TTL, SignatureV4, UNSIGNED_PAYLOAD, createScope, getCanonicalHeaders } from '@smithy/signature-v4';
import type { HttpRequest } from '@smithy/types';
import { sameSecret, type S3FrontCredentials } from './credentials.js';
import { S3FrontError, s3Errors } from './s3-error.js';
import { canonicalUri, queryRecord } from './request-target.js';

/** The largest difference between a request's time and the front's clock that S3 accepts. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
/** Payload hashes S3 takes besides a hex SHA-256 (the ECDSA forms belong to SigV4a, which the front does not verify). */
const PAYLOAD_MODES = new Set([UNSIGNED_PAYLOAD, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER]);

export interface SigV4Input {
  method: string;
  rawPath: string;
  /** Decoded query parameters, in order. */
  query: ReadonlyArray<readonly [string, string]>;
  /** Lowercase names; repeated headers already joined with ','. */
  headers: Readonly<Record<string, string>>;
}

export interface SigV4Check {
  request: SigV4Input;
  now: Date;
  lookup(accessKeyId: string): S3FrontCredentials | undefined;
  /** Regions the credential scope may name; the first is the one an error names (empty: any). */
  regions: readonly string[];
}

export interface SigV4Result {
  kind: 'header' | 'query';
  accessKeyId: string;
  credentials: S3FrontCredentials;
  /** The credential scope. */
  scope: { date: string; region: string; service: string };
  /** `yyyyMMddTHHmmssZ` of the request (X-Amz-Date). */
  longDate: string;
  signingDate: Date;
  signedHeaders: string[];
  /** The request's signature (the seed of a chunked upload). */
  signature: string;
  /** What the request says its payload is: a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-… form. */
  payloadHash: string;
  /** Presigned URLs: when they stop working. */
  expiresAt?: Date;
}

/** Which SigV4 form a request uses, if any. */
export function sigV4Kind(headers: Readonly<Record<string, string>>, query: ReadonlyArray<readonly [string, string]>): 'header' | 'query' | undefined {
  if (headers.authorization?.startsWith('AWS4-')) return 'header';
  if (query.some(([name]) => name === 'X-Amz-Algorithm')) return 'query';
  return undefined;
}

/** The signer, opened up: the canonical request and string to sign are its own, computed by its own methods. */
class VerifyingSigner extends SignatureV4 {
  constructor(credentials: S3FrontCredentials, region: string, service: string) {
    super({
      credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey, ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}) },
      region,
      service,
      sha256: Sha256,
      // S3's canonical URI is the path encoded once: given already in that form
      uriEscapePath: false,
      applyChecksum: false,
    });
  }

  async expected(request: HttpRequest, signedHeaders: ReadonlySet<string>, payloadHash: string, longDate: string, signingDate: Date, scope: { region: string; service: string }) {
    const canonicalHeaders = getCanonicalHeaders(request, undefined, new Set(signedHeaders));
    const canonicalRequest = this.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    const credentialScope = createScope(longDate.slice(0, 8), scope.region, scope.service);
    const stringToSign = await this.createStringToSign(longDate, credentialScope, canonicalRequest, ALGORITHM_IDENTIFIER);
    const signature = await this.sign(stringToSign, { signingDate, signingRegion: scope.region, signingService: scope.service });
    return { signature, canonicalRequest, stringToSign };
  }
}

/** Signs `stringToSign` with the key derived from `credentials` for the scope of a verified request. */
export function signWithScope(auth: SigV4Result, stringToSign: string): Promise<string> {
  return new VerifyingSigner(auth.credentials, auth.scope.region, auth.scope.service).sign(stringToSign, {
    signingDate: auth.signingDate,
    signingRegion: auth.scope.region,
    signingService: auth.scope.service,
  });
}

export function credentialScopeOf(auth: SigV4Result): string {
  return createScope(auth.scope.date, auth.scope.region, auth.scope.service);
}

interface Parsed {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminal: string;
  signedHeaders: string[];
  signature: string;
}

const LONG_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

function parseLongDate(text: string): Date | undefined {
  const m = LONG_DATE.exec(text);
  if (!m) return undefined;
  const date = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function iso(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function headerMalformed(detail: string, fields: Record<string, string> = {}): S3FrontError {
  return new S3FrontError(400, 'AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`, fields);
}

function queryMalformed(detail: string, fields: Record<string, string> = {}): S3FrontError {
  return new S3FrontError(400, 'AuthorizationQueryParametersError', detail, fields);
}

function parseCredential(credential: string, malformed: (detail: string) => S3FrontError): Omit<Parsed, 'signedHeaders' | 'signature'> {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    throw malformed('the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  const [accessKeyId, date, region, service, terminal] = parts as [string, string, string, string, string];
  return { accessKeyId, date, region, service, terminal };
}

function parseHeader(authorization: string): Parsed {
  const space = authorization.indexOf(' ');
  const algorithm = space < 0 ? authorization : authorization.slice(0, space);
  if (algorithm !== ALGORITHM_IDENTIFIER) {
    throw s3Errors.invalidArgument('Unsupported Authorization Type', 'Authorization', authorization.slice(0, 40));
  }
  const components = new Map<string, string>();
  for (const part of authorization.slice(space + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    components.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = components.get('Credential');
  const signedHeaders = components.get('SignedHeaders');
  const signature = components.get('Signature');
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw headerMalformed('the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  return { ...parseCredential(credential, headerMalformed), signedHeaders: signedHeaders.split(';').filter((h) => h !== ''), signature };
}

const QUERY_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'] as const;

function parseQuery(query: ReadonlyMap<string, string>): Parsed & { longDate: string; expires: string } {
  if (QUERY_PARAMS.some((p) => !query.has(p))) {
    throw queryMalformed(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  if (query.get('X-Amz-Algorithm') !== ALGORITHM_IDENTIFIER) {
    throw queryMalformed('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  }
  const credential = parseCredential(query.get('X-Amz-Credential')!, (d) => queryMalformed(`Error parsing the X-Amz-Credential parameter; ${d}`));
  return {
    ...credential,
    signedHeaders: query.get('X-Amz-SignedHeaders')!.split(';').filter((h) => h !== ''),
    signature: query.get('X-Amz-Signature')!,
    longDate: query.get('X-Amz-Date')!,
    expires: query.get('X-Amz-Expires')!,
  };
}

/** Checks the scope's fixed parts and region; `malformed` builds the error of the auth form. */
function checkScope(parsed: Parsed, longDate: string, regions: readonly string[], kind: 'header' | 'query'): void {
  const malformed = kind === 'header' ? headerMalformed : (d: string, f: Record<string, string> = {}) => queryMalformed(`Error parsing the X-Amz-Credential parameter; ${d}`, f);
  if (parsed.service !== 's3') throw malformed(`incorrect service "${parsed.service}". This endpoint belongs to "s3".`);
  if (parsed.terminal !== 'aws4_request') throw malformed(`incorrect terminal "${parsed.terminal}". This endpoint uses "aws4_request".`);
  if (parsed.date !== longDate.slice(0, 8)) {
    throw malformed(`Invalid credential date "${parsed.date}". This date is not the same as X-Amz-Date: "${longDate.slice(0, 8)}".`);
  }
  if (regions.length > 0 && !regions.includes(parsed.region)) {
    const error = malformed(`the region '${parsed.region}' is wrong; expecting '${regions[0]!}'`, { Region: regions[0]! });
    // S3 names the bucket's region in a header too: a HEAD request's answer has no body to say it
    throw new S3FrontError(error.status, error.code, error.message, error.fields, { 'x-amz-bucket-region': regions[0]! });
  }
}

/** x-amz-* headers sent but not signed (S3 refuses them: they could have been added by anyone on the way). */
function unsignedAmzHeaders(headers: Readonly<Record<string, string>>, signed: ReadonlySet<string>): string[] {
  return Object.keys(headers)
    .filter((name) => name.startsWith('x-amz-') && !signed.has(name))
    .sort();
}

function bytesHex(text: string): string {
  return Buffer.from(text)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
}

export async function verifySigV4(check: SigV4Check): Promise<SigV4Result> {
  const { request, now } = check;
  const kind = sigV4Kind(request.headers, request.query);
  if (kind === undefined) throw new Error('verifySigV4: not a SigV4 request');
  const queryMap = new Map(request.query.map(([n, v]) => [n, v] as const));

  let parsed: Parsed;
  let longDate: string;
  let signingDate: Date;
  let expiresAt: Date | undefined;
  if (kind === 'header') {
    parsed = parseHeader(request.headers.authorization!);
    const amzDate = request.headers['x-amz-date'];
    const date = amzDate !== undefined ? parseLongDate(amzDate) : undefined;
    if (amzDate === undefined || date === undefined) {
      // (a request dated only by `Date:` is valid at S3; every SDK sends X-Amz-Date, which the front requires)
      throw s3Errors.accessDenied('AWS authentication requires a valid Date or x-amz-date header');
    }
    longDate = amzDate;
    signingDate = date;
    checkScope(parsed, longDate, check.regions, kind);
    if (Math.abs(now.getTime() - date.getTime()) > MAX_CLOCK_SKEW_MS) {
      throw new S3FrontError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
        RequestTime: amzDate,
        ServerTime: iso(now),
        MaxAllowedSkewMilliseconds: String(MAX_CLOCK_SKEW_MS),
      });
    }
  } else {
    const q = parseQuery(queryMap);
    parsed = q;
    const date = parseLongDate(q.longDate);
    if (date === undefined) throw queryMalformed('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
    longDate = q.longDate;
    signingDate = date;
    if (!/^\d+$/.test(q.expires)) throw queryMalformed('X-Amz-Expires should be a number');
    const expires = Number(q.expires);
    if (expires > MAX_PRESIGNED_TTL) throw queryMalformed(`X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGNED_TTL}`);
    checkScope(parsed, longDate, check.regions, kind);
    expiresAt = new Date(date.getTime() + expires * 1000);
    if (now.getTime() > expiresAt.getTime()) {
      throw s3Errors.accessDenied('Request has expired', { 'X-Amz-Expires': q.expires, Expires: iso(expiresAt), ServerTime: iso(now) });
    }
    if (date.getTime() - now.getTime() > MAX_CLOCK_SKEW_MS) throw s3Errors.accessDenied('Request is not valid yet');
  }

  const credentials = check.lookup(parsed.accessKeyId);
  if (!credentials) {
    throw new S3FrontError(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: parsed.accessKeyId });
  }
  const token = kind === 'header' ? request.headers['x-amz-security-token'] : queryMap.get('X-Amz-Security-Token');
  const expectedToken = credentials.sessionToken;
  if (expectedToken === undefined ? token !== undefined : token === undefined || !sameSecret(expectedToken, token)) {
    throw new S3FrontError(400, 'InvalidToken', 'The provided token is malformed or otherwise invalid.');
  }

  const signed = new Set(parsed.signedHeaders);
  let payloadHash: string;
  if (kind === 'header') {
    const declared = request.headers['x-amz-content-sha256'];
    if (declared === undefined) throw s3Errors.invalidRequest('Missing required header for this request: x-amz-content-sha256');
    if (!PAYLOAD_MODES.has(declared) && !/^[0-9a-f]{64}$/.test(declared)) {
      throw s3Errors.invalidArgument(
        'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
        'x-amz-content-sha256',
        declared,
      );
    }
    payloadHash = declared;
  } else {
    // a presigned URL signs no payload (a signed x-amz-content-sha256 header is taken at its word)
    payloadHash = signed.has('x-amz-content-sha256') ? (request.headers['x-amz-content-sha256'] ?? UNSIGNED_PAYLOAD) : UNSIGNED_PAYLOAD;
  }
  const notSigned = unsignedAmzHeaders(request.headers, signed);
  if (!signed.has('host')) notSigned.unshift('host');
  if (notSigned.length > 0) {
    throw s3Errors.accessDenied('There were headers present in the request which were not signed', { HeadersNotSigned: notSigned.join(', ') });
  }

  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = request.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  const toSign: HttpRequest = {
    method: request.method,
    protocol: 'http:',
    hostname: request.headers.host ?? '',
    path: canonicalUri(request.rawPath),
    query: queryRecord(kind === 'query' ? request.query.filter(([n]) => n !== 'X-Amz-Signature') : request.query),
    headers,
  };
  const scope = { date: parsed.date, region: parsed.region, service: parsed.service };
  const expected = await new VerifyingSigner(credentials, scope.region, scope.service).expected(toSign, signed, payloadHash, longDate, signingDate, scope);
  if (!sameSecret(expected.signature, parsed.signature)) {
    throw new S3FrontError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
      AWSAccessKeyId: parsed.accessKeyId,
      StringToSign: expected.stringToSign,
      SignatureProvided: parsed.signature,
      StringToSignBytes: bytesHex(expected.stringToSign),
      CanonicalRequest: expected.canonicalRequest,
      CanonicalRequestBytes: bytesHex(expected.canonicalRequest),
    });
  }
  return {
    kind,
    accessKeyId: parsed.accessKeyId,
    credentials,
    scope,
    longDate,
    signingDate,
    signedHeaders: [...signed],
    signature: parsed.signature,
    payloadHash,
    ...(expiresAt ? { expiresAt } : {}),
  };
}
