// @bundlefarm/s3-local: a local S3 that checks requests as Amazon S3 does (see s3-front.ts) — the S3
// of the tests and of `bundlefarm serve --local`. The signature, chunked-body and query helpers are
// exported too, for the front's own tests against AWS's worked examples.
export { S3Front, S3_FRONT_DEFAULTS, type ObjectAclRecord, type ObjectOwnership, type S3FrontBucketOptions, type S3FrontOptions } from './s3-front.js';
export { RequestLog, s3Calls, type AuthKind, type RecordedS3Request } from './request-log.js';
export { accountNamed, DEFAULT_ACCOUNT, EC2_ACCOUNT, registerProcessCredentials, type S3Account, type S3FrontCredentials } from './credentials.js';
export { ALL_USERS, AUTHENTICATED_USERS, BUCKET_CANNED_ACLS, OBJECT_CANNED_ACLS, type CannedAcl, type Grant, type Grantee, type Permission } from './access-control.js';
export { S3FrontError } from './s3-error.js';
export { isRegionName } from './aws-regions.js';
export { MAX_CLOCK_SKEW_MS, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER } from './signature-v4.js';
export { credentialScopeOf, signWithScope, verifySigV4, type SigV4Input } from './signature-v4.js';
export { sigV2Signature, sigV2StringToSign, verifySigV2 } from './signature-v2.js';
export { decodeAwsChunked } from './aws-chunked.js';
export { parseRawQuery } from './request-target.js';
