/*
 * What a path-style S3 request names, read from its raw request line: bucket, key and query, decoded
 * as S3 decodes them, plus the forms the signatures are computed over (the canonical URI of SigV4,
 * S3's re-encoding of the decoded path; the raw path SigV2 signs) and the S3 operation it is.
 */
import { escapeUri } from '@smithy/core/protocols';
import { S3FrontError } from './s3-error.js';

export interface RequestTarget {
  method: string;
  /** The path exactly as sent (percent-encoded), without the query. */
  rawPath: string;
  /** The query exactly as sent, without `?` ('' when none). */
  rawQuery: string;
  /** Decoded query parameters in order; a parameter without `=` has the value ''. */
  query: Array<[string, string]>;
  /** Bucket name (decoded); undefined for service-level requests (`/`). */
  bucket: string | undefined;
  /** Object key (decoded); undefined for bucket-level requests. */
  key: string | undefined;
  /** The S3 operation (`PutObject`, `GetBucketLocation` …) as far as method, query and headers tell. */
  operation: string;
}

/**
 * Percent-decodes like S3 does for paths and queries: `%XX` sequences only (a `+` stays a `+`).
 * A malformed sequence is the client's error, answered as S3 does.
 */
export function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3FrontError(400, 'InvalidURI', "Couldn't parse the specified URI.", { URI: text });
  }
}

export function parseRawQuery(rawQuery: string): Array<[string, string]> {
  if (rawQuery === '') return [];
  return rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq < 0 ? [percentDecode(part), ''] : [percentDecode(part.slice(0, eq)), percentDecode(part.slice(eq + 1))];
    });
}

/** The query as the SigV4 signer takes it: name → value, repeated names → all their values. */
export function queryRecord(pairs: ReadonlyArray<readonly [string, string]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of pairs) {
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else out[name] = Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return out;
}

/** First value of a query parameter (names are case-sensitive in S3). */
export function queryValue(target: Pick<RequestTarget, 'query'>, name: string): string | undefined {
  return target.query.find(([n]) => n === name)?.[1];
}

export function hasQuery(target: Pick<RequestTarget, 'query'>, name: string): boolean {
  return target.query.some(([n]) => n === name);
}

/**
 * SigV4's canonical URI for S3: every path segment decoded, then URI-encoded once with AWS's rules
 * (RFC 3986 unreserved characters kept, `/` between segments kept). A client that encodes a key
 * differently on the wire (say, leaves `!` or `(` unencoded) still matches, as it does at S3.
 */
export function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => escapeUri(percentDecode(segment)))
    .join('/');
}

/** The path of a key at another S3 server (the front's backend), encoded as SDKs encode it. */
export function encodedPath(bucket: string, key?: string): string {
  return `/${escapeUri(bucket)}${key !== undefined ? `/${key.split('/').map(escapeUri).join('/')}` : ''}`;
}

export function parseTarget(method: string, url: string, headers: Readonly<Record<string, string | undefined>>): RequestTarget {
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  if (!rawPath.startsWith('/')) throw new S3FrontError(400, 'InvalidURI', "Couldn't parse the specified URI.", { URI: url });
  const query = parseRawQuery(rawQuery);
  const rest = rawPath.slice(1);
  const slash = rest.indexOf('/');
  const bucketPart = slash < 0 ? rest : rest.slice(0, slash);
  const keyPart = slash < 0 ? '' : rest.slice(slash + 1);
  const bucket = bucketPart === '' ? undefined : percentDecode(bucketPart);
  const key = bucket === undefined || keyPart === '' ? undefined : percentDecode(keyPart);
  const partial = { method, rawPath, rawQuery, query, bucket, key };
  return { ...partial, operation: operationOf(partial, headers) };
}

function operationOf(
  t: Pick<RequestTarget, 'method' | 'query' | 'bucket' | 'key'>,
  headers: Readonly<Record<string, string | undefined>>,
): string {
  const has = (name: string): boolean => hasQuery(t, name);
  const m = t.method;
  if (t.bucket === undefined) return m === 'GET' ? 'ListBuckets' : `${m} /`;
  if (t.key === undefined) {
    if (m === 'HEAD') return 'HeadBucket';
    if (m === 'GET') {
      if (has('location')) return 'GetBucketLocation';
      if (has('acl')) return 'GetBucketAcl';
      if (has('uploads')) return 'ListMultipartUploads';
      if (has('versions')) return 'ListObjectVersions';
      if (has('ownershipControls')) return 'GetBucketOwnershipControls';
      return queryValue(t, 'list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
    }
    if (m === 'PUT') return has('acl') ? 'PutBucketAcl' : t.query.length === 0 || (t.query.length === 1 && has('x-id')) ? 'CreateBucket' : `PutBucket?${t.query[0]![0]}`;
    if (m === 'DELETE') return 'DeleteBucket';
    if (m === 'POST' && has('delete')) return 'DeleteObjects';
    return `${m} bucket`;
  }
  if (m === 'HEAD') return 'HeadObject';
  if (m === 'GET') {
    if (has('acl')) return 'GetObjectAcl';
    if (has('tagging')) return 'GetObjectTagging';
    if (has('uploadId')) return 'ListParts';
    return 'GetObject';
  }
  if (m === 'PUT') {
    if (has('acl')) return 'PutObjectAcl';
    if (has('tagging')) return 'PutObjectTagging';
    if (has('uploadId')) return headers['x-amz-copy-source'] !== undefined ? 'UploadPartCopy' : 'UploadPart';
    return headers['x-amz-copy-source'] !== undefined ? 'CopyObject' : 'PutObject';
  }
  if (m === 'DELETE') return has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
  if (m === 'POST') {
    if (has('uploads')) return 'CreateMultipartUpload';
    if (has('uploadId')) return 'CompleteMultipartUpload';
  }
  return `${m} object`;
}
