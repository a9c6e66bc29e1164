export * from './build-info.js';
export * from './worker-metrics.js';
export * from './metrics-server.js';
