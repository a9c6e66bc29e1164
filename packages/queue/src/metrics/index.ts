export * from './worker-metrics.js';
export * from './metrics-server.js';
