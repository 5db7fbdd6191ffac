/**
 * The secrets tenants hand us — their API keys, webhook secrets, credentials in a webhook URL,
 * console session cookies — never reach the logs, at the most talkative level, whatever the
 * request does with them: authenticates, fails to, puts them where they do not belong, or has a
 * webhook delivery fail. Configured secrets (the model key, platform tokens) are scrubbed by value
 * (test/core/logging.test.ts); these are made at run time, so only redaction and care keep them out.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ManualClock } from '../../src/core/clock.js';
import { OpenAIModel } from '../../src/llm/openai.js';
import { createLogger } from '../../src/log.js';
import { startRuntime, type Runtime } from '../../src/runtime.js';
import { startFakeOpenAI, type FakeOpenAI } from '../fakes/openai.js';
import { testDatabase } from '../helpers/harness.js';

const ADMIN = 'admin-key-for-log-secrets-0123456789';
const clock = new ManualClock();
const lines: string[] = [];
let fake: FakeOpenAI;
let rt: Runtime;
let hook: Server;
let hookUrl: string;
let hookCalls = 0;
let dropDatabase: (() => Promise<void>) | undefined;

async function send(method: string, path: string, o: { key?: string; headers?: Record<string, string>; body?: unknown; raw?: string } = {}) {
  const headers: Record<string, string> = { ...(o.key ? { 'x-api-key': o.key } : {}), ...o.headers };
  if (o.body !== undefined || o.raw !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${rt.url}${path}`, { method, headers, ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : o.raw !== undefined ? { body: o.raw } : {}) });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

beforeAll(async () => {
  fake = await startFakeOpenAI();
  // A webhook receiver that refuses every delivery, so each one is logged as failed and retried.
  hook = createServer((req, res) => {
    hookCalls++;
    req.resume();
    res.writeHead(500).end('no');
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  hookUrl = `127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const db = await testDatabase();
  dropDatabase = db.drop;
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, ADMIN_API_KEY: ADMIN, SSRF_ALLOW_HOSTS: '127.0.0.1', LOG_LEVEL: 'trace' });
  const log = createLogger({
    level: 'trace',
    secrets: config.secrets,
    destination: new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }),
  });
  const model = new OpenAIModel({ apiKey: fake.apiKey, baseURL: fake.baseURL, model: 'fake-model', timeoutMs: 5000, maxRetries: 0 }, clock);
  rt = await startRuntime(config, { log, clock, model });
});
afterAll(async () => {
  await rt?.shutdown('test');
  await fake?.close();
  await new Promise((r) => hook?.close(r));
  await dropDatabase?.();
});

describe('secrets made at run time stay out of the logs', () => {
  it('at trace level, through sign-ins, failed authentication, misplaced keys and failed webhooks', async () => {
    const webhookSecret = 'whsec-tenant-0123456789abcdef';
    const urlPassword = 'hunter2-in-the-url';
    const created = await send('POST', '/api/v1/api-keys', { key: ADMIN, body: { name: 'tenant', webhookUrl: `http://hooker:${urlPassword}@${hookUrl}`, webhookSecret } });
    expect(created.status, created.text).toBe(201);
    const { id, key } = JSON.parse(created.text) as { id: string; key: string };
    const generated = await send('POST', '/api/v1/api-keys', { key: ADMIN, body: { name: 'other', webhookUrl: `http://${hookUrl}` } });
    const other = JSON.parse(generated.text) as { key: string; webhookSecret: string };
    expect(other.webhookSecret.length).toBeGreaterThan(10); // made by us, shown once

    // The key as clients send it, and as they send it wrongly.
    expect((await send('POST', '/api/v1/chat', { key, body: { characterId: 'aria', message: 'hi' } })).status).toBe(200);
    expect((await send('POST', '/api/v1/chat', { headers: { authorization: `Bearer ${key}` }, body: { characterId: 'aria', message: 'again', mode: 'async' } })).status).toBe(202);
    expect((await send('GET', '/api/v1/characters', { headers: { authorization: key } })).status).toBe(401); // no "Bearer"
    expect((await send('GET', '/api/v1/characters', { key: `${key}x` })).status).toBe(401);
    expect((await send('GET', '/api/v1/characters', { headers: { 'x-api-key': `${key}, ${key}` } })).status).toBe(401);
    // Where a key does not belong: it comes back in the logged URL, scrubbed by its shape.
    expect((await send('GET', `/api/v1/characters?api_key=${key}&key=${key}x`, { key })).status).toBe(200);
    expect((await send('GET', `/api/v1/characters/${key}`, { key })).status).toBe(404);
    expect((await send('POST', '/api/v1/chat', { key, body: { characterId: key, message: 'x' } })).status).toBe(404);
    expect((await send('POST', '/api/v1/chat', { key, raw: `{"characterId":"${key}",` })).status).toBe(400);
    expect((await send('PATCH', `/api/v1/api-keys/${id}`, { key: ADMIN, body: { webhookSecret: `${webhookSecret}-2`, webhookUrl: `http://x:${urlPassword}@10.0.0.1/` } })).status).toBe(400);
    expect((await send('PATCH', `/api/v1/api-keys/${id}`, { key: ADMIN, body: { webhookSecret: `${webhookSecret}-2` } })).status).toBe(200);

    // The console: a key in, a session cookie out, and the cookie sent back.
    const signIn = await send('POST', '/console/session', { body: { key }, headers: { origin: rt.url } });
    expect(signIn.status, signIn.text).toBe(200);
    const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
    const session = cookie.split('=')[1]!;
    expect(session.length).toBeGreaterThan(10);
    expect((await send('GET', '/api/v1/conversations', { headers: { cookie } })).status).toBe(200);
    expect((await send('POST', '/console/session', { body: { key: `${key}x` }, headers: { origin: rt.url } })).status).toBe(401);

    // Webhooks (proactive messages of API sessions) fail, are logged, and are tried again.
    await rt.services.chat.drain();
    const sessionId = (JSON.parse((await send('GET', '/api/v1/conversations', { key })).text) as { conversations: Array<{ sessionId: string }> }).conversations[0]!.sessionId;
    expect((await send('POST', `/api/v1/conversations/${sessionId}/proactive/test`, { key })).status).toBe(200);
    for (let i = 0; i < 3; i++) {
      await rt.webhooks.processDue();
      clock.advance(60_000); // past the retry's back-off
    }
    expect(hookCalls).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => l.includes('webhook delivery failed'))).toBe(true);

    const all = lines.join('');
    expect(all).toContain(id); // the key's id is logged, as it should be
    for (const [what, secret] of Object.entries({ key, otherKey: other.key, webhookSecret, generatedSecret: other.webhookSecret, urlPassword, session, admin: ADMIN })) {
      expect(all.includes(secret), `${what} in the logs: ${lines.find((l) => l.includes(secret))}`).toBe(false);
    }
  });
});
