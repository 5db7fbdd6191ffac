export * from './types.js';
export * from './errors.js';
export * from './conversation-key.js';
export * from './clock.js';
export * from './ids.js';
export * from './adapter.js';
export * from './serial.js';
