/**
 * Several charbridge instances on one PostgreSQL database and one Redis prefix, each a real
 * runtime (its own engine, store pool, Redis connections, HTTP server), in front of the same
 * Telegram and OpenAI fakes. Telegram runs in webhook mode, so a test decides which instance
 * each update reaches, as a load balancer would.
 */
import { createTelegramAdapter, type TelegramTuning } from '../../adapters/telegram/index.js';
import { loadConfig } from '../../src/config.js';
import type { Clock } from '../../src/core/clock.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { testLogger } from '../helpers/harness.js';
import { pgDatabase, redisPrefix, type TestDatabase, type TestRedisPrefix } from '../helpers/services.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { startFakeTelegram, type FakeTelegram, type FloodLimits } from '../fakes/telegram.js';
import { SCALED_LIMITS, SCALED_TUNING } from '../adapters/telegram/world.js';

export const ADMIN = 'cluster-admin-key-0123456789';
export const SECRET = 'cluster-webhook-secret-0123';
const WEBHOOK_PATH = '/telegram/webhook';

export interface Cluster {
  instances: Runtime[];
  openai: FakeOpenAI;
  telegram: FakeTelegram;
  db: TestDatabase;
  redis: TestRedisPrefix;
  /** POST an update to instance `i`'s webhook, as Telegram would. */
  post(i: number, update: object): Promise<{ status: number; body: string }>;
  /** The environment that makes another process an instance of this cluster. */
  env: Record<string, string>;
  api(i: number, method: string, path: string, key: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  polling?: boolean;
  /** The fake's flood limits instead of the scaled ones. */
  limits?: Partial<FloodLimits>;
  /** The adapters' tuning instead of the scaled one. */
  tuning?: Partial<TelegramTuning>;
  /** Leave the instances to count the bot-wide window each for itself (to show what sharing it prevents). */
  localWindows?: boolean;
  /** One clock for every instance (e.g. real time plus an offset a test moves forward). */
  clock?: Clock;
}

export async function startCluster(n: number, env: Record<string, string> = {}, opts: ClusterOptions = {}): Promise<Cluster> {
  const openai = await startFakeOpenAI();
  const telegram = await startFakeTelegram({ limits: opts.limits ?? SCALED_LIMITS });
  const db = await pgDatabase();
  const redis = redisPrefix();
  const instances: Runtime[] = [];
  const clusterEnv: Record<string, string> = {
    DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, ADMIN_API_KEY: ADMIN,
    OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL, OPENAI_MODEL: 'fake-model', MODEL_MAX_RETRIES: '0',
    TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot,
    ...(opts.polling ? {} : { TELEGRAM_WEBHOOK_URL: `https://bot.example.com${WEBHOOK_PATH}`, TELEGRAM_WEBHOOK_SECRET: SECRET }),
    CHAT_LOCK_TTL_MS: '3000', HEARTBEAT_MS: '500', INSTANCE_DEAD_AFTER_MS: '2000',
    ...env,
  };
  const start = async () => {
    const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', ...clusterEnv });
    return startRuntime(config, {
      log: testLogger(),
      ...(opts.clock ? { clock: opts.clock } : {}),
      adapters: ({ config: c, engine, log, coordination }) => [
        createTelegramAdapter(c.telegram!, {
          handler: engine,
          log,
          commands: engine.menu,
          tuning: opts.tuning ?? SCALED_TUNING,
          leadership: (name) => coordination.leadership(name),
          ...(coordination.sharedWindow && !opts.localWindows ? { sharedWindow: coordination.sharedWindow } : {}),
        }),
      ],
    });
  };
  try {
    for (let i = 0; i < n; i++) instances.push(await start());
  } catch (err) {
    await Promise.allSettled(instances.map((r) => r.shutdown('test setup failed')));
    await Promise.allSettled([openai.close(), telegram.close(), db.drop(), redis.clear()]);
    throw err;
  }
  return {
    instances,
    openai,
    telegram,
    db,
    redis,
    env: clusterEnv,
    post: (i, update) => telegram.postWebhook(`${instances[i]!.url}${WEBHOOK_PATH}`, update, SECRET),
    api: async (i, method, path, key, body, headers = {}) => {
      const res = await fetch(`${instances[i]!.url}${path}`, {
        method,
        headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    },
    close: async () => {
      await Promise.allSettled(instances.map((r) => r.shutdown('test end')));
      await Promise.allSettled([openai.close(), telegram.close()]);
      await Promise.allSettled([db.drop(), redis.clear()]);
    },
  };
}
