/**
 * Webhook mode end to end: the real runtime (startRuntime + createPlatformAdapters, exactly
 * what `npm start` runs) serves Telegram's webhook on our fastify server; the fake Bot API posts
 * updates to it like Telegram does.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { startRuntime, type Runtime } from '../../../src/runtime.js';
import { createPlatformAdapters } from '../../../src/platforms.js';
import { testLogger } from '../../helpers/harness.js';
import { startFakeOpenAI, type FakeOpenAI } from '../../fakes/openai.js';
import { startFakeTelegram, type FakeTelegram } from '../../fakes/telegram.js';
import { DM, okCalls, waitFor } from './world.js';

const SECRET = 'hook-secret_123';
let runtime: Runtime | undefined;
let openai: FakeOpenAI | undefined;
let fake: FakeTelegram | undefined;
afterEach(async () => {
  await runtime?.shutdown('test end');
  await openai?.close();
  await fake?.close();
  runtime = openai = fake = undefined;
});

async function start(): Promise<{ runtime: Runtime; fake: FakeTelegram; hook: string }> {
  fake = await startFakeTelegram();
  openai = await startFakeOpenAI();
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: ':memory:',
    LOG_LEVEL: 'silent',
    OPENAI_API_KEY: openai.apiKey,
    OPENAI_BASE_URL: openai.baseURL,
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.apiRoot,
    TELEGRAM_WEBHOOK_URL: 'https://bot.example.com/telegram/webhook',
    TELEGRAM_WEBHOOK_SECRET: SECRET,
  });
  runtime = await startRuntime(config, { log: testLogger(), adapters: createPlatformAdapters });
  return { runtime, fake, hook: `${runtime.url}/telegram/webhook` };
}

describe('Telegram webhook mode', () => {
  it('sets the webhook with the secret, answers updates with the right secret, refuses others with 403', async () => {
    const { fake, hook } = await start();
    expect(okCalls(fake, 'setWebhook')[0]?.params).toMatchObject({ url: 'https://bot.example.com/telegram/webhook', secret_token: SECRET });
    expect(fake.calls.some((c) => c.method === 'getUpdates')).toBe(false);

    const ok = await fake.postWebhook(hook, fake.buildUserMessage({ ...DM, text: 'hello by webhook' }), SECRET);
    expect(ok.status).toBe(200);
    await waitFor(() => fake.botMessages(42).length === 1);
    expect(fake.botMessages(42)[0]!.text).toBe('Echo: hello by webhook');

    for (const secret of ['wrong-secret', undefined]) {
      const denied = await fake.postWebhook(hook, fake.buildUserMessage({ ...DM, text: 'forged' }), secret);
      expect(denied.status).toBe(403);
    }
    const other = { chat: { id: 43, type: 'private' as const }, from: { id: 43, first_name: 'Dee' } };
    const after = await fake.postWebhook(hook, fake.buildUserMessage({ ...other, text: 'still here' }), SECRET);
    expect(after.status).toBe(200);
    await waitFor(() => fake.botMessages(43).length === 1);
    expect(fake.botMessages(43)[0]!.text).toBe('Echo: still here');
    expect(fake.botMessages(42)).toHaveLength(1);
    expect(openai!.requests.map((r) => JSON.stringify(r.body)).join('')).not.toContain('forged');
  });

  it('answers an update Telegram redelivers (same update_id) only once', async () => {
    const { fake, hook } = await start();
    const update = fake.buildUserMessage({ ...DM, text: 'delivered twice' });
    const [a, b] = await Promise.all([fake.postWebhook(hook, update, SECRET), fake.postWebhook(hook, update, SECRET)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await waitFor(() => fake.botMessages(42).length >= 1);
    await runtime!.shutdown('drain'); // every accepted update is answered before shutdown returns
    expect(fake.botMessages(42).map((m) => m.text)).toEqual(['Echo: delivered twice']);
    expect(openai!.requests).toHaveLength(1);
  });
});
