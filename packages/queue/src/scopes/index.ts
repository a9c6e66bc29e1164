export * from './glob.js';
export * from './job-mac.js';
export * from './principals.js';
export * from './scope-check.js';
export * from './scope-errors.js';
export * from './token-hash.js';
