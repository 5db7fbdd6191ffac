/**
 * Three instances on one PostgreSQL and one Redis: a redelivered update answered once, a chat's
 * updates spread over the instances answered in order and one at a time, limits counted across
 * instances, a feed long-poll woken by another instance, one Idempotency-Key sent to two
 * instances at once answered by one model call.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentText } from '../fakes/openai.js';
import { hasPostgres, hasRedis } from '../helpers/services.js';
import { waitFor } from '../adapters/telegram/world.js';
import { ADMIN, startCluster, type Cluster } from './cluster-world.js';

const GROUP = { id: -100555, type: 'supergroup' as const, title: 'Crew' };
const MENTION = '@charbridge_test_bot';

describe.skipIf(!hasPostgres() || !hasRedis())('three instances on one PostgreSQL and one Redis', () => {
  let c: Cluster;
  /** Model calls running at once per chat, and the most ever seen. */
  const active = new Map<string, number>();
  let mostAtOnce = 0;

  beforeAll(async () => {
    c = await startCluster(3, { RATE_LIMIT_USER_PER_MIN: '5', RATE_LIMIT_API_KEY_PER_MIN: '1000', SSRF_ALLOW_HOSTS: '127.0.0.1' });
    c.openai.respondWith(async ({ messages }) => {
      const last = contentText(messages.filter((m: any) => m.role === 'user').at(-1)?.content ?? '');
      const chat = /chat(\d+)/.exec(last)?.[1] ?? 'other';
      const now = (active.get(chat) ?? 0) + 1;
      active.set(chat, now);
      mostAtOnce = Math.max(mostAtOnce, now);
      await new Promise((r) => setTimeout(r, 40));
      active.set(chat, (active.get(chat) ?? 1) - 1);
      return `re: ${last.replace(MENTION, '').replace(/^User \d+: /, '').trim()}`;
    });
  });
  afterAll(async () => {
    await c?.close();
  });

  it('answers an update delivered to two instances at once exactly once', async () => {
    const update = c.telegram.buildUserMessage({ chat: { id: 501, type: 'private' }, from: { id: 501 }, text: 'twice chat501' });
    const [a, b] = await Promise.all([c.post(0, update), c.post(1, update)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await waitFor(() => c.telegram.botMessages(501).length >= 1);
    // The other copy was dropped at its claim; a third delivery later is dropped too.
    expect((await c.post(2, update)).status).toBe(200);
    await Promise.all(c.instances.map((r) => r.engine.drain(5000)));
    await Promise.all(c.instances.map((r) => r.adapters[0]!.settled()));
    expect(c.telegram.botMessages(501).map((m) => m.text)).toEqual(['re: twice chat501']);
  });

  it("answers one chat's updates, spread over three instances, in order and one at a time", async () => {
    mostAtOnce = 0;
    const texts = Array.from({ length: 10 }, (_, i) => `${MENTION} step ${i} chat777`);
    // Telegram sends a chat's next update once the previous one was confirmed (the 200).
    for (const [i, text] of texts.entries()) {
      const update = c.telegram.buildUserMessage({ chat: GROUP, from: { id: 900 + i }, text });
      expect((await c.post(i % 3, update)).status).toBe(200);
    }
    await waitFor(() => c.telegram.botMessages(GROUP.id).length === 10, 20_000, () => `10 replies, got ${c.telegram.botMessages(GROUP.id).length}`);
    expect(c.telegram.botMessages(GROUP.id).map((m) => m.text)).toEqual(texts.map((_, i) => `re: step ${i} chat777`));
    expect(mostAtOnce).toBe(1);
  });

  it('counts a user’s rate limit across instances: 15 messages, 5 answered, one notice', async () => {
    for (let i = 0; i < 15; i++) {
      const update = c.telegram.buildUserMessage({ chat: { id: 502, type: 'private' }, from: { id: 502 }, text: `burst ${i} chat502` });
      expect((await c.post(i % 3, update)).status).toBe(200);
    }
    await Promise.all(c.instances.map((r) => r.engine.drain(10_000)));
    await Promise.all(c.instances.map((r) => r.adapters[0]!.settled()));
    const texts = c.telegram.botMessages(502).map((m) => m.text);
    expect(texts.filter((t) => t.startsWith('re: burst'))).toHaveLength(5);
    expect(texts.filter((t) => !t.startsWith('re: burst'))).toHaveLength(1); // the one "slow down" notice
  });

  it("wakes a long-poll on one instance when another writes the feed entry", async () => {
    const tenant = await c.api(0, 'POST', '/api/v1/api-keys', ADMIN, { name: 'feed', credits: 100 });
    const key = tenant.body.key as string;
    const first = await c.api(0, 'GET', '/api/v1/updates', key);
    const cursor = first.body.cursor as string;
    const startedAt = Date.now();
    const poll = c.api(0, 'GET', `/api/v1/updates?cursor=${cursor}&wait=25`, key);
    await waitFor(() => c.instances[0]!.store.updates.waiting === 1, 5000, 'the long-poll to park');
    const sent = await c.api(1, 'POST', '/api/v1/chat', key, { characterId: 'aria', message: 'async chat601', mode: 'async' });
    expect(sent.status).toBe(202);
    const got = await poll;
    expect(got.status).toBe(200);
    expect(got.body.updates.map((u: any) => u.message?.content)).toEqual(['re: async chat601']);
    // Woken by the other instance's write, not by the 25 s wait running out.
    expect(Date.now() - startedAt).toBeLessThan(25_000);
  });

  it('answers one Idempotency-Key sent to two instances at once with one model call', async () => {
    const tenant = await c.api(0, 'POST', '/api/v1/api-keys', ADMIN, { name: 'idem', credits: 100 });
    const key = tenant.body.key as string;
    const before = c.openai.requests.length;
    const body = { characterId: 'aria', message: 'once chat602' };
    const headers = { 'idempotency-key': 'cluster-idem-1' };
    const [a, b] = await Promise.all([c.api(0, 'POST', '/api/v1/chat', key, body, headers), c.api(2, 'POST', '/api/v1/chat', key, body, headers)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body).toEqual(b.body);
    expect(c.openai.requests.length - before).toBe(1);
    const usage = await c.api(0, 'GET', '/api/v1/api-keys', ADMIN);
    expect(usage.body.apiKeys.find((k: any) => k.name === 'idem').creditsUsed).toBe(1);
  });

  it('posts a webhook exactly three times under one X-Webhook-Id when the receiver fails twice, whichever instance retries', async () => {
    const ids: string[] = [];
    const receiver = createServer((req, res) => {
      ids.push(String(req.headers['x-webhook-id']));
      req.resume().on('end', () => res.writeHead(ids.length <= 2 ? 500 : 200).end());
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const tenant = await c.api(0, 'POST', '/api/v1/api-keys', ADMIN, { name: 'hooked', credits: 10, webhookUrl: url, webhookSecret: 'whsec-0123456789abcdef' });
      expect(tenant.status).toBe(201);
      const chat = await c.api(1, 'POST', '/api/v1/chat', tenant.body.key, { characterId: 'aria', message: 'hook me chat603' });
      expect(chat.status).toBe(200);
      // A proactive message of an API session goes to the key's webhook (through the outbox).
      expect((await c.api(2, 'POST', `/api/v1/conversations/${chat.body.sessionId}/proactive/test`, tenant.body.key)).status).toBe(200);
      await waitFor(() => ids.length >= 3, 20_000, () => `3 webhook POSTs, got ${ids.length}`);
      // Every instance looks at the outbox once more: nothing is left to send.
      await Promise.all(c.instances.map((r) => r.webhooks.processDue()));
      expect(ids).toHaveLength(3);
      expect(new Set(ids).size).toBe(1);
    } finally {
      receiver.closeAllConnections();
      await new Promise((r) => receiver.close(r));
    }
  }, 30_000);
});
