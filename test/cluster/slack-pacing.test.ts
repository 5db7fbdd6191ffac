/**
 * One Slack app answered by two instances in turn (each event lands on whichever instance the
 * balancer picks). Slack allows about one message a second per channel and 50 chat.update calls
 * a minute per app, however many processes call. The instances count the channel's window and
 * the method's tier together in Redis, so nothing draws a 429. (Each counting alone, the same
 * turns drew 429s on both.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PACING } from '../../adapters/slack/outbound.js';
import { hasPostgres, hasRedis } from '../helpers/services.js';
import { imMessage } from '../fakes/slack-events.js';
import { SCALED_CHANNEL_LIMIT, texts } from '../adapters/slack/world.js';
import { waitFor } from '../adapters/telegram/world.js';
import { startSlackPair, type SlackPair } from './slack-pair.js';

const TURNS = 16;
/** Slack's Tier 3 scaled down (6 a 3 s instead of 50 a minute), and the pacing that keeps 2 of them for final texts. */
const UPDATE_TIER = { 'chat.update': { limit: 6, windowMs: 3000, scope: 'workspace' as const } };
const TIERS = { ...DEFAULT_PACING.tiers, 'chat.update': { max: 6, windowMs: 3000, reserve: 2 } };

describe.skipIf(!hasPostgres() || !hasRedis())("a Slack channel's window and the app's tiers across two instances", () => {
  let pair: SlackPair;
  beforeAll(async () => {
    pair = await startSlackPair({
      slack: { limits: { ...SCALED_CHANNEL_LIMIT, ...UPDATE_TIER } },
      // Slow enough to stream: a reply is previewed, then edited (chat.update) until it is whole.
      openai: { chunkDelayMs: 15 },
      env: { RATE_LIMIT_USER_PER_MIN: '1000' },
      tuning: { tiers: TIERS },
    });
  });
  afterAll(() => pair?.close());

  it(`answers ${TURNS} quick turns in one DM, alternating instances, without one 429`, async () => {
    const { slack, instances } = pair;
    for (let i = 0; i < TURNS; i++) {
      const res = await slack.postEvent(`${instances[i % 2]!.url}/slack/events`, imMessage({ channel: 'D0PACE', user: 'U0ALICE', text: `turn ${i}` }));
      expect(res.status).toBe(200);
      await waitFor(() => texts(slack, 'D0PACE').includes(`Echo: turn ${i}`), 15_000, () => `reply to turn ${i}; have ${JSON.stringify(texts(slack, 'D0PACE'))}`);
    }
    await pair.settled();
    expect(texts(slack, 'D0PACE')).toEqual(Array.from({ length: TURNS }, (_, i) => `Echo: turn ${i}`));
    expect(slack.tooManyRequests).toBe(0);
  }, 60_000);

  it("keeps the app's chat.update tier across instances: previews stop where the final texts' reserve begins", async () => {
    const { slack, instances } = pair;
    const updatesBefore = slack.calls.filter((c) => c.method === 'chat.update').length;
    for (let i = 0; i < TURNS; i++) {
      const channel = `D0TIER${i % 6}`;
      const res = await slack.postEvent(`${instances[i % 2]!.url}/slack/events`, imMessage({ channel, user: `U0USER${i % 6}`, text: `a longer turn number ${i} to stream` }));
      expect(res.status).toBe(200);
      await waitFor(() => texts(slack, channel).includes(`Echo: a longer turn number ${i} to stream`), 15_000, () => `reply to turn ${i}; have ${JSON.stringify(texts(slack, channel))}`);
    }
    await pair.settled();
    expect(slack.calls.filter((c) => c.method === 'chat.update').length - updatesBefore).toBeGreaterThan(0); // previews did run
    expect(slack.tooManyRequests).toBe(0);
  }, 60_000);
});
