/** Context providers: their blocks land around the character definition or at a depth in the history, within the budget. */
import { afterEach, describe, expect, it } from 'vitest';
import type { ContextProvider } from '../../src/engine/index.js';
import { countTokens } from '../../src/llm/index.js';
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

  it('leaves out the largest blocks when the character prompt and the message leave them no room: the turn stays within CONTEXT_TOKENS', async () => {
    h = await startHarness({ config: { contextTokens: 600 } });
    const aria = (await h.store.characters.findVisible('aria', null))!;
    await h.store.characters.update(aria.id, { scenario: 'A long scenario. '.repeat(60) });
    h.engine.addContextProvider({
      name: 'big and small',
      blocks: async () => [
        { position: 'after-character', text: 'LORE '.repeat(150) },
        { position: { depth: 0, role: 'system' }, text: 'SMALL NOTE' },
      ],
    });
    expect((await say(h.engine, inbound({ text: 'hello' }))).reply).toBe('Echo: hello');
    const messages = h.fake.requests.at(-1)!.body.messages as Array<{ content: string }>;
    const total = messages.reduce((n, m) => n + countTokens(m.content) + 4, 0);
    const lines = seen(h.fake).join('\n');
    expect(lines).not.toContain('LORE');
    expect(lines).toContain('system: SMALL NOTE');
    expect(total).toBeLessThanOrEqual(600);
    // With the big block the turn would have been over the budget.
    expect(total + countTokens('LORE '.repeat(150))).toBeGreaterThan(600);
  });

  it('answers without a provider that fails', async () => {
    h = await startHarness();
    h.engine.addContextProvider({ name: 'broken', blocks: async () => Promise.reject(new Error('boom')) });
    expect((await say(h.engine, inbound({ text: 'hi' }))).reply).toBe('Echo: hi');
  });
});
