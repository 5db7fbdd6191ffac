/**
 * Flood limits: when Telegram is stricter than the budget believes, its 429s are waited out and
 * retried — users only ever see complete replies.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectTexts, GROUP, startWorld, type World } from './world.js';

let w: World;
afterEach(async () => {
  await w?.close();
});

const bob = { id: 7, first_name: 'Bob' };
const sentence = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');

describe('Telegram flood limits', () => {
  it('waits out flood limits: 429s happen, are waited out, and every final text is complete', async () => {
    // The fake is 6× stricter than the adapter believes, so the adapter must learn from 429s.
    w = await startWorld({ chunkDelayMs: 10, fake: { limits: { chatMinIntervalMs: 300, groupPerWindow: 1000 } }, tuning: { chatWindow: { max: 1, windowMs: 50 } } });
    const reply = sentence(25);
    w.h.fake.respondWith(reply);
    w.say(`@${w.fake.bot.username} go`, { chat: GROUP, from: bob });
    w.say(`@${w.fake.bot.username} again`, { chat: GROUP, from: { id: 8, first_name: 'Cy' } });
    await expectTexts(w, [reply, reply], GROUP.id);
    expect(w.fake.tooManyRequests).toBeGreaterThan(0);
    expect(w.adapter.status().rateLimited).toBe(w.fake.tooManyRequests); // every 429 was seen and waited out
    expect(w.fake.botMessages(GROUP.id).every((m) => m.text === reply)).toBe(true);
  });

});
