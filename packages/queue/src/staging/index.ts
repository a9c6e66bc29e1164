export * from './staging-area.js';
