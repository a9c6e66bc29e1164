export * from './bundlefarm-error.js';
export * from './input-errors.js';
export * from './key-errors.js';
export * from './bundle-errors.js';
export * from './io-errors.js';
export * from './error-registry.js';
export * from './error-table.js';
