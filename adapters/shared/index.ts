export * from './budget.js';
export * from './shared-window.js';
export * from './chunk.js';
export * from './markdown.js';
export * from './mentions.js';
export * from './ordered.js';
export * from './streamed-reply.js';
export * from './typing.js';
