/**
 * The runtime starts its platforms side by side: a Discord start held at its IDENTIFY (as when
 * other instances' shards hold the bot's identify bucket, 5 s per shard at Discord) does not hold
 * back Telegram, listed after it as src/platforms.ts lists Slack after Discord. Real adapters
 * against the fake Telegram and the fake Discord, the real engine, one SQLite instance.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDiscordAdapter } from '../../adapters/discord/index.js';
import { createTelegramAdapter } from '../../adapters/telegram/index.js';
import { loadConfig } from '../../src/config.js';
import { recentChatsOf } from '../../src/platforms.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord.js';
import { contentText, startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram.js';
import { testLogger } from '../helpers/harness.js';
import { SCALED_LIMITS, SCALED_TUNING, alice } from '../adapters/discord/helpers.js';
import { DM, waitFor } from '../adapters/telegram/world.js';

let runtime: Runtime | undefined;
let fakes: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await runtime?.shutdown('test end');
  for (const f of fakes) await f.close();
  runtime = undefined;
  fakes = [];
});

/** An identify gate that keeps Discord's first session waiting until `open()`. */
function heldGate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let waits = 0;
  return { open, waits: () => waits, gate: () => ({ wait: async () => (waits++, opened) }) };
}

async function world(): Promise<{ telegram: FakeTelegram; discord: FakeDiscord; openai: FakeOpenAI }> {
  const telegram = await startFakeTelegram();
  const discord = await startFakeDiscord({ limits: SCALED_LIMITS, retryAfterHeader: 'exact' });
  const openai = await startFakeOpenAI();
  openai.respondWith(async ({ messages }) => `re: ${contentText(messages.filter((m: any) => m.role === 'user').at(-1)?.content ?? '')}`);
  fakes = [telegram, discord, openai];
  return { telegram, discord, openai };
}

describe('starting the platform adapters', () => {
  it("answers Telegram while Discord's start is held, and resolves once Discord is up too", async () => {
    const { telegram, discord, openai } = await world();
    const held = heldGate();
    const config = loadConfig({
      PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ':memory:', LOG_LEVEL: 'silent',
      OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL, OPENAI_MODEL: 'fake-model',
      TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot,
      DISCORD_TOKEN: discord.token, DISCORD_API_URL: discord.restApi,
      ADMIN_API_KEY: 'adapter-start-admin-key-0123456789',
    });
    telegram.userMessage({ ...DM, text: 'hello while Discord waits' });
    let started = false;
    const starting = startRuntime(config, {
      log: testLogger(),
      adapters: ({ config, engine, log, store }) => {
        const base = { handler: engine, log, commands: engine.menu, sendMarks: store.sendMarks, recentChats: recentChatsOf(store, log) };
        return [
          createDiscordAdapter(config.discord!, { ...base, listCharacters: async () => [], tuning: SCALED_TUNING, identifyGate: held.gate }),
          createTelegramAdapter(config.telegram!, base),
        ];
      },
    }).then((r) => ((started = true), (runtime = r)));

    await waitFor(() => telegram.botMessages(42).length === 1, 10_000, 'the Telegram reply while Discord is held');
    expect(telegram.botMessages(42).map((m) => m.text)).toEqual(['re: hello while Discord waits']);
    // Discord is still at its IDENTIFY: the runtime has not finished starting.
    expect(held.waits()).toBeGreaterThan(0);
    expect(started).toBe(false);

    held.open();
    await starting;
    const dm = discord.userMessage({ author: alice, guildId: null, content: 'hello once Discord is up' });
    await discord.waitFor(() => discord.channelMessages(dm.channel_id).length === 1, 10_000);
    expect(discord.channelMessages(dm.channel_id).map((m) => m.content)).toEqual(['re: hello once Discord is up']);
    expect(runtime!.adapters.map((a) => a.status().connected)).toEqual([true, true]);
  });

  it('fails to start when one adapter fails, after the others have settled', async () => {
    const { telegram, discord, openai } = await world();
    const config = loadConfig({
      PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ':memory:', LOG_LEVEL: 'silent',
      OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL,
      TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot,
      // Discord refuses this token at its first REST call (401), so its start fails.
      DISCORD_TOKEN: 'not-the-fake-discord-token', DISCORD_API_URL: discord.restApi,
      ADMIN_API_KEY: 'adapter-start-admin-key-0123456789',
    });
    let telegramStarted: Promise<void> | undefined;
    let tg: ReturnType<typeof createTelegramAdapter> | undefined;
    await expect(
      startRuntime(config, {
        log: testLogger(),
        adapters: ({ config, engine, log, store }) => {
          const base = { handler: engine, log, commands: engine.menu, sendMarks: store.sendMarks, recentChats: recentChatsOf(store, log) };
          tg = createTelegramAdapter(config.telegram!, base);
          const start = tg.start.bind(tg);
          tg.start = () => (telegramStarted = start());
          return [createDiscordAdapter(config.discord!, { ...base, listCharacters: async () => [], tuning: SCALED_TUNING }), tg];
        },
      }),
    ).rejects.toThrow();
    // Telegram was started beside it and had finished when the failure was reported.
    expect(telegramStarted).toBeDefined();
    await expect(telegramStarted).resolves.toBeUndefined();
    await tg!.stop();
  });
});
