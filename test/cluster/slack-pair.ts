import { createSlackAdapter, type SlackTuning } from '../../adapters/slack/index.js';
import { commandMenu } from '../../src/engine/index.js';
import { loadConfig } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { testLogger } from '../helpers/harness.js';
import { pgDatabase, redisPrefix } from '../helpers/services.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from '../fakes/openai.js';
import { startFakeSlack, type FakeSlack, type FakeSlackOptions } from '../fakes/slack.js';
import { FAST_RETRY, SCALED_PACING } from '../adapters/slack/world.js';

export interface SlackPair {
  slack: FakeSlack;
  openai: FakeOpenAI;
  /** Two instances of one Slack app on one PostgreSQL and one Redis, as a deployment runs them. */
  instances: Runtime[];
  /** Resolves once every adapter's deliveries in flight have settled. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Two instances behind a load balancer in front of one fake Slack: each shares what production
 * shares through Redis (limits, chat order, send windows, tier tallies). Scaled per-channel
 * pacing and fast retries by default; `tuning` is merged over them.
 */
export async function startSlackPair(o: { slack?: FakeSlackOptions; openai?: FakeOpenAIOptions; env?: Record<string, string>; tuning?: Partial<SlackTuning> } = {}): Promise<SlackPair> {
  const slack = await startFakeSlack(o.slack);
  const openai = await startFakeOpenAI(o.openai);
  const db = await pgDatabase();
  const redis = redisPrefix();
  const instances: Runtime[] = [];
  const adapters: Array<{ settled(): Promise<void> }> = [];
  for (let i = 0; i < 2; i++) {
    const config = loadConfig({
      PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix,
      OPENAI_BASE_URL: openai.baseURL, OPENAI_API_KEY: openai.apiKey, HEARTBEAT_MS: '500', INSTANCE_DEAD_AFTER_MS: '2000',
      SLACK_BOT_TOKEN: slack.botToken, SLACK_API_URL: slack.apiUrl, SLACK_SIGNING_SECRET: slack.signingSecret,
      // Given, so no key file is generated in the working tree's data/.
      ADMIN_API_KEY: 'slack-pair-admin-key-0123456789',
      ...o.env,
    });
    instances.push(
      await startRuntime(config, {
        log: testLogger(),
        adapters: ({ config: c, engine, log, coordination }) => {
          const a = createSlackAdapter(c.slack!, {
            handler: engine, log, commands: commandMenu(engine.commands),
            ...(coordination.sharedWindow ? { sharedWindow: coordination.sharedWindow } : {}),
            ...(coordination.sharedTally ? { sharedTally: coordination.sharedTally } : {}),
            tuning: { ...SCALED_PACING, retry: FAST_RETRY, stopTimeoutMs: 5000, ...o.tuning },
          });
          adapters.push(a);
          return [a];
        },
      }),
    );
  }
  return {
    slack,
    openai,
    instances,
    settled: async () => void (await Promise.all(adapters.map((a) => a.settled()))),
    close: async () => {
      await Promise.allSettled(instances.map((r) => r.shutdown('test end')));
      await Promise.allSettled([slack.close(), openai.close()]);
      await Promise.allSettled([db.drop(), redis.clear()]);
    },
  };
}
