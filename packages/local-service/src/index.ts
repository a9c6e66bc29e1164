// @bundlefarm/local-service: the whole bundlefarm service on one machine (`bundlefarm serve --local`).

// Starting it, or finding the one already running, and its options.
export { startLocalService, runningLocalService, type LocalService } from './local-service.js';
export { defaultLocalDataDir, parseLocalBucket, type LocalBucket, type LocalServiceOptions } from './local-service-options.js';
export { LocalServiceError } from './local-service-error.js';
// What it leaves for clients: its env file (URL, token) and the objects in its S3.
export { readLocalEnv, type LocalEnv } from './local-env-file.js';
export { listLocalObjects, downloadLocalObjects, type LocalObject } from './local-s3-objects.js';
// The process id of the Redis answering on a port, once it answers (the test helpers start Redis the same way).
export { redisAnsweringPid } from './redis-process.js';
