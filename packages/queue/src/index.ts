/**
 * @bundlefarm/queue: the jobs side — the job spec and its types, the producer (enqueue, status, cancel,
 * retry), principals and scopes, staging, job-end notices, Redis settings. What the API imports; it
 * loads no engine, no Piscina pool, no native addon (a test holds it to that: test/contracts/module-graph).
 * The worker — which bundles, and so loads all of those — is `@bundlefarm/queue/worker`.
 */
// The job spec (what POST /v1/bundles takes), its validation, and the data, progress and result of a job.
export { validateJobSpec, jobSpecSchema, KNOWN_REGIONS, type JobSpec, type JobSpecInput, type SpecProblem, type SpecValidation } from './job-spec.js';
export { type BundleJobData, type JobOrigin, type BundleJobProgress, type BundleJobResult } from './job-types.js';
// The producer: enqueue, status, list, log, cancel and retry, with its options, results and errors.
export { BundleProducer, COUNTED_STATES, type EnqueueOptions, type EnqueueResult, type CancelResult, type RetryResult, type JobCounts, type JobLog, type JobOwner } from './producer/bundle-producer.js';
export { type BundleProducerOptions, type S3Settings } from './producer/producer-options.js';
export { parseFailure, toBundleStatus, type BundleStatus, type BundleFailure } from './producer/bundle-status.js';
export { LIST_STATES, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, type ListOptions, type JobPage } from './producer/job-listing.js';
export { jobIdSchema, isJobId, deliveryJobId } from './producer/job-ids.js';
export { InvalidJobSpecError, JobNotFoundError, JobStateConflictError, InvalidJobDataError, InvalidCursorError, IdempotencyConflictError, QueueUnavailableError } from './producer/producer-errors.js';
export { failureCode } from './failure-reason.js';
// Per-region failures as data: what the worker records in a failed job and how status and notices read it back.
export { regionFailureRecord, regionFailuresFromText, type RegionFailure } from './region-failures.js';
// Redis: the URL forms, the queue prefix, the connection; the queue's name and job options.
export { createRedis, type RedisClient, type RedisSettings } from './redis-connection.js';
export { parseRedisUrl, redisUrlSchema, resolveQueuePrefix, type RedisTarget } from './redis-url.js';
export { BUNDLE_QUEUE, DEFAULT_PREFIX, jobOptions, type JobPolicy } from './queue-settings.js';
// The settings the API, the workers and `serve --local` share: Redis URL, queue prefix, log level (one rule each).
export { SERVICE_ENV, SERVICE_DEFAULTS, LOG_LEVELS, logLevelSchema, queuePrefixSchema, queuePrefixIssue, serviceSettingFromEnv, type LogLevel } from './service-settings.js';
// Principals, API tokens and scopes: who may bundle what, checked by the API at enqueue and by the worker again.
export { Principals, Principal, LEGACY_PRINCIPAL, principalsFileSchema } from './scopes/principals.js';
export { hashToken, generateToken, MIN_TOKEN_LENGTH } from './scopes/token-hash.js';
export { specScopeProblems, imageScopeProblem, targetPath } from './scopes/scope-check.js';
export { GlobSet } from './scopes/glob.js';
export { jobMacKey } from './scopes/job-mac.js';
export { OutOfScopeError } from './scopes/scope-errors.js';
// Staging: images uploaded through the API before a job names them.
export { parseStagingArea, stagedKey, stagingScopeGlob, UPLOAD_ID_PATTERN, STAGED_FILENAME_PATTERN, type StagingArea } from './staging/staging-area.js';
// Job-end notices: the queue the workers post them to and the notification endpoints they are delivered to.
export { NOTIFY_QUEUE, noticeId, noticeMacValid, type NoticeState, type NotificationPayload, type NoticeJobData } from './notify/job-notice.js';
export { notifyEndpointsSchema, type NotifyEndpoint } from './notify/notify-endpoint.js';
// Metrics shared by the API and the workers.
export { registerBuildInfo } from './metrics/build-info.js';
export { JOB_DURATION_BUCKETS } from './metrics/metric-buckets.js';

// For tests: Redis reconnection and URL details, the cancel channel, job MACs, globs, token digests,
// region failures, rooted paths, and posting a notice directly.
export { reconnectDelayMs, lockSafeReconnect } from './redis-connection.js';
export { redactRedisUrl, RedisUrlError, CLUSTER_DEFAULT_PREFIX } from './redis-url.js';
export { cancelChannel } from './cancel-channel.js';
export { checkProducerOptions } from './producer/producer-options.js';
export { jobMac, jobMacValid, jobIssueProblem, JOB_CLOCK_SKEW_MS } from './scopes/job-mac.js';
export { Glob, globMatches, type GlobStats } from './scopes/glob.js';
export { findTokenDigest } from './scopes/token-hash.js';
export { PrincipalsFileError } from './scopes/scope-errors.js';
export { type ReplacedBundle } from './job-types.js';
export { isInside } from './image-root.js';
export { jobNotice, addNotice } from './notify/job-notice.js';
