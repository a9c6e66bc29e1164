export * from './job-spec.js';
export * from './job-types.js';
export * from './image-root.js';
export * from './redis-connection.js';
export * from './queue-settings.js';
export * from './cancel-channel.js';
export * from './producer/index.js';
export * from './worker/index.js';
