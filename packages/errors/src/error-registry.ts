/**
 * Every error code bundlefarm uses, in one table: what it means in one line, whether trying again may
 * help, and the HTTP status the API answers it with. Modelled on Fastify's `lib/errors.js`: codes are
 * stable, and so are their statuses and meanings.
 *
 * - The API's status map (packages/server/src/errors/status-registry.ts) is this table's `http` column.
 * - docs/errors.md is generated from it (`npm run docs:errors`); a test fails when it is stale.
 * - A test (packages/errors/test/error-registry.test.ts) fails when the source uses a code that is not
 *   here, when a code here is used nowhere, or when an error class's `transient` disagrees with `retry`.
 *
 * `retry`: 'no' — the input is wrong, the same request fails again (BullMQ's UnrecoverableError in the
 * workers); 'yes' — a condition that passes (S3 or Redis down, disk full, a lock lost); 'depends' — the
 * class decides per case (an errno, an S3 status).
 */

export type ErrorRetry = 'yes' | 'no' | 'depends';

export interface ErrorEntry {
  /** HTTP status of an API response carrying this code. */
  readonly http: number;
  readonly retry: ErrorRetry;
  /** One line: what went wrong, in the user's terms. */
  readonly meaning: string;
  /** Where the code comes from: the CLI, the API, the workers (a job's failure), or any of them. */
  readonly where: 'cli' | 'api' | 'worker' | 'any';
}

export const ERROR_REGISTRY = {
  // ---- input: images, keys, names, options (CLI, API at enqueue, workers) ----
  BF_IMAGE_TOO_LARGE: { http: 400, retry: 'no', where: 'any', meaning: 'the image is over the 10 GiB that EC2 accepts for an instance-store bundle' },
  BF_IMAGE_EMPTY: { http: 400, retry: 'no', where: 'any', meaning: 'the image has no bytes' },
  BF_IMAGE_SIZE_MISMATCH: { http: 500, retry: 'no', where: 'any', meaning: 'an unbundled image is not the size its manifest states' },
  BF_IMAGE_DIGEST_MISMATCH: { http: 500, retry: 'no', where: 'any', meaning: 'an unbundled image does not have the SHA-1 its manifest states' },
  BF_FILE_UNREADABLE: { http: 400, retry: 'depends', where: 'any', meaning: 'a file (image, key, certificate, manifest, part) could not be opened or read; the errno says why' },
  BF_FILE_UNWRITABLE: { http: 500, retry: 'depends', where: 'any', meaning: 'a file could not be written (destination read-only, full, not a directory)' },
  BF_DESTINATION_EXISTS: { http: 409, retry: 'no', where: 'cli', meaning: 'the destination already holds a bundle or image of that name; --overwrite replaces it' },
  BF_UNSAFE_PATH: { http: 400, retry: 'no', where: 'any', meaning: 'a path leads outside the directory it must stay in (image root, destination)' },
  BF_BAD_ACCOUNT: { http: 400, retry: 'no', where: 'any', meaning: 'the AWS account id is not 12 digits' },
  BF_BAD_ARCH: { http: 400, retry: 'no', where: 'any', meaning: 'the architecture is not i386 or x86_64' },
  BF_BAD_NAME: { http: 400, retry: 'no', where: 'any', meaning: 'the bundle name is not usable (characters, length, a hidden or directory name)' },
  BF_BAD_OPTION: { http: 400, retry: 'no', where: 'any', meaning: 'an option value is malformed (kernel id, block device mapping, level …); the message names it' },
  BF_UNKNOWN_REGION: { http: 400, retry: 'no', where: 'any', meaning: 'the region or partition is not one bundlefarm has an EC2 certificate for' },
  BF_BAD_KEY: { http: 400, retry: 'no', where: 'any', meaning: 'the private key cannot be used (not PEM, truncated, encrypted, not RSA)' },
  BF_BAD_CERT: { http: 400, retry: 'no', where: 'any', meaning: 'the certificate cannot be used (not PEM X.509, not RSA)' },
  BF_WEAK_KEY: { http: 400, retry: 'no', where: 'any', meaning: 'the private key is too weak to sign new bundles (RSA under 2048 bits); existing bundles made with it can still be read' },
  BF_CERT_KEY_MISMATCH: { http: 400, retry: 'no', where: 'any', meaning: 'the certificate is not the one of the private key given' },
  BF_KEY_NOT_CONFIGURED: { http: 400, retry: 'no', where: 'worker', meaning: 'the job names a signing identity the worker has not configured' },
  // ---- bundles read back: manifests, parts, archives ----
  BF_MANIFEST_MALFORMED: { http: 400, retry: 'no', where: 'any', meaning: 'the manifest is not one bundlefarm or ec2-ami-tools writes (markup, elements, values); the message names the construct' },
  BF_SIGNATURE_INVALID: { http: 400, retry: 'no', where: 'any', meaning: 'the manifest signature does not verify with the certificate given: forged, tampered or another signer' },
  BF_WRONG_KEY: { http: 400, retry: 'no', where: 'any', meaning: 'the private key does not unwrap the manifest’s AES key (the bundle was made for another key)' },
  BF_PART_MISSING: { http: 400, retry: 'no', where: 'any', meaning: 'a part the manifest names is not where it was looked for' },
  BF_PART_TAMPERED: { http: 400, retry: 'no', where: 'any', meaning: 'a part does not have the SHA-1 the manifest states: corrupt or tampered' },
  BF_ARCHIVE_INVALID: { http: 400, retry: 'no', where: 'any', meaning: 'the decrypted stream is not one tar member named like the manifest’s image' },
  // ---- bundle-vol / bundle-tar: root trees and tarballs ----
  BF_TOOL_MISSING: { http: 500, retry: 'no', where: 'any', meaning: 'a tool bundle-vol needs (mke2fs, debugfs, sfdisk …) is not installed; the message names its package' },
  BF_FS_BUILD_FAILED: { http: 500, retry: 'no', where: 'any', meaning: 'building the ext4 image failed; the tool’s own message is quoted' },
  BF_FS_FULL: { http: 400, retry: 'no', where: 'any', meaning: 'the tree does not fit the filesystem size asked for (-s)' },
  BF_SCRATCH_FULL: { http: 503, retry: 'yes', where: 'any', meaning: 'the scratch space for building the filesystem is too small for this job now' },
  BF_SCRATCH_LIMIT: { http: 400, retry: 'no', where: 'worker', meaning: 'a filesystem job needs more than the worker’s scratch limit (scratch.maxBytes): its size, tarball or tree is too large' },
  BF_TARBALL_INVALID: { http: 400, retry: 'no', where: 'any', meaning: 'the rootfs tarball is malformed or hostile (.., bad checksum, oversized header)' },
  BF_TREE_UNREADABLE: { http: 400, retry: 'no', where: 'any', meaning: 'an entry of the root tree could not be read' },
  BF_ENTRY_UNSUPPORTED: { http: 400, retry: 'no', where: 'any', meaning: 'an entry of the root tree or tarball cannot be put in an ext4 image' },
  // ---- S3 ----
  BF_S3_ACCESS_DENIED: { http: 403, retry: 'no', where: 'any', meaning: 'S3 refused these credentials for the bucket or object named' },
  BF_S3_ACL_NOT_SUPPORTED: { http: 400, retry: 'no', where: 'any', meaning: 'the bucket refuses ACLs (Object Ownership: bucket owner enforced), and EC2 needs aws-exec-read' },
  BF_S3_BUCKET_NOT_FOUND: { http: 400, retry: 'no', where: 'any', meaning: 'the bucket does not exist' },
  BF_S3_OBJECT_NOT_FOUND: { http: 400, retry: 'no', where: 'any', meaning: 'the S3 object does not exist' },
  BF_S3_OBJECT_CHANGED: { http: 409, retry: 'no', where: 'worker', meaning: 'the S3 image changed while it was being read (its ETag moved)' },
  BF_S3_OBJECT_TOO_LARGE: { http: 400, retry: 'no', where: 'any', meaning: 'the S3 image is over 10 GiB' },
  BF_S3_REGION_MISMATCH: { http: 400, retry: 'no', where: 'any', meaning: 'the bucket is in another region than the target names' },
  BF_S3_REQUEST_FAILED: { http: 502, retry: 'depends', where: 'any', meaning: 'an S3 request failed with an error S3 named; the message quotes it' },
  BF_S3_UNAVAILABLE: { http: 503, retry: 'yes', where: 'any', meaning: 'S3 could not be reached or kept failing after the retries' },
  BF_S3_ALL_REGIONS_FAILED: { http: 500, retry: 'depends', where: 'worker', meaning: 'no target region could be published; each region’s error is listed' },
  // ---- moving bundles: upload, download, delete-bundle, migrate ----
  BF_BUNDLE_REGION_MISMATCH: { http: 400, retry: 'no', where: 'cli', meaning: 'the bucket is not in --region, or the manifest is wrapped for another partition; the message says which migrate-manifest to run' },
  BF_NOT_CONFIRMED: { http: 400, retry: 'no', where: 'cli', meaning: 'a destructive command was not confirmed (answered no, or no terminal to ask on and no -y)' },
  // ---- EC2: registering AMIs (CLI register/deregister, workers for targets with register) ----
  BF_AMI_NAME_TAKEN: { http: 409, retry: 'no', where: 'any', meaning: 'another image of the account (from another manifest) already has this AMI name in the region' },
  BF_AMI_NAME_INVALID: { http: 400, retry: 'no', where: 'any', meaning: "the AMI name breaks EC2's rules (3-128 letters, digits, spaces and ( ) [ ] . / - ' @ _)" },
  BF_AMI_NOT_FOUND: { http: 404, retry: 'no', where: 'cli', meaning: 'no such AMI of this account in the region (InvalidAMIID.NotFound/Unavailable/Malformed)' },
  BF_EC2_MANIFEST_INVALID: { http: 400, retry: 'no', where: 'any', meaning: 'EC2 refused the manifest (InvalidManifest): missing, unreadable by EC2 (no aws-exec-read), or in a bucket of another region' },
  BF_EC2_ACCESS_DENIED: { http: 403, retry: 'no', where: 'any', meaning: 'EC2 refused these credentials (AuthFailure, UnauthorizedOperation, missing credentials)' },
  BF_EC2_UNAVAILABLE: { http: 503, retry: 'yes', where: 'any', meaning: 'EC2 throttled, failed (5xx) or could not be reached, after the SDK retried' },
  BF_EC2_REQUEST_FAILED: { http: 502, retry: 'no', where: 'any', meaning: 'an EC2 request failed with another error EC2 named; the message quotes it' },
  // ---- jobs and workers ----
  BF_BAD_SPEC: { http: 400, retry: 'no', where: 'any', meaning: 'the job spec is invalid; `problems` names each field' },
  BF_OUT_OF_SCOPE: { http: 403, retry: 'no', where: 'any', meaning: 'the spec asks for something outside the caller’s configured scope; `problems` names each field' },
  BF_JOB_UNAUTHORIZED: { http: 403, retry: 'no', where: 'worker', meaning: 'a worker refused a job whose principal, spec or MAC it cannot trust (added or edited outside the API)' },
  BF_JOB_NOT_FOUND: { http: 404, retry: 'no', where: 'any', meaning: 'no such job, or one the caller may not see' },
  BF_JOB_STATE_CONFLICT: { http: 409, retry: 'no', where: 'api', meaning: 'the job is not in a state that allows this (cancel a completed job, retry one that is not failed or cancelled …)' },
  BF_JOB_DATA_INVALID: { http: 422, retry: 'no', where: 'api', meaning: 'the job’s data in Redis is not a job of this service (e.g. added by hand): it cannot be reported or retried' },
  BF_BAD_CURSOR: { http: 400, retry: 'no', where: 'api', meaning: 'a list cursor that is not one the API gave out (use the previous page’s nextCursor)' },
  BF_JOB_FAILED: { http: 500, retry: 'no', where: 'cli', meaning: 'a job the CLI waited for failed without a code of its own' },
  BF_JOB_LOCK_LOST: { http: 503, retry: 'yes', where: 'worker', meaning: 'the worker lost the job’s lock (Redis unreachable too long); another worker takes it over' },
  BF_CANCELLED: { http: 409, retry: 'no', where: 'any', meaning: 'the job or command was cancelled on purpose' },
  BF_REGIONS_FAILED: { http: 500, retry: 'depends', where: 'worker', meaning: 'some target regions failed (others may be published); each region’s error is listed' },
  BF_TARGET_BUSY: { http: 409, retry: 'yes', where: 'worker', meaning: 'another job is writing the same target right now; this one waits for it' },
  BF_BUNDLE_EXISTS: { http: 409, retry: 'no', where: 'any', meaning: 'a bundle is already published at the target; send replace: true (--replace) to replace it' },
  BF_IMAGE_ROOT_NOT_CONFIGURED: { http: 400, retry: 'no', where: 'worker', meaning: 'the job names a local image, and the worker has no image root' },
  BF_WORKER_CONFIG: { http: 500, retry: 'no', where: 'worker', meaning: 'the worker configuration is invalid; the message names the setting' },
  BF_WORKER_INTERNAL: { http: 500, retry: 'yes', where: 'worker', meaning: 'an unexpected error in a worker (a bug, or a failure nothing below classified); retried' },
  BF_QUEUE_UNAVAILABLE: { http: 503, retry: 'yes', where: 'any', meaning: 'Redis cannot be reached; try again' },
  BF_LOCAL_SERVICE: { http: 500, retry: 'no', where: 'cli', meaning: '`bundlefarm serve --local` cannot start here (a port taken, redis-server missing, its data directory in use); the message says what to change' },
  // ---- the API ----
  BF_BAD_REQUEST: { http: 400, retry: 'no', where: 'api', meaning: 'the request is malformed (a header or parameter); the message names it' },
  BF_BAD_JSON: { http: 400, retry: 'no', where: 'api', meaning: 'the body is not valid JSON' },
  BF_UNAUTHORIZED: { http: 401, retry: 'no', where: 'api', meaning: 'no valid token, webhook signature or webhook token' },
  BF_FORBIDDEN: { http: 403, retry: 'no', where: 'api', meaning: 'authenticated, but this principal may not do this (a read-only board user writing)' },
  BF_NOT_FOUND: { http: 404, retry: 'no', where: 'api', meaning: 'no such route' },
  BF_BODY_TIMEOUT: { http: 408, retry: 'no', where: 'api', meaning: 'the request body arrived too slowly' },
  BF_IDEMPOTENCY_CONFLICT: { http: 409, retry: 'no', where: 'api', meaning: 'the Idempotency-Key was used before, by the same principal, with another spec' },
  BF_WEBHOOK_REPLAYED: { http: 409, retry: 'no', where: 'api', meaning: 'a signed webhook body or delivery id seen before, as another event' },
  BF_BODY_TOO_LARGE: { http: 413, retry: 'no', where: 'api', meaning: 'the request body is over the configured limit' },
  BF_UNSUPPORTED_MEDIA_TYPE: { http: 415, retry: 'no', where: 'api', meaning: 'the body is not JSON' },
  BF_RULE_SPEC_INVALID: { http: 422, retry: 'no', where: 'api', meaning: 'a webhook rule rendered an invalid spec for this event; `problems` says why' },
  BF_TOO_MANY_ATTEMPTS: { http: 429, retry: 'yes', where: 'api', meaning: 'too many failed logins from this client; Retry-After says when to try again' },
  BF_BUSY: { http: 503, retry: 'yes', where: 'api', meaning: 'the webhook buffer budget is used up; try again' },
  BF_INTERNAL: { http: 500, retry: 'no', where: 'api', meaning: 'an unexpected error in the API; the server log has the details' },
  BF_BAD_CONFIG: { http: 500, retry: 'no', where: 'api', meaning: 'the API configuration is invalid; the message names the setting' },
  BF_BAD_PRINCIPALS: { http: 500, retry: 'no', where: 'any', meaning: 'the principals file is invalid; the message names the entry' },
  BF_BAD_WEBHOOK_RULES: { http: 500, retry: 'no', where: 'api', meaning: 'the webhook rules are invalid; the message names the rule' },
  // ---- uploads from CI (POST /v1/uploads) ----
  BF_UPLOAD_NOT_FOUND: { http: 404, retry: 'no', where: 'api', meaning: 'no such upload, or another principal’s; start a new one' },
  BF_UPLOAD_INCOMPLETE: { http: 409, retry: 'no', where: 'api', meaning: 'completion asked for while parts are missing or differ from the ETags given; GET the upload for what to send' },
  BF_STAGING_NOT_CONFIGURED: { http: 501, retry: 'no', where: 'api', meaning: 'the API takes no uploads: it has no staging area (BUNDLEFARM_STAGING)' },
  BF_UPLOAD_FAILED: { http: 502, retry: 'yes', where: 'cli', meaning: 'sending an image to the staging area stopped (connection cut, S3 error); run the same command again to resume' },
  // ---- the CLI talking to the API ----
  BF_API_UNREACHABLE: { http: 503, retry: 'yes', where: 'cli', meaning: 'the CLI could not reach the API (--api, BUNDLEFARM_API)' },
  BF_API_ERROR: { http: 502, retry: 'no', where: 'cli', meaning: 'the API answered with something that is not a bundlefarm error body' },
} as const satisfies Record<`BF_${string}`, ErrorEntry>;

export type ErrorCode = keyof typeof ERROR_REGISTRY;

/** The entry of `code`, or undefined for a code bundlefarm does not use (another service's). */
export function errorEntry(code: string): ErrorEntry | undefined {
  return Object.hasOwn(ERROR_REGISTRY, code) ? ERROR_REGISTRY[code as ErrorCode] : undefined;
}

/** HTTP status for a code: the registry's, or for an unknown code 503 when transient, 500 otherwise. */
export function httpStatusOf(code: string, transient: boolean): number {
  return errorEntry(code)?.http ?? (transient ? 503 : 500);
}
