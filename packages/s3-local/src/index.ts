// @bundlefarm/s3-local: a local S3 that checks requests as Amazon S3 does (see s3-front.ts) — the S3
// of the tests and of `bundlefarm serve --local`.

// The S3 front, its options and the accounts it knows.
export { S3Front, type S3FrontOptions, type S3FrontBucketOptions, type ObjectAclRecord } from './s3-front.js';
export { EC2_ACCOUNT, registerProcessCredentials, type S3FrontCredentials } from './credentials.js';
export { ALL_USERS } from './access-control.js';
export { isRegionName } from './aws-regions.js';
// What it was asked: the request log tests assert on.
export { RequestLog, s3Calls, type RecordedS3Request } from './request-log.js';

// For tests: the signature, chunked-body and query helpers, checked against AWS's worked examples.
export { S3FrontError } from './s3-error.js';
export { credentialScopeOf, signWithScope, verifySigV4, type SigV4Input } from './signature-v4.js';
export { sigV2Signature, sigV2StringToSign, verifySigV2 } from './signature-v2.js';
export { decodeAwsChunked } from './aws-chunked.js';
export { parseRawQuery } from './request-target.js';
