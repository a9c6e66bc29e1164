/**
 * @bundlefarm/queue/worker: the worker side — the BullMQ worker that runs bundle jobs through the engine,
 * its configuration, and its metrics. Loads the engine, the pool and the native addon.
 */
export * from './worker-errors.js';
export * from './worker-config.js';
export * from './worker-ec2-config.js';
export * from './job-authorization.js';
export * from './job-max-age.js';
export * from './worker-logger.js';
export * from './region-clients.js';
export * from './rooted-file-image-source.js';
export * from './image-resolver.js';
export * from './job-failure.js';
export * from './progress-reporter.js';
export * from './region-results.js';
export * from './preflight-regions.js';
export * from './bundle-processor.js';
export * from './target-claims.js';
export * from './cancel-listener.js';
export * from './bundle-worker.js';
export * from './lock-fence.js';
export * from './worker-main.js';
export * from './staged-image-cleanup.js';
export * from './region-registration.js';
export * from './job-end-notices.js';
export * from '../metrics/index.js';
