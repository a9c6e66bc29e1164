/**
 * @bundlefarm/queue/worker: the worker side — the BullMQ worker that runs bundle jobs through the engine,
 * its configuration, and its metrics. Loads the engine, the pool and the native addon.
 */
// Running a worker process (apps/worker/bin is a thin wrapper around workerMain).
export { workerMain, type WorkerMainOptions } from './worker-main.js';
// Its configuration from the environment, with the documented defaults, and the error that names a bad setting.
export { loadWorkerConfig, describeWorkerConfig, WORKER_DEFAULTS, WORKER_ENV, type WorkerConfig } from './worker-config.js';
export { WorkerConfigError, type ConfigProblem } from './worker-errors.js';

// For tests: the pieces of a job run checked on their own (progress, lock timing, per-region settings,
// replacement notes, job-end states, rooted image files, metrics).
export { s3SettingsFor } from './worker-config.js';
export { ec2SettingsFor } from './worker-ec2-config.js';
export { RegionsFailedError } from './worker-errors.js';
export { JobProgressReporter, earlierPercent } from './progress-reporter.js';
export { lockRenewTimeMs } from './bundle-worker.js';
export { fenceAfterMs } from './lock-fence.js';
export { replacementNote } from './region-results.js';
export { endState } from './job-end-notices.js';
export { RootedFileImageSource, type OpenedImageCheck } from './rooted-file-image-source.js';
// the job's authorization as the processor runs it: the scope by name, then on the image file as opened
export { checkJobScope, openedImageCheck } from './job-authorization.js';
export { resolveImage } from './image-resolver.js';
export { type RegionClients } from './region-clients.js';
export { jobMaxAgeSchema, DEFAULT_JOB_MAX_AGE_MS } from './job-max-age.js';
export { WorkerMetrics } from '../metrics/worker-metrics.js';
// For tests: how a classified error becomes the job's failure (BullMQ's UnrecoverableError for a permanent one).
export { toJobFailure } from './job-failure.js';
