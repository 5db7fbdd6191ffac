import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inbound, say, seen, startHarness, type Harness } from '../helpers/harness.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness({ maxRetries: 0 });
});
afterEach(async () => {
  await h.close();
});

describe('text that looks like a model control token', () => {
  it('is answered like any other text and reaches the model unchanged', async () => {
    const first = await say(h.engine, inbound({ text: 'what does <|endoftext|> mean?' }));
    expect(first.reply).toBe('Echo: what does <|endoftext|> mean?');
    await say(h.engine, inbound({ text: 'and <|im_start|>?' }));
    expect(seen(h.fake)).toContain('user: what does <|endoftext|> mean?');
    expect(seen(h.fake).at(-1)).toBe('user: and <|im_start|>?');
  });
});
