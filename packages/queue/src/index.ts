/**
 * @bundlefarm/queue: the jobs side — the job spec and its types, the producer (enqueue, status, cancel,
 * retry), principals and scopes, staging, job-end notices, Redis settings. What the API imports; it
 * loads no engine, no Piscina pool, no native addon (a test holds it to that: test/contracts/module-graph).
 * The worker — which bundles, and so loads all of those — is `@bundlefarm/queue/worker`.
 */
export * from './job-spec.js';
export * from './job-types.js';
export * from './image-root.js';
export * from './redis-connection.js';
export * from './redis-url.js';
export * from './redis-connection-log.js';
export * from './queue-settings.js';
export * from './cancel-channel.js';
export * from './scopes/index.js';
export * from './staging/index.js';
export * from './producer/index.js';
export * from './notify/job-notice.js';
export * from './notify/notify-endpoint.js';
export * from './failure-reason.js';
export * from './region-failures.js';
export * from './metrics/build-info.js';
export * from './metrics/metric-buckets.js';
