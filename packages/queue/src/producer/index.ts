export * from './bundle-producer.js';
export * from './bundle-status.js';
export * from './image-size-check.js';
export * from './job-ids.js';
export * from './producer-errors.js';
export * from './producer-options.js';
export * from './published-check.js';
