import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';

describe('memory configuration', () => {
  it('has the documented defaults and reads MEMORY_* and EMBEDDINGS_MODEL', () => {
    expect(loadConfig({}).memory).toEqual({ enabled: true, extractEvery: 6, maxFacts: 50, tokens: 800, embeddingsModel: undefined });
    const c = loadConfig({ MEMORY_ENABLED: 'false', MEMORY_EXTRACT_EVERY: '0', MEMORY_MAX_FACTS: '10', MEMORY_TOKENS: '400', EMBEDDINGS_MODEL: 'text-embedding-3-small' });
    expect(c.memory).toEqual({ enabled: false, extractEvery: 0, maxFacts: 10, tokens: 400, embeddingsModel: 'text-embedding-3-small' });
    expect(() => loadConfig({ MEMORY_MAX_FACTS: '0' })).toThrow(/MEMORY_MAX_FACTS/);
  });
});
