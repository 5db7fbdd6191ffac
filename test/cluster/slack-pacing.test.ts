/**
 * One Slack channel answered by two instances in turn (each event lands on whichever instance
 * the balancer picks): Slack allows about one message a second per channel, however many
 * processes post. The instances count the channel's window together in Redis, so none of the
 * channel's messages draws a 429. (Each counting it alone, the same turns drew 429s.)
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
import { FAST_RETRY, SCALED_CHANNEL_LIMIT, SCALED_PACING, texts } from '../adapters/slack/world.js';
import { waitFor } from '../adapters/telegram/world.js';

const TURNS = 24;

describe.skipIf(!hasPostgres() || !hasRedis())("a Slack channel's window across two instances", () => {
  let slack: FakeSlack;
  let openai: FakeOpenAI;
  let db: TestDatabase;
  let redis: TestRedisPrefix;
  const instances: Runtime[] = [];
  const adapters: Array<{ settled(): Promise<void> }> = [];

  beforeAll(async () => {
    slack = await startFakeSlack({ limits: SCALED_CHANNEL_LIMIT });
    openai = await startFakeOpenAI();
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
              tuning: { ...SCALED_PACING, retry: FAST_RETRY, stopTimeoutMs: 5000 },
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
});
