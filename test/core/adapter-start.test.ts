/**
 * The runtime starts its platforms side by side: a Discord start held at its IDENTIFY (as when
 * other instances' shards hold the bot's identify bucket, 5 s per shard at Discord) holds back
 * neither Telegram's messages nor its recovered replies, and `/ready` says the process is still
 * starting until it is done; Telegram is listed after Discord, as src/platforms.ts lists Slack.
 * Real adapters against the fake Telegram and the fake Discord, the real engine, one SQLite instance.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDiscordAdapter } from '../../adapters/discord/index.js';
import { createTelegramAdapter } from '../../adapters/telegram/index.js';
import type { IdentifyGate } from '../../src/core/adapter.js';
import { loadConfig, type Config } from '../../src/config.js';
import { recentChatsOf } from '../../src/platforms.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { startFakeDiscord, type FakeDiscord } from '../fakes/discord.js';
import { contentText, startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram.js';
import { testLogger } from '../helpers/harness.js';
import { freePort } from '../cluster/child-instance.js';
import { SCALED_LIMITS, SCALED_TUNING, alice } from '../adapters/discord/helpers.js';
import { DM, crashedRunOwing, waitFor } from '../adapters/telegram/world.js';

let runtime: Runtime | undefined;
let fakes: Array<{ close(): Promise<void> }> = [];
let dir: string | undefined;
afterEach(async () => {
  await runtime?.shutdown('test end');
  for (const f of fakes) await f.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  runtime = dir = undefined;
  fakes = [];
});

/** An identify gate that keeps Discord's first session waiting until `open()`. */
function heldGate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  let waits = 0;
  const gate = (): IdentifyGate => ({ wait: async () => (waits++, opened) });
  return { open, waits: () => waits, gate };
}

interface World {
  telegram: FakeTelegram;
  discord: FakeDiscord;
  openai: FakeOpenAI;
  config(env?: Record<string, string>): Config;
}

async function world(): Promise<World> {
  const telegram = await startFakeTelegram();
  const discord = await startFakeDiscord({ limits: SCALED_LIMITS, retryAfterHeader: 'exact' });
  const openai = await startFakeOpenAI();
  openai.respondWith(async ({ messages }) => `re: ${contentText(messages.filter((m: any) => m.role === 'user').at(-1)?.content ?? '')}`);
  fakes = [telegram, discord, openai];
  const config = (env: Record<string, string> = {}) =>
    loadConfig({
      PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ':memory:', LOG_LEVEL: 'silent',
      OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.baseURL, OPENAI_MODEL: 'fake-model',
      TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot,
      DISCORD_TOKEN: discord.token, DISCORD_API_URL: discord.restApi,
      ADMIN_API_KEY: 'adapter-start-admin-key-0123456789',
      ...env,
    });
  return { telegram, discord, openai, config };
}

/** Discord (its identify held by `gate` when given) listed before Telegram. */
function start(config: Config, gate?: () => IdentifyGate): { starting: Promise<Runtime>; started: () => boolean } {
  let started = false;
  const starting = startRuntime(config, {
    log: testLogger(),
    adapters: ({ config, engine, log, store }) => {
      const base = { handler: engine, log, commands: engine.menu, sendMarks: store.sendMarks, recentChats: recentChatsOf(store, log) };
      return [
        createDiscordAdapter(config.discord!, { ...base, listCharacters: async () => [], tuning: SCALED_TUNING, ...(gate ? { identifyGate: gate } : {}) }),
        createTelegramAdapter(config.telegram!, base),
      ];
    },
  }).then((r) => ((started = true), (runtime = r)));
  return { starting, started: () => started };
}

describe('starting the platform adapters', () => {
  it("answers Telegram while Discord's start is held, and resolves once Discord is up too", async () => {
    const { telegram, discord, config } = await world();
    const held = heldGate();
    telegram.userMessage({ ...DM, text: 'hello while Discord waits' });
    const port = await freePort();
    const { starting, started } = start(config({ PORT: String(port) }), held.gate);
    const ready = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      return { status: res.status, body: (await res.json()) as { checks: Array<{ name: string; ready: boolean; reason?: string }> } };
    };

    await waitFor(() => telegram.botMessages(42).length === 1, 10_000, 'the Telegram reply while Discord is held');
    expect(telegram.botMessages(42).map((m) => m.text)).toEqual(['re: hello while Discord waits']);
    // Discord is still at its IDENTIFY: the runtime has not finished starting, and says so.
    expect(held.waits()).toBeGreaterThan(0);
    expect(started()).toBe(false);
    const before = await ready();
    expect(before.status).toBe(503);
    expect(before.body.checks).toContainEqual({ name: 'telegram', ready: true });
    expect(before.body.checks).toContainEqual({ name: 'start', ready: false, reason: 'still starting: discord' });

    held.open();
    await starting;
    const after = await ready();
    expect(after.status).toBe(200);
    expect(after.body.checks).toContainEqual({ name: 'start', ready: true });
    const dm = discord.userMessage({ author: alice, guildId: null, content: 'hello once Discord is up' });
    await discord.waitFor(() => discord.channelMessages(dm.channel_id).length === 1, 10_000);
    expect(discord.channelMessages(dm.channel_id).map((m) => m.content)).toEqual(['re: hello once Discord is up']);
    expect(runtime!.adapters.map((a) => a.status().connected)).toEqual([true, true]);
  });

  it("delivers a crashed run's recovered Telegram reply while Discord's start is held", async () => {
    const { telegram, config } = await world();
    dir = mkdtempSync(join(tmpdir(), 'cb-adapter-start-'));
    const dbPath = join(dir, 'charbridge.db');
    await crashedRunOwing(dbPath, 'accepted before the crash', 60_000);

    const held = heldGate();
    const { starting, started } = start(config({ DATABASE_URL: dbPath, INSTANCE_DEAD_AFTER_MS: '60000' }), held.gate);
    await waitFor(() => telegram.botMessages(42).length === 1, 10_000, 'the recovered reply while Discord is held');
    expect(telegram.botMessages(42).map((m) => m.text)).toEqual(['re: accepted before the crash']);
    expect(started()).toBe(false);
    held.open();
    await starting;
  });

  it('fails to start when one adapter fails, after the others have settled', async () => {
    const { config } = await world();
    // Discord refuses this token at its first REST call (401), so its start fails.
    const refused = config({ DISCORD_TOKEN: 'not-the-fake-discord-token' });
    let telegramStarted: Promise<void> | undefined;
    let tg: ReturnType<typeof createTelegramAdapter> | undefined;
    await expect(
      startRuntime(refused, {
        log: testLogger(),
        adapters: ({ config, engine, log, store }) => {
          const base = { handler: engine, log, commands: engine.menu, sendMarks: store.sendMarks, recentChats: recentChatsOf(store, log) };
          tg = createTelegramAdapter(config.telegram!, base);
          const begin = tg.start.bind(tg);
          tg.start = () => (telegramStarted = begin());
          return [createDiscordAdapter(config.discord!, { ...base, listCharacters: async () => [], tuning: SCALED_TUNING }), tg];
        },
      }),
    ).rejects.toThrow(/DISCORD_TOKEN/);
    // Telegram was started beside it and had finished when the failure was reported.
    expect(telegramStarted).toBeDefined();
    await expect(telegramStarted).resolves.toBeUndefined();
    await tg!.stop();
  });
});
