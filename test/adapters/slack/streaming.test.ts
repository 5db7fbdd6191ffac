import { describe, expect, it } from 'vitest';
import { appMention, imMessage } from '../../fakes/slack.js';
import { startSlackWorld, texts, SCALED_PACING } from './world.js';

/** A reply long enough to stream for a while: `words` words, one model chunk each. */
const story = (words: number) => Array.from({ length: words }, (_, i) => `word${i + 1}`).join(' ');
const calls = (w: { fake: { calls: Array<{ method: string; status: number }> } }, method: string) => w.fake.calls.filter((c) => c.method === method);

describe('Slack streaming', () => {
  it('streams natively in a thread and stays within the appendStream tier (no 429)', async () => {
    const tier = { limit: 6, windowMs: 60_000, scope: 'workspace' as const };
    const w = await startSlackWorld({
      slack: { limits: { 'chat.appendStream': tier } },
      openai: { chunkDelayMs: 20, responder: () => story(40) },
      tuning: { ...SCALED_PACING, tiers: { 'chat.appendStream': { max: 6, windowMs: 60_000, reserve: 2 } } },
    });
    try {
      const mention = appMention({ channel: 'C0NATIVE', user: 'U0ALICE', text: `<@${w.fake.botUserId}> tell me a story` });
      await w.fake.postEvent(w.eventsUrl, mention);
      await w.settled();
      expect(w.fake.channelMessages('C0NATIVE', mention.ts as string)).toEqual([expect.objectContaining({ text: story(40), stream: 'stopped' })]);
      const appends = calls(w, 'chat.appendStream').length;
      expect(appends).toBeGreaterThanOrEqual(1); // previews really streamed…
      expect(appends).toBeLessThanOrEqual(4); // …but only within the tier, minus the reserve
      expect(calls(w, 'chat.stopStream')).toHaveLength(1);
      expect(calls(w, 'chat.update')).toHaveLength(0);
      expect(w.fake.tooManyRequests).toBe(0);
    } finally {
      await w.close();
    }
  });

  it('falls back to postMessage + chat.update when streaming is unavailable, and remembers', async () => {
    const w = await startSlackWorld({
      slack: { streamingSupported: false, limits: { 'chat.update': { limit: 5, windowMs: 60_000, scope: 'workspace' } } },
      openai: { chunkDelayMs: 15, responder: () => story(40) },
      tuning: { ...SCALED_PACING, tiers: { 'chat.update': { max: 5, windowMs: 60_000, reserve: 2 } } },
    });
    try {
      const first = appMention({ channel: 'C0FALLBACK', user: 'U0ALICE', text: `<@${w.fake.botUserId}> one` });
      await w.fake.postEvent(w.eventsUrl, first);
      await w.settled();
      const [reply] = w.fake.channelMessages('C0FALLBACK', first.ts as string);
      expect(reply).toMatchObject({ text: story(40), thread_ts: first.ts });
      expect(reply?.updates).toBeGreaterThanOrEqual(1);
      expect(reply?.updates).toBeLessThanOrEqual(4); // ≤ 3 previews (tier minus reserve) + the final text

      const second = appMention({ channel: 'C0FALLBACK', user: 'U0ALICE', text: `<@${w.fake.botUserId}> two` });
      await w.fake.postEvent(w.eventsUrl, second);
      await w.settled();
      expect(texts(w.fake, 'C0FALLBACK', second.ts as string)).toEqual([story(40)]);
      expect(calls(w, 'chat.startStream')).toHaveLength(1); // unknown_method once, then never asked again
      expect(calls(w, 'chat.update').length).toBeLessThanOrEqual(5);
      expect(w.fake.tooManyRequests).toBe(0);
    } finally {
      await w.close();
    }
  });

  it('never lets a preview commit the final text to an exhausted chat.update tier', async () => {
    // chat.update allows 3 a minute here: once the previews' final updates are paid for, later replies are posted once, complete.
    const w = await startSlackWorld({
      slack: { limits: { 'chat.update': { limit: 3, windowMs: 60_000, scope: 'workspace' } } },
      openai: { chunkDelayMs: 5, responder: () => story(12) },
      tuning: { ...SCALED_PACING, tiers: { 'chat.update': { max: 3, windowMs: 60_000, reserve: 1 } } },
    });
    try {
      for (let i = 0; i < 6; i++) await w.fake.postEvent(w.eventsUrl, imMessage({ channel: `D0TIER${i}`, user: `U0T${i}`, text: 'go' }));
      await w.settled();
      for (let i = 0; i < 6; i++) expect(texts(w.fake, `D0TIER${i}`)).toEqual([story(12)]);
      expect(calls(w, 'chat.update').length).toBeLessThanOrEqual(3);
      expect(w.fake.tooManyRequests).toBe(0);
    } finally {
      await w.close();
    }
  });

  it('waits out a 429 (Retry-After) in the budget and still lands every part in order', async () => {
    // The adapter is told the channel allows more than the fake does, so the fake answers 429.
    const w = await startSlackWorld({
      slack: { limits: { 'chat.postMessage': { limit: 1, windowMs: 1000, scope: 'channel' } } },
      openai: { responder: () => `${'alpha '.repeat(30).trim()}.\n\n${'omega '.repeat(30).trim()}.` },
      tuning: { perChannel: [{ max: 10, windowMs: 1000 }], messageLimit: 200 },
    });
    try {
      await w.fake.postEvent(w.eventsUrl, imMessage({ channel: 'D0LIMIT', user: 'U0ALICE', text: 'go' }));
      await w.settled();
      expect(texts(w.fake, 'D0LIMIT')).toEqual([`${'alpha '.repeat(30).trim()}.`, `${'omega '.repeat(30).trim()}.`]);
      expect(w.fake.tooManyRequests).toBeGreaterThanOrEqual(1);
      expect(calls(w, 'chat.postMessage').filter((c) => c.status === 200)).toHaveLength(2);
    } finally {
      await w.close();
    }
  });

  it('splits a long native stream into several streamed messages in the thread', async () => {
    const w = await startSlackWorld({ openai: { responder: () => story(120) }, tuning: { streamLimit: 300 } });
    try {
      const mention = appMention({ channel: 'C0SPLIT', user: 'U0ALICE', text: `<@${w.fake.botUserId}> long` });
      await w.fake.postEvent(w.eventsUrl, mention);
      await w.settled();
      const parts = w.fake.channelMessages('C0SPLIT', mention.ts as string);
      expect(parts.length).toBeGreaterThanOrEqual(3);
      for (const p of parts) {
        expect(p.text.length).toBeLessThanOrEqual(300);
        expect(p.stream).toBe('stopped');
      }
      expect(parts.map((p) => p.text).join('').trim()).toBe(story(120));
      expect(w.fake.tooManyRequests).toBe(0);
    } finally {
      await w.close();
    }
  });

  it('finishes with ordinary messages when Slack ends the stream early; the final text lands', async () => {
    const w = await startSlackWorld({ openai: { chunkDelayMs: 10, responder: () => story(40) } });
    try {
      w.fake.failNext('chat.appendStream', 'message_not_in_streaming_state');
      w.fake.failNext('chat.stopStream', 'message_not_in_streaming_state');
      const mention = appMention({ channel: 'C0EXPIRE', user: 'U0ALICE', text: `<@${w.fake.botUserId}> go` });
      await w.fake.postEvent(w.eventsUrl, mention);
      await w.settled();
      const parts = texts(w.fake, 'C0EXPIRE', mention.ts as string);
      expect(parts.length).toBeGreaterThanOrEqual(2);
      expect(parts.join(' ').replace(/\s+/g, ' ')).toBe(story(40));
    } finally {
      await w.close();
    }
  });

  it('stops streaming when the user presses stop, without posting the rest', async () => {
    const w = await startSlackWorld({ openai: { chunkDelayMs: 40, responder: () => story(25) } });
    try {
      const mention = appMention({ channel: 'C0STOP', user: 'U0ALICE', text: `<@${w.fake.botUserId}> go on` });
      await w.fake.postEvent(w.eventsUrl, mention);
      await w.fake.waitFor(() => w.fake.channelMessages('C0STOP', mention.ts as string).length === 1);
      const ts = w.fake.channelMessages('C0STOP', mention.ts as string)[0]?.ts as string;
      w.fake.stopStreamByUser('C0STOP', ts);
      await w.settled();
      const after = w.fake.channelMessages('C0STOP', mention.ts as string);
      expect(after).toHaveLength(1);
      expect(after[0]?.text.length).toBeLessThan(story(25).length);
      // The reply is still stored whole: the next turn's model sees it.
      expect(w.openai.requests).toHaveLength(1);
    } finally {
      await w.close();
    }
  });
});
