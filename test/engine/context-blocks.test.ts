/** Context providers: their blocks land around the character definition or at a depth in the history, within the budget. */
import { afterEach, describe, expect, it } from 'vitest';
import type { ContextProvider } from '../../src/engine/index.js';
import { inbound, say, seen, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const provider: ContextProvider = {
  name: 'test',
  async blocks() {
    return [
      { position: 'after-character', text: 'AFTER CHAR' },
      { position: 'before-character', text: 'BEFORE CHAR' },
      { position: { depth: 0, role: 'system' }, text: 'AT DEPTH 0' },
      { position: { depth: 2, role: 'system' }, text: 'AT DEPTH 2' },
    ];
  },
};

describe('context providers', () => {
  it('places blocks around the character definition and at depths counted from the newest message', async () => {
    h = await startHarness();
    h.engine.addContextProvider(provider);
    for (const t of ['one', 'two']) await say(h.engine, inbound({ text: t }));
    await say(h.engine, inbound({ text: 'three' }));
    const lines = seen(h.fake);
    expect(lines[0]).toMatch(/^system: BEFORE CHAR\n\nYou are Aria[\s\S]*\n\nAFTER CHAR$/);
    expect(lines.slice(1)).toEqual([
      'user: one',
      'assistant: Echo: one',
      'system: AT DEPTH 2',
      'user: two',
      'assistant: Echo: two',
      'system: AT DEPTH 0',
      'user: three',
    ]);
  });

  it('answers without a provider that fails', async () => {
    h = await startHarness();
    h.engine.addContextProvider({ name: 'broken', blocks: async () => Promise.reject(new Error('boom')) });
    expect((await say(h.engine, inbound({ text: 'hi' }))).reply).toBe('Echo: hi');
  });
});
