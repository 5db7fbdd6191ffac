/**
 * One Slack app answered by two instances in turn (each event lands on whichever instance the
 * balancer picks). Slack allows about one message a second per channel and 50 chat.update calls
 * a minute per app, however many processes call. The instances count the channel's window and
 * the method's tier together in Redis, so nothing draws a 429. (Each counting alone, the same
 * turns drew 429s: 7 for the channel, and for the tier.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackAdapter } from '../../adapters/slack/index.js';
import { commandMenu } from '../../src/engine/index.js';
import { loadConfig } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { testLogger } from '../helpers/harness.js';
import { hasPostgres, hasRedis, pgDatabase, redisPrefix, type TestDatabase, type TestRedisPrefix } from '../helpers/services.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { imMessage } from '../fakes/slack-events.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack.js';
import { DEFAULT_PACING } from '../../adapters/slack/outbound.js';
import { FAST_RETRY, SCALED_CHANNEL_LIMIT, SCALED_PACING, texts } from '../adapters/slack/world.js';
import { waitFor } from '../adapters/telegram/world.js';

const TURNS = 24;
/** Slack's Tier 3 scaled down (6 a 3 s instead of 50 a minute), and the pacing that keeps 2 of them for final texts. */
const UPDATE_TIER = { 'chat.update': { limit: 6, windowMs: 3000, scope: 'workspace' as const } };
const TIERS = { ...DEFAULT_PACING.tiers, 'chat.update': { max: 6, windowMs: 3000, reserve: 2 } };

describe.skipIf(!hasPostgres() || !hasRedis())("a Slack channel's window across two instances", () => {
  let slack: FakeSlack;
  let openai: FakeOpenAI;
  let db: TestDatabase;
  let redis: TestRedisPrefix;
  const instances: Runtime[] = [];
  const adapters: Array<{ settled(): Promise<void> }> = [];

  beforeAll(async () => {
    slack = await startFakeSlack({ limits: { ...SCALED_CHANNEL_LIMIT, ...UPDATE_TIER } });
    // Slow enough to stream: a reply is previewed, then edited (chat.update) until it is whole.
    openai = await startFakeOpenAI({ chunkDelayMs: 15 });
    db = await pgDatabase();
    redis = redisPrefix();
    for (let i = 0; i < 2; i++) {
      const config = loadConfig({
        PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix,
        OPENAI_BASE_URL: openai.baseURL, OPENAI_API_KEY: openai.apiKey, HEARTBEAT_MS: '500', INSTANCE_DEAD_AFTER_MS: '2000', RATE_LIMIT_USER_PER_MIN: '1000',
        SLACK_BOT_TOKEN: slack.botToken, SLACK_API_URL: slack.apiUrl, SLACK_SIGNING_SECRET: slack.signingSecret,
      });
      instances.push(
        await startRuntime(config, {
          log: testLogger(),
          adapters: ({ config: c, engine, log, coordination }) => {
            const a = createSlackAdapter(c.slack!, {
              handler: engine, log, commands: commandMenu(engine.commands),
              ...(coordination.sharedWindow ? { sharedWindow: coordination.sharedWindow } : {}),
              ...(coordination.sharedTally ? { sharedTally: coordination.sharedTally } : {}),
              tuning: { ...SCALED_PACING, tiers: TIERS, retry: FAST_RETRY, stopTimeoutMs: 5000 },
            });
            adapters.push(a);
            return [a];
          },
        }),
      );
    }
  });
  afterAll(async () => {
    await Promise.allSettled(instances.map((r) => r.shutdown('test end')));
    await Promise.allSettled([slack?.close(), openai?.close()]);
    await Promise.allSettled([db?.drop(), redis?.clear()]);
  });

  it(`answers ${TURNS} quick turns in one DM, alternating instances, without one 429`, async () => {
    for (let i = 0; i < TURNS; i++) {
      const res = await slack.postEvent(`${instances[i % 2]!.url}/slack/events`, imMessage({ channel: 'D0PACE', user: 'U0ALICE', text: `turn ${i}` }));
      expect(res.status).toBe(200);
      await waitFor(() => texts(slack, 'D0PACE').includes(`Echo: turn ${i}`), 15_000, () => `reply to turn ${i}; have ${JSON.stringify(texts(slack, 'D0PACE'))}`);
    }
    await Promise.all(adapters.map((x) => x.settled()));
    expect(texts(slack, 'D0PACE')).toEqual(Array.from({ length: TURNS }, (_, i) => `Echo: turn ${i}`));
    expect(slack.tooManyRequests).toBe(0);
  }, 60_000);

  it("keeps the app's chat.update tier across instances: previews stop where the final texts' reserve begins", async () => {
    const updatesBefore = slack.calls.filter((c) => c.method === 'chat.update').length;
    for (let i = 0; i < TURNS; i++) {
      const channel = `D0TIER${i % 6}`;
      const res = await slack.postEvent(`${instances[i % 2]!.url}/slack/events`, imMessage({ channel, user: `U0USER${i % 6}`, text: `a longer turn number ${i} to stream` }));
      expect(res.status).toBe(200);
      await waitFor(() => texts(slack, channel).includes(`Echo: a longer turn number ${i} to stream`), 15_000, () => `reply to turn ${i}; have ${JSON.stringify(texts(slack, channel))}`);
    }
    await Promise.all(adapters.map((x) => x.settled()));
    expect(slack.calls.filter((c) => c.method === 'chat.update').length - updatesBefore).toBeGreaterThan(0); // previews did run
    expect(slack.tooManyRequests).toBe(0);
  }, 60_000);
});
