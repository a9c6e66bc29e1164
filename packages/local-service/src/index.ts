// @bundlefarm/local-service: the whole bundlefarm service on one machine (`bundlefarm serve --local`).
export { runningLocalService, startLocalService, LOCAL_IDENTITY, type LocalService } from './local-service.js';
export { DEFAULT_LOCAL_BUCKETS, defaultLocalDataDir, LOCAL_SERVICE_DEFAULTS, parseLocalBucket, resolveLocalServiceOptions, type LocalBucket, type LocalServiceOptions } from './local-service-options.js';
export { LOCAL_ENV_FILE, readLocalEnv, type LocalEnv, type LocalSecrets } from './local-env-file.js';
export { LocalServiceError } from './local-service-error.js';
export { downloadLocalObjects, listLocalObjects, type LocalObject } from './local-s3-objects.js';
