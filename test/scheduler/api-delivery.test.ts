import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ManualClock } from '../../src/core/clock.js';
import { OpenAIModel } from '../../src/llm/index.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { signWebhook } from '../../src/services/webhooks.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { startFakeProxy } from '../fakes/proxy.js';
import { testLogger } from '../helpers/harness.js';

const ADMIN = 'admin-key-0123456789abcdef';
const SECRET = 'whsec-0123456789abcdef';
const MIN = 60_000;

/** A webhook receiver on loopback that verifies signatures the way a customer would. */
class Receiver {
  server!: Server;
  url = '';
  received: Array<{ headers: IncomingMessage['headers']; body: string; validSignature: boolean }> = [];
  status = 200;
  async start(port = 0) {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        this.received.push({ headers: req.headers, body, validSignature: req.headers['x-webhook-signature'] === signWebhook(SECRET, body) });
        res.writeHead(this.status).end();
      });
    });
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

let fake: FakeOpenAI;
let receiver: Receiver;
let dir: string;
const runtimes: Runtime[] = [];

async function boot(clock: ManualClock, env: Record<string, string> = {}): Promise<Runtime> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: join(dir, 'cb.db'), ADMIN_API_KEY: ADMIN, SSRF_ALLOW_HOSTS: '127.0.0.1', ...env });
  const model = new OpenAIModel({ apiKey: fake.apiKey, baseURL: fake.baseURL, model: 'fake-model', timeoutMs: 5000, maxRetries: 0 }, clock);
  const rt = await startRuntime(config, { log: testLogger(), clock, model });
  runtimes.push(rt);
  return rt;
}

async function api(rt: Runtime, method: string, path: string, key: string, body?: unknown) {
  const res = await fetch(`${rt.url}${path}`, { method, headers: { 'x-api-key': key, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, body: (await res.json()) as any };
}

beforeEach(async () => {
  fake = await startFakeOpenAI({ responder: ({ messages }) => (JSON.stringify(messages).includes('[proactive]') ? 'Thinking of you — how was the trip?' : 'Have a great trip!') });
  receiver = new Receiver();
  await receiver.start();
  dir = mkdtempSync(join(tmpdir(), 'cb-api-'));
});
afterEach(async () => {
  while (runtimes.length) await runtimes.pop()!.shutdown('test');
  await receiver.stop();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

async function tenantWithSession(rt: Runtime) {
  const created = await api(rt, 'POST', '/api/v1/api-keys', ADMIN, { name: 'tenant', webhookUrl: receiver.url, webhookSecret: SECRET });
  expect(created.status).toBe(201);
  const key = created.body.key as string;
  const chat = await api(rt, 'POST', '/api/v1/chat', key, { characterId: 'aria', message: 'off on a trip tomorrow' });
  expect(chat.status).toBe(200);
  return { key, keyId: created.body.id as string, sessionId: chat.body.sessionId as string };
}

describe('proactive messages for API conversations', () => {
  it('lands in the updates feed and as a signed webhook a receiver can verify', async () => {
    const clock = new ManualClock();
    const rt = await boot(clock);
    const { key, sessionId } = await tenantWithSession(rt);
    clock.advance(240 * MIN);
    expect((await rt.scheduler.tick()).sent).toBe(1);
    await rt.webhooks.processDue();

    const feed = await api(rt, 'GET', `/api/v1/updates?sessionId=${sessionId}`, key);
    expect(feed.body.updates).toEqual([
      expect.objectContaining({ sessionId, characterId: 'preset_aria', kind: 'proactive', message: expect.objectContaining({ content: 'Thinking of you — how was the trip?' }) }),
    ]);
    expect(receiver.received).toHaveLength(1);
    const hit = receiver.received[0]!;
    expect(hit.validSignature).toBe(true);
    expect(hit.headers['x-webhook-event']).toBe('proactive_message');
    expect(hit.headers['x-webhook-id']).toMatch(/^evt_msg_/);
    expect(Number(hit.headers['x-webhook-timestamp'])).toBeGreaterThan(0);
    const payload = JSON.parse(hit.body);
    expect(payload).toEqual({
      event: 'proactive_message',
      timestamp: expect.any(String),
      data: { sessionId, characterId: 'preset_aria', characterName: 'Aria', message: { id: feed.body.updates[0].message.id, content: 'Thinking of you — how was the trip?', sentAt: expect.any(String) } },
    });
  });

  it('goes through the outbound proxy when one is set, to the address it vetted', async () => {
    const proxy = await startFakeProxy();
    try {
      const clock = new ManualClock();
      const rt = await boot(clock, { HTTP_PROXY: proxy.url });
      const { sessionId } = await tenantWithSession(rt);
      clock.advance(240 * MIN);
      expect((await rt.scheduler.tick()).sent).toBe(1);
      await rt.webhooks.processDue();
      expect(receiver.received).toHaveLength(1);
      expect(receiver.received[0]!.validSignature).toBe(true);
      expect(JSON.parse(receiver.received[0]!.body).data.sessionId).toBe(sessionId);
      expect(proxy.seen.map((r) => `${r.method} ${r.target}`)).toEqual([`POST ${receiver.url}`]);
    } finally {
      await proxy.close();
    }
  });

  it('sends a message a dead instance made but had not delivered on the next heartbeat, not at the next tick', async () => {
    const clock = new ManualClock();
    // A tick once a year: none runs during the test.
    const rt = await boot(clock, { HEARTBEAT_MS: '500', PROACTIVE_CRON: '0 0 1 1 *' });
    const { key, sessionId } = await tenantWithSession(rt);
    // What an instance killed between storing its message and sending it leaves: a claimed row.
    const msg = await rt.store.messages.append({ conversationId: sessionId, role: 'assistant', kind: 'proactive', content: 'Thinking of you', tokenCount: 4 });
    const row = await rt.store.proactive.addOutbox(sessionId, 'pending', clock.now(), false, msg.id);
    await rt.store.db.updateTable('proactive_outbox').set({ state: 'claimed', owner: 'killed-instance' }).where('id', '=', row).execute();

    // No tick runs: the heartbeat's sweep alone sends it, once.
    for (const deadline = Date.now() + 10_000; receiver.received.length === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 1200)); // two more heartbeats: nothing again
    expect(receiver.received.map((r) => JSON.parse(r.body).data.message.content)).toEqual(['Thinking of you']);
    expect(await rt.store.proactive.outboxFor(sessionId)).toMatchObject([{ state: 'delivered' }]);
    const feed = await api(rt, 'GET', `/api/v1/updates?sessionId=${sessionId}`, key);
    expect(feed.body.updates.filter((u: any) => u.kind === 'proactive').map((u: any) => u.message.content)).toEqual(['Thinking of you']);
  });

  it('retries a failing receiver with the same event id, then succeeds', async () => {
    const clock = new ManualClock();
    const rt = await boot(clock);
    const { key, sessionId } = await tenantWithSession(rt);
    receiver.status = 503;
    const sent = await api(rt, 'POST', `/api/v1/conversations/${sessionId}/proactive/test`, key);
    expect(sent.status).toBe(200);
    await rt.webhooks.processDue();
    expect(receiver.received).toHaveLength(1);
    clock.advance(1000);
    await rt.webhooks.processDue();
    expect(receiver.received).toHaveLength(1); // backoff not over yet
    clock.advance(1000);
    await rt.webhooks.processDue();
    receiver.status = 200;
    clock.advance(4000);
    await rt.webhooks.processDue();
    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.headers['x-webhook-id'])).size).toBe(1);
    clock.advance(60_000);
    await rt.webhooks.processDue();
    expect(receiver.received).toHaveLength(3);
  });

  it('disables the webhook after 5 failed deliveries until an admin re-enables it', async () => {
    const clock = new ManualClock();
    const rt = await boot(clock);
    const { key, keyId, sessionId } = await tenantWithSession(rt);
    receiver.status = 500;
    for (let i = 0; i < 5; i++) {
      expect((await api(rt, 'POST', `/api/v1/conversations/${sessionId}/proactive/test`, key)).status).toBe(200);
      for (let a = 0; a < 3; a++) {
        await rt.webhooks.processDue();
        clock.advance(10_000);
      }
    }
    expect(receiver.received).toHaveLength(15);
    const keys = await api(rt, 'GET', '/api/v1/api-keys', ADMIN);
    expect(keys.body.apiKeys ?? keys.body.keys ?? keys.body).toEqual(expect.arrayContaining([expect.objectContaining({ id: keyId, webhookDisabled: true })]));
    await api(rt, 'POST', `/api/v1/conversations/${sessionId}/proactive/test`, key);
    await rt.webhooks.processDue();
    expect(receiver.received).toHaveLength(15); // disabled: not even tried
    const patched = await api(rt, 'PATCH', `/api/v1/api-keys/${keyId}`, ADMIN, { webhookDisabled: false });
    expect(patched.body.webhookDisabled).toBe(false);
    receiver.status = 200;
    await api(rt, 'POST', `/api/v1/conversations/${sessionId}/proactive/test`, key);
    await rt.webhooks.processDue();
    expect(receiver.received).toHaveLength(16);
  });

  it('keeps undelivered webhooks in the outbox across a restart', async () => {
    const clock = new ManualClock();
    const rt = await boot(clock);
    const { key, sessionId } = await tenantWithSession(rt);
    const port = (receiver.server.address() as AddressInfo).port;
    await receiver.stop(); // receiver down: connection refused
    await api(rt, 'POST', `/api/v1/conversations/${sessionId}/proactive/test`, key);
    await rt.webhooks.processDue();
    await rt.shutdown('restart');
    runtimes.pop();
    await receiver.start(port);
    const rt2 = await boot(clock);
    clock.advance(5000);
    expect(await rt2.webhooks.processDue()).toBe(1);
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.validSignature).toBe(true);
  });

  it('reads and changes the policy over HTTP, with validation naming the field', async () => {
    const clock = new ManualClock();
    const rt = await boot(clock);
    const { key, sessionId } = await tenantWithSession(rt);
    const got = await api(rt, 'GET', `/api/v1/conversations/${sessionId}/proactive`, key);
    expect(got.body).toMatchObject({ sessionId, enabled: true, canInitiate: true, minIdleMinutes: 240, quietHours: null });
    const bad = await api(rt, 'PATCH', `/api/v1/conversations/${sessionId}/proactive`, key, { quietHours: { start: '23:00', end: '08:00', timezone: 'Mars/Olympus' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/quietHours.timezone/);
    const ok = await api(rt, 'PATCH', `/api/v1/conversations/${sessionId}/proactive`, key, { enabled: false, minIdleMinutes: 30, quietHours: { start: '23:00', end: '08:00', timezone: 'Europe/Berlin' } });
    expect(ok.body).toMatchObject({ enabled: false, minIdleMinutes: 30, quietHours: { timezone: 'Europe/Berlin' }, nextCheckAt: null });
    const other = await api(rt, 'POST', '/api/v1/api-keys', ADMIN, { name: 'other' });
    expect((await api(rt, 'GET', `/api/v1/conversations/${sessionId}/proactive`, other.body.key)).status).toBe(404);
    clock.advance(600 * MIN);
    expect((await rt.scheduler.tick()).sent).toBe(0);
  });
});

describe('proactive messages cost the key that owns the session', () => {
  it('charges a credit per proactive message, answers 402 for a key with none left, and skips a scheduled one', async () => {
    const clock = new ManualClock();
    const rt = await boot(clock);
    const created = await api(rt, 'POST', '/api/v1/api-keys', ADMIN, { name: 'thrifty', credits: 2 });
    const key = created.body.key as string;
    const keyId = created.body.id as string;
    const chat = await api(rt, 'POST', '/api/v1/chat', key, { characterId: 'aria', message: 'off on a trip tomorrow' });
    const sessionId = chat.body.sessionId as string;
    expect((await api(rt, 'POST', `/api/v1/conversations/${sessionId}/proactive/test`, key)).status).toBe(200);
    expect((await rt.store.apiKeys.get(keyId))?.creditsUsed).toBe(2);
    const refused = await api(rt, 'POST', `/api/v1/conversations/${sessionId}/proactive/test`, key);
    expect(refused.status).toBe(402);
    expect(refused.body.error.code).toBe('INSUFFICIENT_CREDITS');
    const modelCalls = fake.requests.length;
    clock.advance(24 * 60 * MIN);
    const report = await rt.scheduler.tick();
    expect(report).toMatchObject({ sent: 0, skipped: { 'no-credits': 1 } });
    expect(fake.requests.length).toBe(modelCalls); // no model call without credits
    expect((await rt.store.apiKeys.get(keyId))?.creditsUsed).toBe(2);
  });

  it('gives back the credit of a generation its instance died in before storing anything, and charges the one made again once', async () => {
    const clock = new ManualClock();
    const rt = await boot(clock);
    const created = await api(rt, 'POST', '/api/v1/api-keys', ADMIN, { name: 'tenant', credits: 5 });
    const key = created.body.key as string;
    const keyId = created.body.id as string;
    const chat = await api(rt, 'POST', '/api/v1/chat', key, { characterId: 'aria', message: 'off on a trip tomorrow' });
    const sessionId = chat.body.sessionId as string;
    expect((await rt.store.apiKeys.get(keyId))?.creditsUsed).toBe(1);
    clock.advance(240 * MIN);
    // Another instance began a generation, reserving its credit, and was killed before the model answered.
    await rt.store.db.updateTable('conversations').set({ proactive_lease_until: clock.now() + 5 * MIN, proactive_lease_owner: 'killed-instance' }).where('id', '=', sessionId).execute();
    expect(await rt.store.proactive.addGeneration(sessionId, clock.now(), false, 'killed-instance', 5 * MIN, { apiKeyId: keyId, cost: 1 })).toEqual(expect.any(Number));
    expect((await rt.store.apiKeys.get(keyId))?.creditsUsed).toBe(2);
    expect(await rt.scheduler.tick()).toMatchObject({ sent: 1 });
    expect((await rt.store.proactive.outboxFor(sessionId)).map((r) => r.state)).toEqual(['abandoned', 'delivered']);
    expect((await rt.store.apiKeys.get(keyId))?.creditsUsed).toBe(2); // the reply and the one proactive message
  });

  it('keeps a tenant within the floors (one an hour, 24 a day); the admin is not held to them', async () => {
    const clock = new ManualClock();
    const rt = await boot(clock);
    const { key, sessionId } = await tenantWithSession(rt);
    const tooOften = await api(rt, 'PATCH', `/api/v1/conversations/${sessionId}/proactive`, key, { minGapMinutes: 5 });
    expect(tooOften.status).toBe(400);
    expect(tooOften.body.error.message).toMatch(/minGapMinutes must be at least 60/);
    expect((await api(rt, 'PATCH', `/api/v1/conversations/${sessionId}/proactive`, key, { dailyCap: 100 })).body.error.details.field).toBe('dailyCap');
    const byAdmin = await api(rt, 'PATCH', `/api/v1/conversations/${sessionId}/proactive`, ADMIN, { minGapMinutes: 5, dailyCap: 100 });
    expect(byAdmin.status).toBe(200);
    // The admin may write what it likes on a tenant's session; the tenant's session still sends within the floors.
    expect(byAdmin.body).toMatchObject({ minGapMinutes: 60, dailyCap: 24, overrides: { minGapMinutes: 5, dailyCap: 100 } });
  });
});
