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
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TelegramTransport } from '../../../adapters/telegram/transport.js';

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

  it("carries the turn's typing in the webhook answer instead of a request of its own", async () => {
    const { fake, hook } = await start();
    const res = await fake.postWebhook(hook, fake.buildUserMessage({ ...DM, text: 'typing rides along' }), SECRET);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ method: 'sendChatAction', chat_id: 42, action: 'typing' });
    await waitFor(() => fake.botMessages(42).length === 1);
    const typing = fake.calls.filter((c) => c.method === 'sendChatAction');
    expect(typing).toHaveLength(1);
    expect(typing[0]).toMatchObject({ ok: true, viaWebhookReply: true });
  });

  it('does not hold the answer of a message that waits behind its chat\'s earlier turn', async () => {
    const { fake, hook } = await start();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    openai!.respondWith(async () => {
      await gate;
      return 'slow reply';
    });
    try {
      const first = await fake.postWebhook(hook, fake.buildUserMessage({ ...DM, text: 'first' }), SECRET);
      expect(first.body).toContain('sendChatAction');
      // The second turn cannot start until the first is answered: its webhook answer goes without waiting for it.
      const second = await fake.postWebhook(hook, fake.buildUserMessage({ ...DM, text: 'second' }), SECRET);
      expect(second.status).toBe(200);
      expect(second.body).toBe('');
      expect(fake.botMessages(42)).toHaveLength(0);
    } finally {
      release();
    }
    await waitFor(() => fake.botMessages(42).length === 2);
  });

  it('confirms and drops an update whose message is not shaped as the Bot API documents', async () => {
    const { fake, hook } = await start();
    const good = fake.buildUserMessage({ ...DM, text: 'well formed' });
    const message = good.message as Record<string, unknown>;
    const bent: Array<Record<string, unknown>> = [
      { ...message, chat: undefined },
      { ...message, chat: { id: 'constructor', type: 'private' } },
      { ...message, text: 42 },
      { ...message, from: { id: '42', first_name: 'Al' } },
      { ...message, entities: [{ type: 'mention', offset: 'x', length: 3 }] },
      { ...message, reply_to_message: { message_id: 1, chat: null } },
    ];
    let updateId = 700_000;
    for (const m of bent) {
      const res = await fake.postWebhook(hook, { update_id: updateId++, message: m }, SECRET);
      expect(res.status, JSON.stringify(m)).toBe(200);
    }
    const ok = await fake.postWebhook(hook, good, SECRET);
    expect(ok.status).toBe(200);
    await waitFor(() => fake.botMessages(42).length === 1);
    await runtime!.shutdown('drain');
    expect(fake.botMessages(42).map((m) => m.text)).toEqual(['Echo: well formed']);
    expect(openai!.requests).toHaveLength(1);
  });

  it('answers a body that is not an update object with 400 (and still shuts down)', async () => {
    const { hook } = await start();
    for (const body of ['null', '[]', '42', '"text"', 'true']) {
      const res = await fetch(hook, { method: 'POST', headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET }, body });
      expect(res.status, body).toBe(400);
    }
    expect(openai!.requests).toHaveLength(0);
  });
});

describe('Telegram webhook handler', () => {
  it('answers 500 and logs when telegraf fails to handle an update', async () => {
    // Before start() telegraf does not know the bot yet and asks getMe, here of a Bot API that is gone.
    const gone = await startFakeTelegram();
    const apiRoot = gone.apiRoot;
    await gone.close();
    const logged: string[] = [];
    const log = { debug() {}, info() {}, warn() {}, error: (_o: object | string, msg?: string) => void logged.push(msg ?? '') };
    const transport = new TelegramTransport({ token: '7000000001:t', apiRoot, log }, () => undefined);
    const handle = transport.webhookHandler(SECRET, () => true);
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void handle(Object.assign(req, { rawBody: Buffer.concat(chunks) }), res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const update = JSON.stringify({ update_id: 1, message: { message_id: 1, date: 0, chat: { id: 1, type: 'private' }, text: 'hi' } });
      const res = await fetch(url, { method: 'POST', headers: { 'x-telegram-bot-api-secret-token': SECRET }, body: update });
      expect(res.status).toBe(500);
      expect(logged).toContain('telegram webhook update failed');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
