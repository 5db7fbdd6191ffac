/**
 * One Slack test world: the fake Slack and the fake OpenAI on loopback, and the whole runtime
 * (real engine, store, scheduler, HTTP server) with the real Slack adapter on real Bolt — in
 * HTTP mode (events through our fastify server at /slack/events) or Socket Mode.
 */
import { loadConfig } from '../../../src/config.js';
import { startRuntime, type Runtime } from '../../../src/runtime.js';
import { createSlackAdapter, type SlackAdapter, type SlackTuning } from '../../../adapters/slack/index.js';
import { startFakeSlack, type FakeSlack, type FakeSlackOptions } from '../../fakes/slack.js';
import { startFakeOpenAI, type FakeOpenAI, type FakeOpenAIOptions } from '../../fakes/openai.js';
import { commandMenu } from '../../../src/engine/index.js';
import { testLogger } from '../../helpers/harness.js';

export interface SlackWorld {
  fake: FakeSlack;
  openai: FakeOpenAI;
  rt: Runtime;
  adapter: SlackAdapter;
  /** `http://127.0.0.1:PORT/slack/events` on our server (HTTP mode). */
  eventsUrl: string;
  /** Everything the adapter is doing has finished (replies sent, commands answered). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/** Short Web API retries: a broken path fails in milliseconds, not Bolt's default half hour. */
export const FAST_RETRY = { retries: 2, minTimeout: 0, maxTimeout: 10 };

/**
 * Slack's per-channel posting limit scaled down 10× (3 per 300 ms instead of 3 per 3 s), on the
 * fake and in the adapter's pacing alike, so tests stay fast and still prove the adapter keeps
 * to the limit (the fake answers 429 otherwise, and tests assert it never had to).
 */
export const SCALED_CHANNEL_LIMIT = { 'chat.postMessage': { limit: 3, windowMs: 300, scope: 'channel' as const } };
export const SCALED_PACING = { perChannel: [{ max: 3, windowMs: 300, reserve: 1 }] };

export async function startSlackWorld(
  opts: {
    mode?: 'http' | 'socket';
    slack?: FakeSlackOptions;
    openai?: FakeOpenAIOptions;
    /** Merged over the test defaults (scaled per-channel pacing, fast retries, quick socket pings). */
    tuning?: Partial<SlackTuning>;
    env?: Record<string, string>;
  } = {},
): Promise<SlackWorld> {
  const fake = await startFakeSlack({ ...opts.slack, limits: { ...SCALED_CHANNEL_LIMIT, ...opts.slack?.limits } });
  const openai = await startFakeOpenAI(opts.openai);
  const mode = opts.mode ?? 'http';
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: ':memory:',
    OPENAI_BASE_URL: openai.baseURL,
    OPENAI_API_KEY: openai.apiKey,
    RATE_LIMIT_USER_PER_MIN: '1000',
    RATE_LIMIT_GROUP_PER_MIN: '1000',
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_API_URL: fake.apiUrl,
    ...(mode === 'socket' ? { SLACK_APP_TOKEN: fake.appToken } : { SLACK_SIGNING_SECRET: fake.signingSecret }),
    ...opts.env,
  });
  let adapter: SlackAdapter | undefined;
  const rt = await startRuntime(config, {
    log: testLogger(),
    adapters: ({ config: c, engine, log, store, coordination }) => {
      if (!c.slack) throw new Error('slack not configured');
      adapter = createSlackAdapter(c.slack, {
        handler: engine,
        log,
        // As the runtime wires it: with REDIS_URL, also copied to Redis.
        sendMarks: coordination?.mirrorSendMarks?.(store.sendMarks) ?? store.sendMarks,
        commands: commandMenu(engine.commands),
        tuning: { ...SCALED_PACING, retry: FAST_RETRY, socketPingTimeoutMs: 1000, stopTimeoutMs: 5000, ...opts.tuning },
      });
      return [adapter];
    },
  });
  if (!adapter) throw new Error('adapter not created');
  const a = adapter;
  return {
    fake,
    openai,
    rt,
    adapter: a,
    eventsUrl: `${rt.url}/slack/events`,
    settled: () => a.settled(),
    async close() {
      await rt.shutdown('test');
      await fake.close();
      await openai.close();
    },
  };
}

/** Texts of the bot's messages in a channel (or one thread of it). */
export function texts(fake: FakeSlack, channel: string, threadTs?: string): string[] {
  return fake.channelMessages(channel, threadTs).map((m) => m.text);
}

/** The slash-command answer posted to `responseUrl`. */
export function responseTo(fake: FakeSlack, responseUrl: string): { text: string; response_type: string } | undefined {
  return fake.responses.find((r) => r.url === responseUrl)?.body as { text: string; response_type: string } | undefined;
}
