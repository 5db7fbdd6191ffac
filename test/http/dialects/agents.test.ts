/** The agent chat API at /v1/api/chat/{slug}, read like its documentation's curl examples. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoResponder } from '../../fakes/openai.js';
import { validCharacter } from '../helpers.js';
import { fakeUsage, readSse, startLive, type Json, type LiveApi } from './helpers.js';

const RATE_LIMIT = 10;
let h: LiveApi;
beforeAll(async () => {
  // gpt-4 is allowed beside the configured model, so a tenant's agent may name it.
  h = await startLive({ RATE_LIMIT_API_KEY_PER_MIN: String(RATE_LIMIT), MODEL_ALLOWLIST: 'fake-model,gpt-4' });
});
afterAll(() => h.close());

const agentChat = (key: string, slug: string, body: Json) => h.json('POST', `/v1/api/chat/${slug}`, { key, body });

/** A tenant key with its own "Support Agent" (slug support-agent). */
async function tenantWithAgent(over: Json = {}) {
  const k = await h.newKey();
  const agent = await h.json('POST', '/api/v1/characters', { key: k.key, body: validCharacter({ name: 'Support Agent', ...over }) });
  expect(agent.body.slug).toBe('support-agent');
  return k;
}

describe('POST /v1/api/chat/{slug}', () => {
  it('basic chat: {data:{response, conversationId, metadata:{model, tokens}}, error:null}, then continue', async () => {
    const k = await tenantWithAgent();
    const res = await agentChat(k.key, 'support-agent', { message: 'What are your business hours?', stream: false });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      data: {
        response: 'Echo: What are your business hours?',
        conversationId: expect.stringMatching(/^conv_/),
        metadata: { model: 'fake-model', tokens: fakeUsage(h, 'Echo: What are your business hours?').totalTokens },
      },
      error: null,
    });
    expect(res.headers.get('x-conversation-id')).toBe(res.body.data.conversationId);
    const { conversationId } = res.body.data;
    const more = await agentChat(k.key, 'support-agent', { message: 'Can you elaborate on that?', stream: false, conversationId });
    expect(more.body.data).toMatchObject({ conversationId, response: 'Echo: Can you elaborate on that?' });
    expect(JSON.stringify(h.fake.requests.at(-1)?.body.messages)).toContain('business hours');
    // null (or absent) starts a new conversation.
    const fresh = await agentChat(k.key, 'support-agent', { message: 'Hello', conversationId: null });
    expect(fresh.body.data.conversationId).not.toBe(conversationId);
    expect(JSON.stringify(h.fake.requests.at(-1)?.body.messages)).not.toContain('business hours');
  });

  it("metadata.model is the agent's own model when it has one", async () => {
    const k = await tenantWithAgent({ model: 'gpt-4' });
    const res = await agentChat(k.key, 'support-agent', { message: 'hi' });
    expect(res.body.data.metadata.model).toBe('gpt-4');
    expect(h.fake.requests.at(-1)?.body.model).toBe('gpt-4');
  });

  it('stream: data {"chunk"} per delta, then [DONE], with X-Conversation-Id to continue', async () => {
    const k = await tenantWithAgent();
    h.fake.respondWith('Hello there! How can I help?');
    try {
      const res = await h.send('POST', '/v1/api/chat/support-agent', { key: k.key, body: { message: 'Hello', stream: true } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const conversationId = res.headers.get('x-conversation-id');
      expect(conversationId).toMatch(/^conv_/);
      expect(await readSse(res)).toEqual(['{"chunk":"Hello "}', '{"chunk":"there! "}', '{"chunk":"How "}', '{"chunk":"can "}', '{"chunk":"I "}', '{"chunk":"help?"}', '[DONE]']);
      h.fake.respondWith(echoResponder);
      const next = await agentChat(k.key, 'support-agent', { message: 'Follow-up question', conversationId });
      expect(next.body.data.conversationId).toBe(conversationId);
      expect(JSON.stringify(h.fake.requests.at(-1)?.body.messages)).toContain('How can I help?');
    } finally {
      h.fake.respondWith(echoResponder);
    }
  });

  it('stream: a model failure is an {"error"} event, then [DONE]', async () => {
    const k = await tenantWithAgent();
    h.fake.failNext(1, { status: 500 });
    const data = await readSse(await h.send('POST', '/v1/api/chat/support-agent', { key: k.key, body: { message: 'fail', stream: true } }));
    expect(data.at(-1)).toBe('[DONE]');
    expect(JSON.parse(data[0]!)).toEqual({ error: { name: 'ServerError', message: expect.any(String), details: { code: 'MODEL_ERROR' } } });
  });
});

describe('errors: {"data":null,"error":{"name","message","details"}}', () => {
  it('ValidationError, UnauthorizedError, NotFoundError (the seed\'s message), RateLimitError, ServerError', async () => {
    const k = await tenantWithAgent();
    const fail = (status: number, name: string, message: unknown = expect.any(String)) => ({
      status,
      body: { data: null, error: { name, message, details: expect.any(Object) } },
    });
    const pick = (r: { status: number; body: Json }) => ({ status: r.status, body: r.body });

    expect(pick(await agentChat(k.key, 'support-agent', { stream: false }))).toEqual(fail(400, 'ValidationError', 'Message field is required'));
    expect(pick(await agentChat(k.key, 'support-agent', { message: 'hi', stream: 'yes' }))).toEqual(fail(400, 'ValidationError'));
    expect(pick(await agentChat('', 'support-agent', { message: 'hi' }))).toEqual(fail(401, 'UnauthorizedError'));
    expect(pick(await agentChat('cb_wrong', 'support-agent', { message: 'hi' }))).toEqual(fail(401, 'UnauthorizedError'));
    expect(pick(await agentChat(k.key, 'sales-bot', { message: 'hi' }))).toEqual({
      status: 404,
      body: { data: null, error: { name: 'NotFoundError', message: "Agent with slug 'sales-bot' not found", details: { code: 'AGENT_NOT_FOUND' } } },
    });
    expect(pick(await agentChat(k.key, 'support-agent', { message: 'hi', conversationId: 'conv_unknown' }))).toEqual(fail(404, 'NotFoundError'));
    const ariaConv = (await agentChat(k.key, 'aria', { message: 'hi' })).body.data.conversationId; // presets are agents too
    expect(pick(await agentChat(k.key, 'support-agent', { message: 'hi', conversationId: ariaConv }))).toEqual(fail(409, 'ValidationError'));
    h.fake.failNext(1, { status: 500 });
    const failed = await agentChat(k.key, 'support-agent', { message: 'hi' });
    expect(pick(failed)).toEqual(fail(502, 'ServerError'));
    expect(failed.headers.get('x-conversation-id')).toMatch(/^conv_/); // the conversation to retry in
    expect(pick(await h.json('GET', '/v1/api/chat/support-agent', { key: k.key }))).toEqual(fail(404, 'NotFoundError'));
    const broke = await h.newKey({ credits: 0 });
    const noCredits = await agentChat(broke.key, 'aria', { message: 'hi' });
    expect(pick(noCredits)).toEqual(fail(402, 'RateLimitError'));
    expect(noCredits.body.error.details.code).toBe('INSUFFICIENT_CREDITS');

    let limited: { status: number; body: Json; headers: Headers } | undefined;
    for (let i = 0; i <= RATE_LIMIT && !limited; i++) {
      const r = await agentChat(k.key, 'support-agent', { message: `n${i}` });
      if (r.status === 429) limited = r;
    }
    expect(limited && pick(limited)).toEqual(fail(429, 'RateLimitError'));
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('tenant isolation across dialects', () => {
  it("another tenant's agent is not found; a conversation is the key's in v1 and the user/group chat API, a 404 for other keys", async () => {
    const a = await tenantWithAgent();
    const b = await h.newKey();
    expect((await agentChat(b.key, 'support-agent', { message: 'hi' })).body.error.message).toBe("Agent with slug 'support-agent' not found");
    const conv = (await agentChat(a.key, 'support-agent', { message: 'mine' })).body.data.conversationId;
    const v1 = await h.json('GET', `/api/v1/conversations/${conv}`, { key: a.key });
    expect(v1.body.messages.map((m: Json) => m.content)).toEqual(['mine', 'Echo: mine']);
    expect((await h.json('GET', `/api/conversations/${conv}`, { key: a.key })).body.data.messages).toHaveLength(2);
    expect((await h.json('GET', `/api/v1/conversations/${conv}`, { key: b.key })).status).toBe(404);
    expect((await h.json('GET', `/api/conversations/${conv}`, { key: b.key })).status).toBe(404);
    expect((await agentChat(b.key, 'aria', { message: 'hijack', conversationId: conv })).body.error.name).toBe('NotFoundError');
  });
});
