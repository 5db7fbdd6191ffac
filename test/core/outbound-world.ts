/**
 * The world the outbound-proxy tests start charbridge in: the fake model, Telegram, Slack and
 * Discord on loopback, the environment that points charbridge at them, and a logger whose lines
 * a test reads. The proxy itself (HTTP or SOCKS5) is each test's own.
 */
import { Writable } from 'node:stream';
import { afterEach } from 'vitest';
import type { Config } from '../../src/config.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { createLogger } from '../../src/log.js';
import { startFakeDiscord } from '../fakes/discord.js';
import { contentText, startFakeOpenAI } from '../fakes/openai.js';
import { startFakeSlack } from '../fakes/slack.js';
import { startFakeTelegram } from '../fakes/telegram.js';
import { QUIET_HEARTBEAT_MS, operator } from '../adapters/discord/helpers.js';

export async function platformsWorld() {
  const openai = await startFakeOpenAI();
  openai.respondWith(async ({ messages }) => `re: ${contentText(messages.filter((m: any) => m.role === 'user').at(-1)?.content ?? '')}`);
  const telegram = await startFakeTelegram();
  const slack = await startFakeSlack();
  const discord = await startFakeDiscord({ retryAfterHeader: 'exact', heartbeatIntervalMs: QUIET_HEARTBEAT_MS });
  const env = {
    PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ':memory:', ADMIN_API_KEY: 'proxy-test-admin-key-0123456789',
    OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL, OPENAI_MODEL: 'fake-model',
    TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot,
    SLACK_BOT_TOKEN: slack.botToken, SLACK_APP_TOKEN: slack.appToken, SLACK_API_URL: slack.apiUrl,
    DISCORD_TOKEN: discord.token, DISCORD_API_URL: discord.restApi,
    ADMIN_USER_IDS: `telegram:999,discord:${operator.id}`,
  };
  // The model alone: for tests of what the proxy does to a model call or a fetch, no platform started.
  const modelEnv = { ...env, TELEGRAM_BOT_TOKEN: '', SLACK_BOT_TOKEN: '', DISCORD_TOKEN: '' };
  return { openai, telegram, slack, discord, env, modelEnv, closers: [openai, telegram, slack, discord] };
}

type Closer = { close(): Promise<void> };

/**
 * What a test starts, stopped after it: the runtime first, then the fakes, newest first. Call
 * once at the top of a file; `start` starts a runtime, `track` hands over what else to close.
 */
export function stoppedAfterEach() {
  let runtime: Runtime | undefined;
  const closers: Closer[] = [];
  afterEach(async () => {
    await runtime?.shutdown('test end');
    runtime = undefined;
    for (const c of closers.splice(0).reverse()) await c.close();
  });
  return {
    start: async (config: Config, deps: Parameters<typeof startRuntime>[1]) => (runtime = await startRuntime(config, deps)),
    track: (...more: Closer[]) => void closers.push(...more),
  };
}

/** A logger as the runtime makes one (scrubbing the configured secrets), whose lines the test reads. */
export function capture(secrets: string[] = []) {
  const raw: string[] = [];
  const log = createLogger({ level: 'info', secrets, destination: new Writable({ write(chunk, _enc, cb) { raw.push(String(chunk)); cb(); } }) });
  return { log, raw: () => raw.join(''), lines: () => raw.map((l) => JSON.parse(l) as { msg: string }) };
}

/** The API call every proxy test makes: one synchronous turn on the admin key. */
export function chat(url: string, body: object): Promise<Response> {
  return fetch(`${url}/api/v1/chat`, {
    method: 'POST',
    headers: { authorization: 'Bearer proxy-test-admin-key-0123456789', 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}
