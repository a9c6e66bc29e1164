export * from './job-spec.js';
export * from './job-types.js';
export * from './redis-connection.js';
export * from './queue-settings.js';
export * from './cancel-channel.js';
export * from './scopes/index.js';
export * from './producer/index.js';
export * from './worker/index.js';
