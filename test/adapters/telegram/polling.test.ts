/**
 * Telegram ends a parked getUpdates with 409 Conflict when another client asks for the same
 * token's updates: a leader still polling for a moment after Redis lost its lock to the next one,
 * or a deploy's old process. The adapter polls again after a pause instead of never receiving an
 * update again (seen in a chaos run: the new leader's polling ended that way while it held the lock).
 */
import { describe, expect, it } from 'vitest';
import { expectTexts, startWorld, waitFor } from './world.js';

describe('telegram long polling', () => {
  it("polls again after another client's getUpdates ended its own with 409", async () => {
    const w = await startWorld();
    try {
      const other = await fetch(`${w.fake.apiRoot}/bot${w.fake.token}/getUpdates`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ timeout: 0 }),
      });
      expect(other.status).toBe(200);
      await waitFor(() => w.fake.calls.some((c) => c.method === 'getUpdates' && c.status === 409), 5000, 'our poll ended with 409');
      w.say('still there?');
      await expectTexts(w, ['Echo: still there?']);
    } finally {
      await w.close();
    }
  });

  it('stops polling, and polls no more, once stopped during the pause after a 409', async () => {
    const w = await startWorld();
    try {
      await fetch(`${w.fake.apiRoot}/bot${w.fake.token}/getUpdates`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ timeout: 0 }) });
      await waitFor(() => w.fake.calls.some((c) => c.method === 'getUpdates' && c.status === 409), 5000, 'our poll ended with 409');
      await w.adapter.stop();
      const polls = w.fake.calls.filter((c) => c.method === 'getUpdates').length;
      await new Promise((r) => setTimeout(r, 1500)); // past the first pause
      expect(w.fake.calls.filter((c) => c.method === 'getUpdates').length).toBe(polls);
      expect(w.fake.pendingPolls).toBe(0);
    } finally {
      await w.close();
    }
  });
});
