/**
 * Slack's Events API across two instances behind a load balancer: Slack retries an event it
 * thinks was not received (x-slack-retry-num), and the retry may land on the other instance —
 * it is answered once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackAdapter } from '../../adapters/slack/index.js';
import { commandMenu } from '../../src/engine/index.js';
import { loadConfig } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { testLogger } from '../helpers/harness.js';
import { hasPostgres, hasRedis, pgDatabase, redisPrefix, type TestDatabase, type TestRedisPrefix } from '../helpers/services.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { appMention, imMessage } from '../fakes/slack-events.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack.js';
import { FAST_RETRY, SCALED_PACING, texts } from '../adapters/slack/world.js';

describe.skipIf(!hasPostgres() || !hasRedis())('Slack events across two instances', () => {
  let slack: FakeSlack;
  let openai: FakeOpenAI;
  let db: TestDatabase;
  let redis: TestRedisPrefix;
  const instances: Runtime[] = [];
  const adapters: Array<{ settled(): Promise<void> }> = [];

  beforeAll(async () => {
    slack = await startFakeSlack();
    openai = await startFakeOpenAI();
    db = await pgDatabase();
    redis = redisPrefix();
    for (let i = 0; i < 2; i++) {
      const config = loadConfig({
        PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix,
        OPENAI_BASE_URL: openai.baseURL, OPENAI_API_KEY: openai.apiKey, HEARTBEAT_MS: '500', INSTANCE_DEAD_AFTER_MS: '2000',
        SLACK_BOT_TOKEN: slack.botToken, SLACK_API_URL: slack.apiUrl, SLACK_SIGNING_SECRET: slack.signingSecret,
      });
      instances.push(
        await startRuntime(config, {
          log: testLogger(),
          adapters: ({ config: c, engine, log }) => {
            const a = createSlackAdapter(c.slack!, { handler: engine, log, commands: commandMenu(engine.commands), tuning: { ...SCALED_PACING, retry: FAST_RETRY, stopTimeoutMs: 5000 } });
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

  it('answers an event once when its retry lands on the other instance', async () => {
    const mention = appMention({ channel: 'C0CLUSTER', user: 'U0ALICE', text: `<@${slack.botUserId}> once across instances` });
    const first = await slack.postEvent(`${instances[0]!.url}/slack/events`, mention);
    const retry = await slack.postEvent(`${instances[1]!.url}/slack/events`, mention, { eventId: first.eventId, retryNum: 1, retryReason: 'http_timeout' });
    // And the same event delivered to both at once, as a balancer retrying on a slow answer would.
    const dm = imMessage({ channel: 'D0ALICE', user: 'U0ALICE', text: 'twice at once' });
    const [a, b] = await Promise.all([
      slack.postEvent(`${instances[0]!.url}/slack/events`, dm, { eventId: 'Ev0SAMEBOTH' }),
      slack.postEvent(`${instances[1]!.url}/slack/events`, dm, { eventId: 'Ev0SAMEBOTH', retryNum: 1 }),
    ]);
    expect([first.status, retry.status, a.status, b.status]).toEqual([200, 200, 200, 200]);
    await Promise.all(instances.map((r) => r.engine.drain(10_000)));
    await Promise.all(adapters.map((x) => x.settled()));
    expect(texts(slack, 'C0CLUSTER', mention.ts as string)).toEqual(['Echo: u0alice: once across instances']);
    expect(texts(slack, 'D0ALICE')).toEqual(['Echo: twice at once']);
    expect(openai.requests.filter((r) => JSON.stringify(r.body.messages).includes('once across instances'))).toHaveLength(1);
  }, 30_000);
});
